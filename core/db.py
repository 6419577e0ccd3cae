"""Database access: connections, versioned migrations, TimescaleDB set-up, retention.

Migrations are the numbered ``core/migrations/NNNN_name.sql`` files, applied in
order inside one transaction each, under an advisory lock so that several
processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

# Arbitrary constant: the advisory lock key held while migrating.
MIGRATION_LOCK_KEY = 0x5354_4C31  # "STL1"
# Arbitrary constant: the first key of a scheduled job's advisory lock ("STLJ"); the second
# is drawn from the job's name. PostgreSQL keeps two-key locks apart from one-key ones.
JOB_LOCK_CLASS = 0x5354_4C4A
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class StorageInfo:
    server_version: str
    timescaledb_version: str | None
    timescaledb_license: str | None
    readings_is_hypertable: bool
    compression_enabled: bool

    @property
    def backend(self) -> str:
        return "timescaledb" if self.timescaledb_version else "postgresql"


def connect(url: str, *, autocommit: bool = False, timeout_s: float = 10.0) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=autocommit, connect_timeout=max(1, int(timeout_s)))


def scalar(conn: psycopg.Connection, query: Any, params: Any = None) -> Any:
    """The first column of the one row `query` returns (aggregates, SHOW, RETURNING)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row[0]


def wait_for_database(url: str, *, timeout_s: float = 30.0, interval_s: float = 0.5) -> None:
    """Block until the database accepts connections, or raise the last error after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with connect(url, autocommit=True, timeout_s=min(5.0, timeout_s)) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval_s)


def job_lock_keys(name: str) -> tuple[int, int]:
    """The two 32-bit keys of the advisory lock named `name` (the second is signed, as PostgreSQL's)."""
    digest = zlib.crc32(name.encode())
    return JOB_LOCK_CLASS, digest - (1 << 32) if digest >= 1 << 31 else digest


@contextmanager
def job_lock(conn: psycopg.Connection, name: str) -> Iterator[bool]:
    """Hold the session advisory lock `name` on `conn` while the block runs; yield whether it was taken.

    So that several service replicas run a scheduled job once: the replica that finds the
    lock taken skips the job. The lock belongs to the session, not to a transaction: it
    outlives the block's commits, and it goes with the session if the process dies, so a
    crashed run never blocks a later one. A transaction the block leaves open is rolled back
    if the block raised, and otherwise left to the caller.
    """
    keys = job_lock_keys(name)
    was_idle = conn.info.transaction_status == TransactionStatus.IDLE
    taken = bool(scalar(conn, "SELECT pg_try_advisory_lock(%s, %s)", keys))
    if was_idle and not conn.autocommit:
        conn.commit()
    succeeded = False
    try:
        yield taken
        succeeded = True
    finally:
        if taken:
            _release_job_lock(conn, keys, succeeded=succeeded)


def _release_job_lock(conn: psycopg.Connection, keys: tuple[int, int], *, succeeded: bool) -> None:
    if conn.closed or conn.broken:
        return  # the session has ended, and the lock with it
    try:
        was_idle = conn.info.transaction_status == TransactionStatus.IDLE
        if not was_idle and (not succeeded or conn.info.transaction_status == TransactionStatus.INERROR):
            conn.rollback()
            was_idle = True
        # Unlocking takes effect at once, also inside the caller's open transaction.
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", keys)
        if was_idle and not conn.autocommit:
            conn.commit()
    except psycopg.Error as exc:
        log.warning("could not release the job lock %s (%s); it goes with the session", keys, exc)


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("core.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def timescaledb_loadable(conn: psycopg.Connection) -> bool:
    """True when the server can run TimescaleDB (installed and preloaded)."""
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if not available:
        return False
    preload = scalar(conn, "SELECT current_setting('shared_preload_libraries', true)") or ""
    return "timescaledb" in preload


def upgrade(url: str, *, chunk_interval_hours: int = 24, use_timescaledb: bool = True) -> list[Migration]:
    """Apply pending migrations and set up TimescaleDB where available. Safe to run twice."""
    applied_now: list[Migration] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in load_migrations():
                if migration.version in done:
                    continue
                log.info("applying migration %04d_%s", migration.version, migration.name)
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration)
            if use_timescaledb and timescaledb_loadable(conn):
                _set_up_timescaledb(conn, chunk_interval_hours)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def _set_up_timescaledb(conn: psycopg.Connection, chunk_interval_hours: int) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    conn.execute(
        "SELECT create_hypertable('readings', 'ts', chunk_time_interval => %s::interval,"
        " if_not_exists => true, migrate_data => true)",
        (timedelta(hours=chunk_interval_hours),),
    )
    license_ = timescaledb_license(conn)
    if license_ == "timescale":
        # Compression is a Community-licence feature; the Apache build refuses it.
        conn.execute(
            "ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'lamp_id',"
            " timescaledb.compress_orderby = 'ts DESC')"
        )
        conn.execute("SELECT add_compression_policy('readings', INTERVAL '7 days', if_not_exists => true)")
    else:
        log.info("TimescaleDB licence is %r: compression is not available, readings stay uncompressed", license_)


def timescaledb_license(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return row[0] if row and row[0] else None


def storage_info(conn: psycopg.Connection) -> StorageInfo:
    server_version = scalar(conn, "SHOW server_version")
    ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    hyper = compressed = False
    license_ = None
    if ext:
        license_ = timescaledb_license(conn)
        row = conn.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
        ).fetchone()
        hyper = row is not None
        compressed = bool(row and row[0])
    return StorageInfo(server_version, ext[0] if ext else None, license_, hyper, compressed)


def apply_retention(conn: psycopg.Connection, retention_days: int, *, delete_batch_rows: int = 50_000) -> int:
    """Drop raw readings older than the retention period; returns chunks or rows removed.

    TimescaleDB drops whole chunks (cheap); plain PostgreSQL deletes in batches so
    that no single transaction grows without bound.
    """
    older_than = timedelta(days=retention_days)
    if storage_info(conn).readings_is_hypertable:
        rows = conn.execute("SELECT drop_chunks('readings', older_than => %s::interval)", (older_than,)).fetchall()
        conn.commit()
        return len(rows)
    removed = 0
    while True:
        cur = conn.execute(
            """DELETE FROM readings WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM readings WHERE ts < now() - %s::interval LIMIT %s))""",
            (older_than, delete_batch_rows),
        )
        conn.commit()
        removed += cur.rowcount
        if cur.rowcount < delete_batch_rows:
            return removed


def create_database(admin_url: str, name: str, *, drop_existing: bool = False) -> None:
    """Create database `name` on the server of `admin_url` (used by tests and the demo)."""
    with connect(admin_url, autocommit=True) as conn:
        if drop_existing:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
