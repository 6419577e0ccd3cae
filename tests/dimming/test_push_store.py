"""Where each stored plan ends (`plan_pushes.plan_ends_at`, migration 0020): filled whenever a
plan is stored, by whichever way it is written, and back-filled for the plans already there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from core import db
from dimming.push_store import insert_versions
from tests.conftest import drop_database, fresh_database

PARIS_WINTER = timezone(timedelta(hours=1))


def plan(*ats: str) -> str:
    return json.dumps({"version": 1, "points": [{"at": at, "level": 50} for at in ats]})


def ends(conn: psycopg.Connection) -> list[tuple[str, int, datetime | None]]:
    return conn.execute("SELECT lamp_id, version, plan_ends_at FROM plan_pushes ORDER BY lamp_id, version").fetchall()


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def test_the_scheduler_stores_each_plan_with_the_instant_of_its_last_point(conn):
    written = insert_versions(
        conn,
        [
            ("A", 1, plan("2026-11-25T16:30:00+00:00", "2026-11-28T12:00:00+00:00").encode()),
            ("B", 4, plan("2026-11-25T17:00:00+01:00", "2026-11-28T08:15:00+01:00").encode()),
            ("C", 1, plan().encode()),  # no points: it ends nowhere
        ],
    )
    assert written == 3
    assert ends(conn) == [
        ("A", 1, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("B", 4, datetime(2026, 11, 28, 8, 15, tzinfo=PARIS_WINTER)),
        ("C", 1, None),
    ]


def test_a_plan_written_by_hand_or_changed_gets_its_end_and_a_wrong_end_is_corrected(conn):
    conn.execute(
        "INSERT INTO plan_pushes (lamp_id, version, plan, plan_ends_at) VALUES ('A', 1, %s, '2000-01-01Z')",
        (plan("2026-11-25T16:30:00Z", "2026-11-27T06:00:00Z"),),
    )
    assert ends(conn) == [("A", 1, datetime(2026, 11, 27, 6, 0, tzinfo=UTC))]
    conn.execute("UPDATE plan_pushes SET plan = %s", (plan("2026-11-25T16:30:00Z", "2026-11-29T06:00:00Z"),))
    assert ends(conn) == [("A", 1, datetime(2026, 11, 29, 6, 0, tzinfo=UTC))]
    conn.execute("UPDATE plan_pushes SET plan_ends_at = '2000-01-01Z'")
    assert ends(conn) == [("A", 1, datetime(2026, 11, 29, 6, 0, tzinfo=UTC))]
    conn.execute("UPDATE plan_pushes SET ack_status = 'applied', acked_at = now()")
    assert ends(conn) == [("A", 1, datetime(2026, 11, 29, 6, 0, tzinfo=UTC))]


def test_the_migration_fills_in_the_end_of_every_plan_already_stored(storage_backend: str, admin_urls):
    admin = admin_urls[storage_backend]
    name, url = fresh_database(admin)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in (m for m in db.load_migrations() if m.version < 20):
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
                )
            for lamp_id, version, stored in [
                ("A", 1, plan("2026-11-25T16:30:00Z", "2026-11-28T12:00:00Z")),
                ("A", 2, plan("2026-11-26T16:30:00+01:00", "2026-11-29T07:45:00+01:00")),
                ("B", 1, plan()),
                ("C", 3, json.dumps({"version": 1})),
            ]:
                conn.execute(
                    "INSERT INTO plan_pushes (lamp_id, version, plan) VALUES (%s, %s, %s)", (lamp_id, version, stored)
                )
        assert 20 in [m.version for m in db.upgrade(url, use_timescaledb=False)]
        with psycopg.connect(url) as conn:
            assert ends(conn) == [
                ("A", 1, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
                ("A", 2, datetime(2026, 11, 29, 7, 45, tzinfo=PARIS_WINTER)),
                ("B", 1, None),
                ("C", 3, None),
            ]
    finally:
        drop_database(admin, name)
