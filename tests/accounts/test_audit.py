"""The audit log: `record` as the other modules call it, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from accounts import audit


@pytest.fixture
def db(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        yield conn


def test_record_keeps_the_states_and_commits_with_the_change(timescale_url, db):
    when = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
    with psycopg.connect(timescale_url) as conn:
        audit_id = audit.record(
            conn,
            "ada",
            "lamp.update",
            "lamp:L001",
            before={"state": "active", "seen": when},
            after={"state": "retired"},
            client_ip="192.0.2.1",
        )
        assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0, "not before the caller commits"
        conn.commit()
        audit.record(conn, "ada", "lamp.update", "lamp:L002")
        conn.rollback()
    row = db.execute("SELECT actor, action, target, before, after, client_ip FROM audit_log").fetchall()
    assert row == [
        (
            "ada",
            "lamp.update",
            "lamp:L001",
            {"state": "active", "seen": "2026-11-20T18:30:00+00:00"},
            {"state": "retired"},
            "192.0.2.1",
        )
    ]
    assert isinstance(audit_id, int)
