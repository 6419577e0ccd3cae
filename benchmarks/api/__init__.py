"""API benchmark: latency and throughput of the read endpoints on a month of a 10,000-lamp town.

The real application runs under uvicorn in a process of its own. wrk (Debian package ``wrk``,
installed by the benchmark when run as root) drives each endpoint closed-loop; a generator of
our own (``open_loop``) then offers it a constant request rate. Run it with
``python -m benchmarks.api`` (``--help`` for the options); what it measures, and the latest
figures, are in docs/performance.md.
"""
