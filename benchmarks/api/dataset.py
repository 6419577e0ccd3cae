"""The API benchmark's database: a town and a month of its readings, kept between runs under a fixed name."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from benchmarks.api.copy_writer import BatchBuilder, CopyWriters
from benchmarks.common import BenchmarkError, Progress, database_url, say
from core import db

if TYPE_CHECKING:
    from simulators.engine import StepArrays
    from simulators.town import LampSpec

READING_INTERVAL = timedelta(minutes=10)
STEPS_PER_BATCH = 36  # six hours of readings per COPY
BENCH_USER = "bench-api"

Span = tuple[datetime, datetime]  # first and last reading time


def database_name(lamps: int, days: int) -> str:
    size = f"{lamps // 1000}k" if lamps % 1000 == 0 else str(lamps)
    return f"bench_api_{size}_{days}d"


def loaded_data(url: str, lamps: int, days: int) -> Span | None:
    """(first, last) reading time when a completed load of this size is there, else None."""
    try:
        with db.connect(url) as conn:
            row = conn.execute(
                "SELECT first_ts, last_ts FROM bench_load WHERE lamps = %s AND days = %s", (lamps, days)
            ).fetchone()
    except psycopg.Error:
        return None
    return (row[0], row[1]) if row else None


def load(admin_url: str, name: str, *, lamps: int, days: int, loaders: int, seed: int = 1) -> Span:
    """Build database `name`: schema, town, `days` days of readings ending now, events, connection state."""
    from core.inventory import import_inventory, parse_inventory
    from simulators.town import generate_town, town_to_csv_bytes

    db.create_database(admin_url, name, drop_existing=True)
    url = database_url(admin_url, name)
    db.upgrade(url)
    town = generate_town(lamps, seed=seed)
    with db.connect(url) as conn:
        import_inventory(conn, parse_inventory(town_to_csv_bytes(town), "town.csv"))
        _create_bench_user(conn)
        conn.commit()

    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    start = end - timedelta(days=days)
    events, last_step = _load_readings(url, town, start, end, loaders, seed)
    _store_events_and_status(url, events, last_step, end)
    began = time.monotonic()
    with db.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # as autovacuum would have done: visibility map, statistics
        conn.execute(
            "INSERT INTO bench_load (lamps, days, first_ts, last_ts) VALUES (%s, %s, %s, %s)",
            (lamps, days, start + READING_INTERVAL, end),
        )
    say(f"  VACUUM ANALYZE: {time.monotonic() - began:.0f} s")
    return start + READING_INTERVAL, end


def _create_bench_user(conn: psycopg.Connection) -> None:
    from accounts import create_user
    from core.vocabulary import Role

    create_user(conn, BENCH_USER, Role.TECHNICIAN)


def _load_readings(
    url: str, town: list[LampSpec], start: datetime, end: datetime, loaders: int, seed: int
) -> tuple[list[tuple], StepArrays]:
    """Simulate every step from `start` to `end` and COPY its readings; the events, and the last step."""
    from simulators.engine import FleetSimulator

    steps = int((end - start) / READING_INTERVAL)
    simulator = FleetSimulator(town, seed=seed, start=start)
    builder = BatchBuilder(simulator.lamp_ids)
    writers = CopyWriters(url, loaders)
    progress = Progress(every_s=10)
    began = time.monotonic()
    events: list[tuple] = []
    batch: list[np.ndarray] = []
    step: StepArrays | None = None
    for k in range(1, steps + 1):
        step = simulator.step_arrays(start + k * READING_INTERVAL)
        batch.append(builder.rows(step))
        events.extend(step.events)
        if len(batch) == STEPS_PER_BATCH or k == steps:
            writers.put(batch)
            if writers.errors:
                break
            batch = []
            done, elapsed = writers.stored, time.monotonic() - began
            progress.update(
                f"  readings: {done:,} stored, {k / steps:.0%} simulated, {done / elapsed:,.0f} rows/s, {elapsed:.0f} s"
            )
    total = writers.finish()
    elapsed = time.monotonic() - began
    progress.done(
        f"  readings: {total:,} rows in {elapsed:.0f} s ({total / elapsed:,.0f} rows/s, {loaders} COPY connections)"
    )
    if step is None:
        raise BenchmarkError("no readings to load: --days must be at least 1")
    return events, step


def _store_events_and_status(url: str, events: list[tuple], last_step: StepArrays, end: datetime) -> None:
    """The simulated events, each lamp's connection state at `end`, and the (empty) load record."""
    with db.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (lamp_id, ts, type, detail) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(lamp_id, e["ts"], e["type"], Jsonb(e.get("detail"))) for lamp_id, e in events],
            )
            cur.executemany(
                "INSERT INTO lamp_status (lamp_id, online, changed_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (lamp_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at",
                [
                    (lamp_id, not bool(offline), end)
                    for lamp_id, offline in zip(last_step.lamp_ids, last_step.offline, strict=True)
                ],
            )
        conn.execute(
            "CREATE TABLE bench_load (lamps integer, days integer, first_ts timestamptz,"
            " last_ts timestamptz, loaded_at timestamptz DEFAULT now())"
        )
        conn.commit()
    say(f"  events: {len(events):,}; lamp_status: {len(last_step.lamp_ids):,}")
