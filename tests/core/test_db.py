"""Migrations, storage detection, retention and time bucketing on every storage backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core import db


def test_upgrade_is_safe_to_run_twice(database_url: str):
    assert db.upgrade(database_url) == []  # the fixture already migrated
    with psycopg.connect(database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in db.load_migrations()]


def test_concurrent_upgrades_apply_each_migration_once(storage_backend: str, admin_urls):
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import drop_database, fresh_database

    admin = admin_urls[storage_backend]
    name, url = fresh_database(admin)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: db.upgrade(url), range(4)))
        assert sum(len(r) for r in results) == len(db.load_migrations())
    finally:
        drop_database(admin, name)


def test_readings_are_a_hypertable_exactly_when_timescaledb_is_there(database_url: str, storage_backend: str):
    with psycopg.connect(database_url) as conn:
        info = db.storage_info(conn)
    if storage_backend == "timescale":
        assert info.backend == "timescaledb"
        assert info.readings_is_hypertable
        # The Apache build refuses compression; set-up must not have tried and failed.
        assert info.timescaledb_license == "apache"
        assert not info.compression_enabled
    else:
        assert info.backend == "postgresql"
        assert not info.readings_is_hypertable


def _insert_readings(conn: psycopg.Connection, ages_days: list[float]) -> None:
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (lamp_id, ts, power_w) VALUES ('L1', %s, 10)",
            [(now - timedelta(days=age),) for age in ages_days],
        )
    conn.commit()


def test_retention_removes_only_readings_older_than_the_period(database_url: str, storage_backend: str):
    with psycopg.connect(database_url) as conn:
        _insert_readings(conn, [500, 450, 420, 399, 30, 1, 0.1])
        removed = db.apply_retention(conn, 400)
        remaining = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    assert remaining == 4
    # TimescaleDB drops whole chunks; plain PostgreSQL deletes rows.
    assert removed == 3


def test_plain_postgresql_retention_deletes_in_bounded_batches(database_url: str, storage_backend: str):
    if storage_backend == "timescale":
        pytest.skip("TimescaleDB drops chunks instead")
    with psycopg.connect(database_url) as conn:
        _insert_readings(conn, [401 + i / 24 for i in range(250)] + [1])
        removed = db.apply_retention(conn, 400, delete_batch_rows=100)
        assert removed == 250
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1


def test_date_bin_buckets_work_on_every_backend(database_url: str):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    with psycopg.connect(database_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO readings (lamp_id, ts, power_w) VALUES ('L1', %s, %s)",
            [(base + timedelta(minutes=10 * i), float(i)) for i in range(12)],
        )
        rows = conn.execute(
            """SELECT date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01') AS bucket, avg(power_w), count(*)
               FROM readings GROUP BY bucket ORDER BY bucket"""
        ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [(2.5, 6), (8.5, 6)]
