"""The API benchmark's command: the database loaded (or reused), every endpoint measured, the report."""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.api import dataset
from benchmarks.api.report import describe_setup, print_report, progress_line
from benchmarks.api.scenarios import issue_tokens, scenarios
from benchmarks.api.server import free_port, served
from benchmarks.api.wrk import Result, Scenario, measure
from benchmarks.common import BenchmarkError, database_url, default_timescale_url, say, scalar
from benchmarks.machine import children_of
from core import db

DESCRIPTION = "API benchmark: latency and throughput of the read endpoints on a month of a 10,000-lamp town."


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
    parser.add_argument("--only", help="measure only the scenarios whose label contains this text")
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


def measure_all(args: argparse.Namespace, url: str, chosen: list[Scenario], tokens: list[str]) -> list[Result]:
    """Serve the application and measure each chosen scenario in turn."""
    port = free_port()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmp_dir = Path(tmp)
        log_path = tmp_dir / "uvicorn.log"
        serving = served(
            url,
            workers=args.workers,
            port=port,
            log_path=log_path,
            pool_size=args.pool_size,
            http=args.http,
            loop=args.loop,
        )
        with serving as server:
            server_pids = [server.pid, *children_of(server.pid)]
            base_url = f"http://127.0.0.1:{port}"
            for scenario in chosen:
                say(f"  {scenario.label}: {args.clients} clients, {args.warmup} s warm-up + {args.duration} s ...")
                result = measure(
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
                results.append(result)
                say(progress_line(result))
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if shutil.which("wrk") is None:
        raise BenchmarkError("the load comes from wrk: apt-get install wrk")
    url, first_ts, last_ts = prepare_database(args)
    tokens = issue_tokens(url, args.clients)
    all_scenarios = scenarios(url, first_ts, last_ts, random.Random(args.seed))
    chosen = [s for s in all_scenarios if not args.only or args.only in s.label]
    results = measure_all(args, url, chosen, tokens)
    return print_report(describe_setup(url, args), results, args.clients)
