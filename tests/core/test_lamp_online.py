"""The inventory's copy of each controller's connection state (`lamps.online`, migration
0012): it equals `lamp_status` after any writes, also when a lamp is created while its
controller reports, in either order; and the migration fills it in for existing lamps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from core import db
from ingest.store import STATUS_UPSERT
from tests.conftest import drop_database, fresh_database

CREATE_LAMP = "INSERT INTO lamps (lamp_id, name) VALUES (%s, %s)"


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def report(conn: psycopg.Connection, lamp_id: str, state: bool) -> None:
    """What the ingester writes for a controller's status message."""
    conn.execute(STATUS_UPSERT, (lamp_id, state, datetime.now(UTC)))


def online(conn: psycopg.Connection, lamp_id: str) -> tuple[bool | None, bool | None]:
    """(lamps.online, lamp_status.online) of one lamp."""
    return conn.execute(
        "SELECT l.online, s.online FROM lamps l JOIN lamp_status s USING (lamp_id) WHERE l.lamp_id = %s", (lamp_id,)
    ).fetchone()


def test_a_lamp_takes_the_state_its_controller_reported_and_follows_it(conn):
    report(conn, "L1", False)  # reported before the lamp is in the inventory
    conn.execute(CREATE_LAMP, ("L1", "one"))
    assert online(conn, "L1") == (False, False)
    report(conn, "L1", True)
    assert online(conn, "L1") == (True, True)
    report(conn, "L1", False)
    assert online(conn, "L1") == (False, False)


def test_a_lamp_never_reported_is_unknown_until_its_first_report(conn):
    conn.execute(CREATE_LAMP, ("L2", "two"))
    assert online(conn, "L2") == (None, None)
    report(conn, "L2", True)
    assert online(conn, "L2") == (True, True)


def test_a_controller_not_in_the_inventory_keeps_its_status(conn):
    report(conn, "U9", True)
    assert conn.execute("SELECT online FROM lamp_status WHERE lamp_id = 'U9'").fetchone() == (True,)
    assert conn.execute("SELECT count(*) FROM lamps").fetchone() == (0,)


def wait_until_blocked(conn: psycopg.Connection, pid: int) -> None:
    """Until the backend `pid` waits for a lock (the other transaction holds what it needs)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if waiting and waiting[0] == "Lock":
            return
        time.sleep(0.02)
    pytest.fail(f"backend {pid} never waited for a lock")


def race(url: str, first: Callable[[psycopg.Connection], None], second: Callable[[psycopg.Connection], None]):
    """`first` in an open transaction, `second` from another connection while it is open;
    `second` must wait for `first` to commit."""
    with (
        psycopg.connect(url) as one,
        psycopg.connect(url, autocommit=True) as two,
        psycopg.connect(url, autocommit=True) as watcher,
    ):
        first(one)  # not committed yet
        errors: list[BaseException] = []

        def run_second() -> None:
            try:
                second(two)
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        thread = threading.Thread(target=run_second)
        thread.start()
        wait_until_blocked(watcher, two.info.backend_pid)
        one.commit()
        thread.join(10)
        assert not thread.is_alive() and not errors, errors


def test_a_lamp_created_while_its_first_report_is_written_takes_it(database_url, conn):
    race(database_url, lambda c: report(c, "L3", True), lambda c: c.execute(CREATE_LAMP, ("L3", "three")))
    assert online(conn, "L3") == (True, True)


def test_a_first_report_written_while_its_lamp_is_created_reaches_the_lamp(database_url, conn):
    race(database_url, lambda c: c.execute(CREATE_LAMP, ("L4", "four")), lambda c: report(c, "L4", False))
    assert online(conn, "L4") == (False, False)


def test_a_lamp_created_while_its_state_changes_takes_the_new_state(database_url, conn):
    report(conn, "L5", True)
    race(database_url, lambda c: report(c, "L5", False), lambda c: c.execute(CREATE_LAMP, ("L5", "five")))
    assert online(conn, "L5") == (False, False)


def test_a_state_changing_while_its_lamp_is_created_reaches_the_lamp(database_url, conn):
    report(conn, "L6", True)
    race(database_url, lambda c: c.execute(CREATE_LAMP, ("L6", "six")), lambda c: report(c, "L6", False))
    assert online(conn, "L6") == (False, False)


def test_the_migration_copies_the_states_of_the_lamps_already_there(storage_backend: str, admin_urls):
    admin = admin_urls[storage_backend]
    name, url = fresh_database(admin)
    try:
        before = [m for m in db.load_migrations() if m.version < 12]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in before:
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
                )
            for lamp_id in ("A", "B", "C"):
                conn.execute(CREATE_LAMP, (lamp_id, lamp_id))
            conn.execute("INSERT INTO lamp_status (lamp_id, online) VALUES ('A', true), ('B', false), ('U', true)")
        assert [m.version for m in db.upgrade(url, use_timescaledb=False)][0] == 12
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT lamp_id, l.online, s.online FROM lamp_status s LEFT JOIN lamps l USING (lamp_id) ORDER BY 1"
            ).fetchall()
        assert rows == [("A", True, True), ("B", False, False), ("C", None, None), ("U", None, True)]
    finally:
        drop_database(admin, name)
