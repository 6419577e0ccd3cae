"""A city of 200,000 lamps through every path, each figure beside a floor measured in the same run.

Builds (or reuses) a database with the simulator's town of 200,000 lamps and two days of
its readings every 10 minutes, then measures: the nightly scoring; single requests to
the served application (not under load) with an administrator's token; the console's
dashboard in headless Chromium until its map shows every lamp; the server's resident
memory throughout; the inventory import of the whole city (`benchmarks.inventory_import`);
a town-wide dimming change pushed to every controller (`benchmarks.dimming`).
What it measures, and the latest figures, are in docs/performance.md.

    .venv/bin/python -m benchmarks.city                 # 200,000 lamps; the database is kept
    .venv/bin/python -m benchmarks.city --quick         # 20,000 lamps, fewer repetitions
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.api.server import free_port, served
from benchmarks.city import browser, heavy, requests
from benchmarks.city.build import City, city
from benchmarks.city.memory import RssSampler
from benchmarks.city.report import Row, memory_rows, table
from benchmarks.common import DEFAULT_MQTT_URL, BenchmarkError, default_timescale_url, say
from benchmarks.machine import describe_machine
from core import db

QUICK_LAMPS = 20_000
MEMORY_TARGET_BYTES = 2 * 2**30


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.city", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lamps", type=int, default=200_000, help="the city's size (default 200,000)")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_LAMPS:,} lamps, fewer repetitions")
    parser.add_argument("--days", type=int, default=2, help="days of readings (default 2)")
    parser.add_argument("--rebuild", action="store_true", help="build the city's database again even if it is kept")
    parser.add_argument("--repetitions", type=int, default=5, help="of each request (default 5)")
    parser.add_argument("--dashboard-loads", type=int, default=3, help="dashboard page loads (default 3)")
    parser.add_argument("--loaders", type=int, default=2, help="COPY connections writing the readings")
    parser.add_argument("--import-lamps", type=int, help="the inventory import's city size (default: --lamps)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--admin-url", default=default_timescale_url())
    parser.add_argument("--mqtt-url", default=DEFAULT_MQTT_URL)
    for part in ("scoring", "energy", "requests", "dashboard", "import", "dimming"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"do not measure the {part}")
    args = parser.parse_args(argv)
    if args.quick:
        args.lamps = QUICK_LAMPS
        args.repetitions = min(args.repetitions, 3)
        args.dashboard_loads = min(args.dashboard_loads, 2)
    return args


def placed_lamps(url: str) -> int:
    with db.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM lamps WHERE lat IS NOT NULL AND lon IS NOT NULL").fetchone()
    return 0 if row is None else int(row[0])


def served_measurements(args: argparse.Namespace, town: City) -> list[Row]:
    """Requests and the dashboard against one served application, its memory sampled throughout."""
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="bench-city-")) / "server.log"  # kept: read it after a failure
    say(f"server log: {log_path}")
    rows: list[Row] = []
    with served(town.url, workers=1, port=port, log_path=log_path, pool_size=None) as server:
        with RssSampler(server.pid) as rss:
            started_bytes = rss.sample()
            base_url = f"http://127.0.0.1:{port}"
            if not args.skip_requests:
                say("single requests ...")
                floor = requests.database_floor(town.url, args.repetitions)
                timings = requests.measure(base_url, town.token, requests.cases(town), args.repetitions)
                rows.extend(Row.of_requests(floor, timings))
            after_requests = rss.sample()
            if not args.skip_dashboard:
                say("the dashboard in Chromium ...")
                dashboard = browser.dashboard_times(base_url, placed_lamps(town.url), args.dashboard_loads)
                rows.append(Row.of_dashboard(dashboard))
        rows.extend(memory_rows(started_bytes, after_requests, rss.peak_bytes, rss.last_bytes, MEMORY_TARGET_BYTES))
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    for key, value in describe_machine(args.admin_url, args.mqtt_url):
        say(f"{key}: {value}")
    town = city(args.admin_url, args.lamps, days=args.days, loaders=args.loaders, seed=args.seed, rebuild=args.rebuild)
    rows: list[Row] = []
    if town.built_s is not None:
        rows.append(Row("building the city (not a target)", f"{town.built_s:.0f} s", "", "", ""))
    phases: list[tuple[str, Callable[[], list[Row]]]] = [
        ("nightly scoring", lambda: Row.of_scoring(heavy.nightly_scoring(town, floor_lamps=100))),
        (
            "energy count",
            lambda: [
                Row("energy count of every day (background job)", f"{heavy.energy_count(town):.0f} s", "", "", "")
            ],
        ),
        ("requests, dashboard, memory", lambda: served_measurements(args, town)),
        ("inventory import", lambda: import_rows(args)),
        ("dimming", lambda: dimming_rows(args)),
    ]
    skipped = {
        "nightly scoring": args.skip_scoring,
        "energy count": args.skip_energy,
        "inventory import": args.skip_import,
        "dimming": args.skip_dimming,
    }
    for name, measure in phases:
        if skipped.get(name):
            continue
        say(f"{name} ...")
        try:
            rows.extend(measure())
        except BenchmarkError as exc:  # the other phases are still measured; the table says what failed
            say(f"  {name} failed: {exc}")
            rows.append(Row(name, "failed", "", "", str(exc)[:100]))
    return rows


def dimming_rows(args: argparse.Namespace) -> list[Row]:
    phases = heavy.dimming_change(args.admin_url, args.mqtt_url, args.lamps, args.seed, sample=300)
    return Row.of_dimming(phases)


def import_rows(args: argparse.Namespace) -> list[Row]:
    from benchmarks import inventory_import

    steps = inventory_import.run_city(args.admin_url, args.import_lamps or args.lamps, args.seed)
    say(inventory_import.format_steps(steps))
    return Row.of_import(steps)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = run(args)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    say("")
    say(f"a city of {args.lamps:,} lamps, {args.days} days of readings (the machine is shared: figures are noisy)")
    say(table(rows))
    return 0
