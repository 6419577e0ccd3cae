"""Inventory import at city scale: a town's GIS export imported, again unchanged, then with 1 % changed.

Beside a floor measured in the same run: a bare COPY of the same file into a plain table.
What it measures, and the latest figures, are in docs/performance.md.

    .venv/bin/python -m benchmarks.inventory_import --lamps 200000
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from psycopg import sql

from benchmarks.common import default_timescale_url, format_seconds, format_table, fresh_database, run_id, say
from core import db, inventory
from core.db import scalar
from simulators.town import CSV_COLUMNS, LampSpec, generate_town, town_to_csv

TARGET_FIRST_IMPORT_S = 60.0
TARGET_UNCHANGED_IMPORT_S = 30.0
CHANGED_EVERY = 100  # one lamp in a hundred changed: a month of relamping
RELAMPED_ON = date(2026, 3, 1)  # after every install date the town generator gives
COPY_BLOCK_BYTES = 1 << 20

# The floor table's columns are those of the file, typed like `lamps` where a type checks anything.
_FLOOR_COLUMN_TYPES = {
    "lat": "double precision",
    "lon": "double precision",
    "rated_power_w": "real",
    "install_date": "date",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One measured step of a run."""

    name: str
    lamps: int
    parse_s: float
    store_s: float
    report: str  # what the import said (added / updated / unchanged), or what the step is
    lamps_written: int | None = None  # rows of `lamps` given a new version
    lamps_locked: int | None = None  # rows of `lamps` locked without a new version
    statuses_touched: int | None = None  # rows of `lamp_status` written or locked

    @property
    def total_s(self) -> float:
        return self.parse_s + self.store_s


# --- files ----------------------------------------------------------------------
def write_town_files(lamp_count: int, seed: int, directory: Path) -> tuple[Path, Path, int]:
    """The town's inventory CSV (as `streetlight simulate town` writes it), the same with
    one lamp in CHANGED_EVERY relamped, and how many lamps that changes."""
    town = generate_town(lamp_count, seed=seed)
    original = directory / "town.csv"
    town_to_csv(town, original)
    relamped = [relamp(lamp) if index % CHANGED_EVERY == 0 else lamp for index, lamp in enumerate(town)]
    changed = directory / "town-relamped.csv"
    town_to_csv(relamped, changed)
    return original, changed, sum(1 for old, new in zip(town, relamped) if old != new)


def relamp(lamp: LampSpec) -> LampSpec:
    return dataclasses.replace(lamp, install_date=RELAMPED_ON)


# --- measurements ---------------------------------------------------------------
def measure_floor(url: str, path: Path, lamp_count: int) -> Step:
    """A bare COPY of the file's rows into a plain table: no parsing, no index, no trigger."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_FLOOR_COLUMN_TYPES.get(name, "text")))
        for name in CSV_COLUMNS
    )
    with db.connect(url) as conn:
        conn.execute(sql.SQL("CREATE TABLE inventory_floor ({})").format(columns))
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy("COPY inventory_floor FROM STDIN (FORMAT csv, HEADER true)") as copy:
            with path.open("rb") as handle:
                while block := handle.read(COPY_BLOCK_BYTES):
                    copy.write(block)
        conn.commit()
        elapsed_s = time.perf_counter() - started
        copied = scalar(conn, "SELECT count(*) FROM inventory_floor")
        conn.execute("DROP TABLE inventory_floor")
        conn.commit()
    if copied != lamp_count:
        raise RuntimeError(f"the floor copied {copied} rows, not {lamp_count}")
    return Step("floor: COPY into a plain table", lamp_count, 0.0, elapsed_s, "")


def next_transaction_id(url: str) -> int:
    """The id the next transaction will get (32-bit, as xmin and xmax hold it)."""
    with db.connect(url, autocommit=True) as conn:
        next_id = int(scalar(conn, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
    return next_id % 2**32


def rows_touched_since(url: str, first_id: int) -> tuple[int, int, int]:
    """(lamps with a new version, lamps only locked, statuses written or locked) since `first_id`.

    A fresh database never wraps transaction ids, so a plain comparison holds.
    """
    with db.connect(url, autocommit=True) as conn:
        counts = conn.execute(
            """SELECT count(*) FILTER (WHERE xmin::text::bigint >= %(first)s),
                      count(*) FILTER (WHERE xmin::text::bigint < %(first)s AND xmax::text::bigint >= %(first)s)
               FROM lamps""",
            {"first": first_id},
        ).fetchone()
        statuses = scalar(
            conn,
            """SELECT count(*) FROM lamp_status
               WHERE xmin::text::bigint >= %(first)s OR xmax::text::bigint >= %(first)s""",
            {"first": first_id},
        )
    assert counts is not None  # an aggregate always returns its one row
    return int(counts[0]), int(counts[1]), int(statuses)


def measure_import(url: str, path: Path, name: str, check: Callable[[inventory.ImportReport], bool]) -> Step:
    """Parse and import the file as `streetlight lamps import` does, each timed."""
    first_id = next_transaction_id(url)
    started = time.perf_counter()
    parsed = inventory.load_inventory_file(path)
    parsed_at = time.perf_counter()
    with db.connect(url) as conn:
        report = inventory.import_inventory(conn, parsed)
    stored_at = time.perf_counter()
    said = f"{report.inserted} added, {report.updated} updated, {report.unchanged} unchanged"
    if parsed.errors or not check(report):
        raise RuntimeError(f"{name}: unexpected result: {said}, {len(parsed.errors)} errors")
    written, locked, statuses = rows_touched_since(url, first_id)
    return Step(name, len(parsed.records), parsed_at - started, stored_at - parsed_at, said, written, locked, statuses)


def run_city(admin_url: str, lamp_count: int, seed: int) -> list[Step]:
    """Every step for one city size, in a database of its own."""
    with tempfile.TemporaryDirectory(prefix="inventory-import-") as directory:
        say(f"generating a town of {lamp_count:,} lamps (seed {seed})")
        original, changed, changed_count = write_town_files(lamp_count, seed, Path(directory))
        with fresh_database(admin_url, f"bench_inventory_{run_id()}") as url:
            steps = [measure_floor(url, original, lamp_count)]
            say(f"  {steps[-1].name}: {format_seconds(steps[-1].total_s)}")
            runs: list[tuple[str, Path, Callable[[inventory.ImportReport], bool]]] = [
                ("first import", original, lambda r: r.inserted == lamp_count),
                ("same file again", original, lambda r: r.unchanged == lamp_count),
                (
                    f"{changed_count:,} lamps changed",
                    changed,
                    lambda r: r.updated == changed_count and r.unchanged == lamp_count - changed_count,
                ),
            ]
            for name, path, check in runs:
                steps.append(measure_import(url, path, name, check))
                say(f"  {name}: {format_seconds(steps[-1].total_s)} ({steps[-1].report})")
    return steps


# --- output ---------------------------------------------------------------------
def describe_run(admin_url: str) -> list[str]:
    with db.connect(admin_url, autocommit=True) as conn:
        storage = db.storage_info(conn)
    timescaledb = f", TimescaleDB {storage.timescaledb_version}" if storage.timescaledb_version else ""
    load_1m, _, _ = os.getloadavg()
    return [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        f"database: PostgreSQL {storage.server_version}{timescaledb}",
        f"load average (1 min) at the start: {load_1m:.1f}",
    ]


def format_steps(steps: Sequence[Step]) -> str:
    floor_rate = steps[0].lamps / steps[0].total_s

    def optional(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    rows = []
    for step in steps:
        rate = step.lamps / step.total_s
        rows.append(
            [
                step.name,
                f"{step.lamps:,}",
                f"{step.parse_s:.2f}",
                f"{step.store_s:.2f}",
                f"{step.total_s:.2f}",
                f"{rate:,.0f}",
                f"{floor_rate / rate:.1f}x",
                optional(step.lamps_written),
                optional(step.lamps_locked),
                optional(step.statuses_touched),
            ]
        )
    headers = ["step", "lamps", "parse s", "store s", "total s", "lamps/s", "vs floor"]
    headers += ["lamps written", "lamps locked", "statuses touched"]
    return format_table(headers, rows, [False] + [True] * (len(headers) - 1))


def verdict(steps: Sequence[Step]) -> list[str]:
    first, unchanged = steps[1], steps[2]
    return [
        f"first import {first.total_s:.1f} s (target under {TARGET_FIRST_IMPORT_S:.0f} s):"
        f" {'met' if first.total_s < TARGET_FIRST_IMPORT_S else 'MISSED'}",
        f"unchanged re-import {unchanged.total_s:.1f} s (target under {TARGET_UNCHANGED_IMPORT_S:.0f} s):"
        f" {'met' if unchanged.total_s < TARGET_UNCHANGED_IMPORT_S else 'MISSED'}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inventory_import", description=__doc__.split("\n")[0])
    parser.add_argument("--lamps", type=int, nargs="+", default=[200_000], help="city sizes, one run each")
    parser.add_argument("--seed", type=int, default=1, help="the town generator's seed")
    parser.add_argument(
        "--database-url", default=default_timescale_url(), help="a server where fresh databases may be created"
    )
    args = parser.parse_args(argv)
    for line in describe_run(args.database_url):
        say(line)
    results = [(lamp_count, run_city(args.database_url, lamp_count, args.seed)) for lamp_count in args.lamps]
    for lamp_count, steps in results:
        say(f"\n{lamp_count:,} lamps (parse: reading and checking the file; store: the database transaction)")
        say(format_steps(steps))
        for line in verdict(steps):
            say(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
