"""Ingest benchmark: lamp telemetry over MQTT into TimescaleDB, end to end, nothing lost.

Run it with ``python -m benchmarks.ingest`` (``--help`` for the options); what each
run measures, and the latest figures, are in docs/performance.md.
"""
