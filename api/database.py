"""The request's pooled database connection.

`connection` (the `Conn` dependency) is taken before the route runs, on a turn of the
thread pool of its own; `Database` (the `Db` dependency) lets a synchronous route take
the same connection on its own turn, one turn fewer per request, which the most
frequent reads use. Either way, who is asking is found first (`api.principals`).
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio
import psycopg
from fastapi import Depends, Request
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from api.principals import Principal, find_principal

# Who is asking is found before a connection is taken, so that a request never holds two.
_Asking = Annotated[Principal | None, Depends(find_principal)]

# What routes and queries are given: a connection whose rows are dicts. Its row type is
# Any, as psycopg's types cannot follow a change of row factory, and so that it also goes
# to the functions of other packages that take psycopg's default (tuple-row) connection.
DictConnection = psycopg.Connection[Any]
RowT = TypeVar("RowT")


def with_dict_rows(conn: psycopg.Connection[Any]) -> DictConnection:
    """The connection, set to give its rows as dicts."""
    conn.row_factory = dict_row
    return conn


def one(row: RowT | None) -> RowT:
    """The row a statement always gives: an aggregate without GROUP BY, an INSERT ... RETURNING."""
    assert row is not None
    return row


def check_before_lending(pool: Callable[[], ConnectionPool]) -> Callable[[psycopg.Connection[Any]], None]:
    """The pool's `check`: a connection broken by a database restart or failover is replaced rather
    than lent to a request.

    A server that ends a session (shutting down, failing over, `pg_terminate_backend`) writes its
    last message and closes the socket, so an idle connection with something to read is suspect:
    only such a one is tried with a round trip. The others are lent after one poll of their socket,
    no round trip. A network path that vanished without a word is not found here; a round trip
    would not find it sooner either, as it would wait as long.

    At the first broken one, every idle connection of the pool is tried at once: they went with the
    same server, and the pool backs off longer before each next try of a connection it lends.
    """

    def check(conn: psycopg.Connection[Any]) -> None:
        if not (conn.broken or _has_something_to_read(conn)):
            return
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool().check()
            raise

    return check


def _has_something_to_read(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server wrote to this idle connection (or closed it). Without poll(2), assume so."""
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


async def connection(request: Request, _who: _Asking) -> AsyncGenerator[DictConnection, None]:
    """A pooled connection with dict rows, taken on a turn of the thread pool; committed when the
    request succeeds.

    A GET request reads (its only write is the token's use, one statement), so its
    statements run in autocommit: no BEGIN and no COMMIT, two round trips to the
    database fewer per request. Each statement sees the data committed when it starts,
    as it would inside a READ COMMITTED transaction, the server's default. Every
    other method runs in one transaction, committed when it succeeds.

    A connection with no transaction open (every GET's) goes back to the pool from the
    event loop, which needs no I/O; one with a transaction is committed or rolled back on
    a turn of the thread pool.
    """
    pool = get_pool(request)
    conn = await run_in_threadpool(_check_out, request, pool)
    succeeded = False
    try:
        yield conn
        succeeded = True
    finally:
        with anyio.CancelScope(shield=True):  # the connection goes back even when the request is cancelled
            if conn.info.transaction_status == TransactionStatus.IDLE and not conn.broken:
                _give_back(pool, conn)
            else:
                await run_in_threadpool(_end_transaction_and_give_back, pool, conn, succeeded)


class Database:
    """The request's way to a pooled connection that a route takes on its own turn of the thread
    pool: one turn per request in all, where `Conn` takes two (one to take the connection, one
    for the route). For the most frequent reads; the connection is the same as `Conn`'s."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @contextlib.contextmanager
    def connection(self) -> Iterator[DictConnection]:
        pool = get_pool(self._request)
        conn = _check_out(self._request, pool)
        succeeded = False
        try:
            yield conn
            succeeded = True
        finally:
            _end_transaction_and_give_back(pool, conn, succeeded)


async def database(request: Request, _who: _Asking) -> Database:
    return Database(request)


def _check_out(request: Request, pool: ConnectionPool) -> DictConnection:
    conn = with_dict_rows(pool.getconn())
    conn.autocommit = request.method == "GET"
    return conn


def _end_transaction_and_give_back(pool: ConnectionPool, conn: psycopg.Connection[Any], commit: bool) -> None:
    try:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.commit() if commit else conn.rollback()
    finally:
        _give_back(pool, conn)


def _give_back(pool: ConnectionPool, conn: psycopg.Connection[Any]) -> None:
    if not conn.broken and conn.autocommit:
        conn.autocommit = False  # the pool's other users expect transactions (no I/O: no transaction is open)
    pool.putconn(conn)
