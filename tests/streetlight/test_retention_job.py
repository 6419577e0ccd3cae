"""The service's nightly retention: with several replicas, one of them runs it each night."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from core import db
from streetlight import runtime

TODAY = date(2026, 12, 7)
RETENTION_DAYS = 400


@pytest.fixture
def old_readings(timescale_url: str) -> str:
    """Three readings past retention, each in a daily chunk of its own, and two recent ones."""
    now = datetime.now(UTC)
    with psycopg.connect(timescale_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO readings (lamp_id, ts, power_w) VALUES ('L1', %s, 10)",
            [(now - timedelta(days=age),) for age in (500, 450, 420, 30, 1)],
        )
    return timescale_url


def _readings(url: str) -> int:
    with psycopg.connect(url) as conn:
        return db.scalar(conn, "SELECT count(*) FROM readings")


def test_two_replicas_running_retention_at_once_run_it_once(old_readings: str, monkeypatch: pytest.MonkeyPatch):
    # The first replica to start removing waits there until the second has had its turn.
    first_inside, second_done = threading.Event(), threading.Event()
    runs = []
    apply_retention = db.apply_retention

    def apply_and_wait_once(conn: psycopg.Connection, retention_days: int) -> int:
        runs.append(retention_days)
        if len(runs) == 1:
            first_inside.set()
            assert second_done.wait(60), "the second replica never finished"
        return apply_retention(conn, retention_days)

    monkeypatch.setattr(db, "apply_retention", apply_and_wait_once)
    with ThreadPoolExecutor(2) as replicas:
        first = replicas.submit(runtime.retention_job, old_readings, RETENTION_DAYS, today=TODAY)
        assert first_inside.wait(60)
        second = replicas.submit(runtime.retention_job, old_readings, RETENTION_DAYS, today=TODAY)
        skipped = second.result(60)
        second_done.set()
        removed = first.result(60)

    assert (removed, skipped, runs) == (3, None, [RETENTION_DAYS])  # three chunks dropped, by one replica
    assert _readings(old_readings) == 2


def test_a_crashed_replicas_lock_goes_with_its_session(old_readings: str):
    with db.connect(old_readings) as crashed, db.job_lock(crashed, runtime.retention_lock_name(TODAY)) as taken:
        assert taken
        assert runtime.retention_job(old_readings, RETENTION_DAYS, today=TODAY) is None
        assert _readings(old_readings) == 5
        with db.connect(old_readings, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (crashed.info.backend_pid,))
        assert runtime.retention_job(old_readings, RETENTION_DAYS, today=TODAY) == 3
        with pytest.raises(psycopg.OperationalError):
            crashed.execute("SELECT 1")
    assert _readings(old_readings) == 2
