"""The ingest benchmark's command-line options, their defaults and the --quick sizes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import DEFAULT_MQTT_URL, default_timescale_url
from benchmarks.ingest.load import PUBLISHERS

# Before each run, wait for other work on the machine to fall below this share.
QUIET_BELOW = 0.10

RUNS = ("broker", "broker-backlog", "naive", "single", "batched", "backlog", "lag")
FULL = dict(
    messages=300_000,
    lamps=10_000,
    naive_messages=20_000,
    lag_rate=10_000,
    lag_seconds=20.0,
    repeat=3,
    quiet_wait_s=300.0,
)
QUICK = dict(
    messages=20_000, lamps=1_000, naive_messages=2_000, lag_rate=2_000, lag_seconds=5.0, repeat=1, quiet_wait_s=15.0
)
POSITIVE = (
    "messages",
    "lamps",
    "publishers",
    "batch_readings",
    "batched_ingesters",
    "lag_rate",
    "lag_seconds",
    "lag_ingesters",
    "naive_messages",
)


@dataclass
class Options:
    timescale_url: str
    mqtt_url: str
    messages: int
    lamps: int
    publishers: int
    publisher: str
    ingesters: list[int]
    backlog_ingesters: list[int]
    batch_readings: int
    batched_ingesters: int
    lag_rate: int
    lag_seconds: float
    lag_ingesters: int
    naive_messages: int
    batch_size: int | None
    flush_interval_s: float | None
    py_spy_dir: Path | None
    quiet_wait_s: float
    repeat: int
    skip: set[str] = field(default_factory=set)


def _counts(parser: argparse.ArgumentParser, option: str, value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        counts = [0]
    if not counts or any(n < 1 for n in counts):
        parser.error(f"{option} takes a comma-separated list of process counts, e.g. 1,2,3")
    return counts


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timescale-url",
        default=default_timescale_url(),
        help="admin URL of the TimescaleDB server; one database per run is created there and dropped "
        "(default: $STREETLIGHT_TEST_TIMESCALE_URL or %(default)s)",
    )
    parser.add_argument("--mqtt-url", default=DEFAULT_MQTT_URL, help="broker (default %(default)s)")
    parser.add_argument(
        "--messages",
        type=int,
        help="readings per saturated run, also the broker-ceiling message count (default 300000)",
    )
    parser.add_argument("--lamps", type=int, help="lamp ids registered and published to (default 10000)")
    parser.add_argument("--publishers", type=int, default=1, help="load-generator processes (default %(default)s)")
    parser.add_argument(
        "--publisher",
        choices=sorted(PUBLISHERS),
        default="raw",
        help="load generator: raw (MQTT 3.1.1 written straight to a socket, packets built before the run)"
        " or paho (paho-mqtt) (default %(default)s)",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ingesters",
        default="1,2",
        help="ingester process counts for the one-reading-per-message runs (default %(default)s)",
    )
    parser.add_argument(
        "--backlog-ingesters",
        default="1,2",
        help="ingester process counts for the backlog runs: load queued while the ingesters are "
        "paused, then drained (default %(default)s)",
    )
    parser.add_argument(
        "--batch-readings", type=int, default=60, help="readings per message in the batched run (default %(default)s)"
    )
    parser.add_argument(
        "--batched-ingesters", type=int, default=1, help="ingester processes in the batched run (default %(default)s)"
    )
    parser.add_argument("--lag-rate", type=int, help="readings/s of the paced lag run (default 10000)")
    parser.add_argument("--lag-seconds", type=float, help="length of the paced lag run (default 20)")
    parser.add_argument(
        "--lag-ingesters", type=int, default=1, help="ingester processes in the paced lag run (default %(default)s)"
    )
    parser.add_argument("--naive-messages", type=int, help="messages for the naive ingester (default 20000)")
    parser.add_argument("--batch-size", type=int, help="STREETLIGHT_INGEST_BATCH_SIZE for the ingesters")
    parser.add_argument("--flush-interval-s", type=float, help="STREETLIGHT_INGEST_FLUSH_INTERVAL_S for the ingesters")


def _add_measurement_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeat",
        type=int,
        help="run each measurement this many times and report the median by readings/s, with the range"
        " (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        help="before each run, wait up to this long for other work to drop below"
        f" {QUIET_BELOW * 100:.0f}%% of the machine (default 300; 15 with --quick; the share is printed anyway)",
    )
    parser.add_argument("--skip", default="", help=f"comma-separated runs to leave out: {','.join(RUNS)}")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample every ingester with py-spy (installed separately) into DIR, raw folded stacks",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts for a smoke run under a minute: 20000 readings, 1000 lamps, 2000 naive "
        "messages, lag run at 2000/s for 5 s, no repeats (explicit options still win)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest",
        description="Measure end-to-end MQTT-to-TimescaleDB ingest: sustained readings/s with nothing lost, "
        "ingest lag, and two references (a naive ingester, the broker's own delivery rate).",
    )
    _add_load_options(parser)
    _add_run_options(parser)
    _add_measurement_options(parser)
    return parser


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:  # explicit options win over --quick
            setattr(args, key, value)
    for key in POSITIVE:
        if getattr(args, key) <= 0:
            parser.error(f"--{key.replace('_', '-')} must be positive")
    skip = {v.strip() for v in args.skip.split(",") if v.strip()}
    if skip - set(RUNS):
        parser.error(f"--skip: unknown run(s) {', '.join(sorted(skip - set(RUNS)))}; choose from {', '.join(RUNS)}")
    return Options(
        timescale_url=args.timescale_url,
        mqtt_url=args.mqtt_url,
        messages=args.messages,
        lamps=args.lamps,
        publishers=args.publishers,
        publisher=args.publisher,
        ingesters=_counts(parser, "--ingesters", args.ingesters),
        backlog_ingesters=_counts(parser, "--backlog-ingesters", args.backlog_ingesters),
        batch_readings=args.batch_readings,
        batched_ingesters=args.batched_ingesters,
        lag_rate=args.lag_rate,
        lag_seconds=args.lag_seconds,
        lag_ingesters=args.lag_ingesters,
        naive_messages=args.naive_messages,
        batch_size=args.batch_size,
        flush_interval_s=args.flush_interval_s,
        py_spy_dir=args.py_spy,
        quiet_wait_s=args.quiet_wait_s,
        repeat=args.repeat,
        skip=skip,
    )
