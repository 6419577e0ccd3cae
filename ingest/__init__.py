"""Telemetry ingest: MQTT messages decoded, batched and stored, acknowledged after commit.

What the other packages may use is named here; `ingest.cli` holds its command.
"""

from ingest.service import IngestConfig, Ingester, IngestStats, run_ingester

__all__ = ["IngestConfig", "IngestStats", "Ingester", "run_ingester"]
