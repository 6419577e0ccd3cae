"""The API benchmark's command: the database loaded (or reused), every endpoint measured, the report."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.api import dataset
from benchmarks.api.open_loop import measure_open_loop
from benchmarks.api.report import Measured, describe_setup, open_loop_progress_line, print_report, progress_line
from benchmarks.api.scenarios import issue_tokens, scenarios
from benchmarks.api.server import free_port, served
from benchmarks.api.wrk import Scenario, ensure_installed, measure
from benchmarks.common import database_url, default_timescale_url, say, scalar
from benchmarks.machine import children_of
from core import db

DESCRIPTION = (
    "API benchmark: latency and throughput of the read endpoints on a month of a 10,000-lamp town,"
    " closed-loop against the token floor and at an open-loop offered rate."
)
SETTLE_S = 1.0  # between wrk and the open loop: the server finishes what wrk left in flight


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=DESCRIPTION)
    parser.add_argument("--admin-url", default=default_timescale_url())
    parser.add_argument("--lamps", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--reload", action="store_true", help="rebuild the database even if it is loaded")
    parser.add_argument("--loaders", type=int, default=3, help="parallel COPY connections for the load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (streetlight serve runs one)")
    parser.add_argument(
        "--pool-size", type=int, help="database connections per worker (default: the service's db_pool_size setting)"
    )
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"], help="uvicorn's HTTP parser")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="uvicorn's event loop")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each measurement")
    parser.add_argument(
        "--open-loop-rate", type=float, default=200.0, help="requests/s offered in the open-loop measurement"
    )
    parser.add_argument("--open-loop-duration", type=int, default=20, help="seconds of open-loop load per endpoint")
    parser.add_argument(
        "--open-loop-connections", type=int, default=50, help="keep-alive connections of the open-loop generator"
    )
    parser.add_argument(
        "--only",
        help="measure only the scenarios whose label contains this text (and the token floor, which the shares need)",
    )
    parser.add_argument("--seed", type=int, default=1)
    return parser


def prepare_database(args: argparse.Namespace) -> tuple[str, datetime, datetime]:
    """The benchmark database as loaded before, or loaded now; its URL and the span of its readings."""
    db.wait_for_database(args.admin_url, timeout_s=60)
    name = dataset.database_name(args.lamps, args.days)
    url = database_url(args.admin_url, name)
    span = None if args.reload else dataset.loaded_data(url, args.lamps, args.days)
    if span is None:
        say(f"loading {args.lamps:,} lamps x {args.days} days into {name}")
        began = time.monotonic()
        span = dataset.load(
            args.admin_url, name, lamps=args.lamps, days=args.days, loaders=args.loaders, seed=args.seed
        )
        say(f"  loaded in {time.monotonic() - began:.0f} s")
    else:
        say(f"using {name} as loaded (--reload to rebuild)")
        db.upgrade(url)  # migrations added since the load
    first_ts, last_ts = span
    with db.connect(url) as conn:
        rows = scalar(conn, "SELECT count(*) FROM readings")
        month_rows = scalar(
            conn,
            "SELECT count(*) FROM readings WHERE ts >= date_trunc('month', now() AT TIME ZONE 'Europe/Paris')"
            " AT TIME ZONE 'Europe/Paris'",
        )
    age = datetime.now(UTC) - last_ts
    say(
        f"data: {rows:,} readings from {first_ts:%Y-%m-%d %H:%M} to {last_ts:%Y-%m-%d %H:%M} UTC;"
        f" {month_rows:,} in this month (the fleet summary's energy)"
    )
    if age > timedelta(hours=6):
        say(f"  note: the data ends {age.total_seconds() / 3600:.0f} h ago; --reload for figures at today's volume")
    return url, first_ts, last_ts


def measure_scenario(
    args: argparse.Namespace,
    base_url: str,
    scenario: Scenario,
    tokens: list[str],
    server_pids: list[int],
    url: str,
    tmp_dir: Path,
) -> Measured:
    """One scenario closed-loop (wrk), then open-loop when the scenario is offered the open-loop rate."""
    say(f"  {scenario.label}: {args.clients} clients, {args.warmup} s warm-up + {args.duration} s ...")
    closed = measure(
        base_url,
        scenario,
        tokens,
        clients=args.clients,
        duration_s=args.duration,
        warmup_s=args.warmup,
        server_pids=server_pids,
        database_url=url,
        script_dir=tmp_dir,
    )
    say(progress_line(closed))
    if not scenario.open_loop:
        return Measured(scenario, closed)
    time.sleep(SETTLE_S)
    open_loop = measure_open_loop(
        base_url,
        scenario,
        tokens,
        rate_per_s=args.open_loop_rate,
        duration_s=args.open_loop_duration,
        connections=args.open_loop_connections,
        script_dir=tmp_dir,
    )
    say(open_loop_progress_line(open_loop))
    return Measured(scenario, closed, open_loop)


def measure_all(args: argparse.Namespace, url: str, chosen: list[Scenario], tokens: list[str]) -> list[Measured]:
    """Serve the application and measure each chosen scenario in turn."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmp_dir = Path(tmp)
        serving = served(
            url,
            workers=args.workers,
            port=port,
            log_path=tmp_dir / "uvicorn.log",
            pool_size=args.pool_size,
            http=args.http,
            loop=args.loop,
        )
        with serving as server:
            server_pids = [server.pid, *children_of(server.pid)]
            base_url = f"http://127.0.0.1:{port}"
            return [measure_scenario(args, base_url, s, tokens, server_pids, url, tmp_dir) for s in chosen]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ensure_installed("wrk", "wrk", say=say)  # the closed loop's load; the open loop's is our own generator
    url, first_ts, last_ts = prepare_database(args)
    tokens = issue_tokens(url, args.clients)
    all_scenarios = scenarios(url, first_ts, last_ts, random.Random(args.seed))
    chosen = [s for s in all_scenarios if not args.only or args.only in s.label or s.token_floor]
    measured = measure_all(args, url, chosen, tokens)
    return print_report(describe_setup(url, args), measured, args.clients, args.open_loop_rate)
