"""Which replica runs the plan scheduler: the one holding a PostgreSQL session advisory lock.

The lock lives as long as the database session that took it. The holder keeps one
dedicated connection for it and does all its scheduler work on that connection, so
that whatever it writes, it writes while it still leads: if the connection dies, the
lock is gone, its unfinished transaction is rolled back, and another replica (polling
with `pg_try_advisory_lock`) takes over within seconds.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)

# Arbitrary constant, distinct from core.db's migration lock: "STLP" (plans).
SCHEDULER_LOCK_KEY = 0x5354_4C50
APPLICATION_NAME_PREFIX = "streetlight-plans"


def replica_name() -> str:
    """This process, as other replicas and the status page see it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ActiveScheduler:
    name: str  # host:pid of the replica holding the lock
    since: datetime  # when its database session began


class Leadership:
    """Try to become the active scheduler; know whether this replica still is."""

    def __init__(self, database_url: str, *, name: str | None = None, connect_timeout_s: int = 5) -> None:
        self.database_url = database_url
        self.name = name or replica_name()
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection | None = None
        self._held = False

    @property
    def connection(self) -> psycopg.Connection:
        """The lock's session (autocommit). Valid only while `held`."""
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    @property
    def held(self) -> bool:
        return self._held and self._conn is not None and not self._conn.closed

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it. Database errors propagate (the caller retries later)."""
        if self.held:
            return True
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._close()
            self._conn = psycopg.connect(
                self.database_url,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name=f"{APPLICATION_NAME_PREFIX} {self.name}"[:63],
                # A replica that vanishes without closing its socket must not keep the lock for hours.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)).fetchone()
        assert row is not None, "a SELECT of one value returns one row"
        self._held = bool(row[0])
        return self._held

    def still_held(self) -> bool:
        """Check the lock's session is alive (a round trip); False and forget it if not."""
        if not self.held:
            return False
        try:
            self.connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.lost()
            return False

    def lost(self) -> None:
        """The session broke: the server has released the lock with it."""
        if self._held:
            log.warning("plan scheduler %s lost its database session: no longer the active scheduler", self.name)
        self._held = False
        self._close()

    def release(self) -> None:
        if self.held:
            try:
                self.connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEDULER_LOCK_KEY,))
            except psycopg.Error:
                pass
        self._held = False
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None


def active_scheduler(conn: psycopg.Connection) -> ActiveScheduler | None:
    """The replica holding the scheduler lock in this database, if any."""
    row = conn.execute(
        """SELECT a.application_name, a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = %s AND l.objid = %s AND l.objsubid = 1""",
        (SCHEDULER_LOCK_KEY >> 32, SCHEDULER_LOCK_KEY & 0xFFFF_FFFF),
    ).fetchone()
    if row is None:
        return None
    values = list(row.values()) if isinstance(row, dict) else list(row)
    name = (values[0] or "").removeprefix(APPLICATION_NAME_PREFIX).strip() or "unknown"
    return ActiveScheduler(name=name, since=values[1])
