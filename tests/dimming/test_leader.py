"""Exactly one replica holds the scheduler lock; another takes it when the holder's session dies."""

from __future__ import annotations

import psycopg

from dimming.leader import Leadership, active_scheduler
from tests.helpers import wait_until


def terminate(database_url: str, leadership: Leadership) -> None:
    pid = leadership.connection.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_one_replica_leads_and_another_takes_over_when_its_session_dies(database_url):
    first = Leadership(database_url, name="replica-a")
    second = Leadership(database_url, name="replica-b")
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert not second.try_acquire()  # asking again changes nothing
        with psycopg.connect(database_url, autocommit=True) as conn:
            active = active_scheduler(conn)
        assert active is not None and active.name == "replica-a"

        terminate(database_url, first)
        assert not first.still_held()
        wait_until(second.try_acquire, 10, what="the second replica to take the lock")
        assert second.still_held()
        # The first comes back as a follower.
        assert not first.try_acquire()
        with psycopg.connect(database_url, autocommit=True) as conn:
            assert active_scheduler(conn).name == "replica-b"
    finally:
        first.release()
        second.release()


def test_a_released_lock_is_free_at_once(database_url):
    first = Leadership(database_url, name="replica-a")
    second = Leadership(database_url, name="replica-b")
    try:
        assert first.try_acquire()
        first.release()
        assert not first.held
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert active_scheduler(conn) is None


def test_the_lock_is_per_database(timescale_url, admin_urls):
    # Two towns on one server each have their own active scheduler.
    from tests.conftest import drop_database, fresh_database

    name, other_url = fresh_database(admin_urls["timescale"])
    here = Leadership(timescale_url, name="town-a")
    there = Leadership(other_url, name="town-b")
    try:
        assert here.try_acquire()
        assert there.try_acquire()
    finally:
        here.release()
        there.release()
        drop_database(admin_urls["timescale"], name)
