"""The request's database connection: a GET reads in autocommit, every other method in one
transaction, committed when the request succeeds and rolled back when it fails."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool
from starlette.requests import Request

from api import database, principals
from core.vocabulary import Role
from tests.api.factories import make_user


def request(method: str, pool: ConnectionPool, token: str | None = None) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    app = SimpleNamespace(state=SimpleNamespace(pool=pool, settings=None))
    return Request({"type": "http", "method": method, "path": "/", "query_string": b"", "headers": headers, "app": app})


def run_request(asking: Request, route) -> principals.Principal | None:
    """Runs `route(conn)` between taking the dependency's connection and giving it back, as FastAPI
    does; returns who was found to be asking."""
    found = []

    async def main() -> None:
        found.append(await principals.find_principal(asking))
        dependency = database.connection(asking, found[0])
        conn = await anext(dependency)
        try:
            route(conn)
        except Exception as error:  # noqa: BLE001 - handed to the dependency, as FastAPI does
            with pytest.raises(type(error)):
                await dependency.athrow(error)
            return
        with pytest.raises(StopAsyncIteration):
            await anext(dependency)

    asyncio.run(main())
    return found[0]


@pytest.fixture
def token(database_url):
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS deps_probe (note text)")
        admin.execute("TRUNCATE deps_probe")
        return make_user(admin, Role.TECHNICIAN)


@pytest.mark.parametrize(
    ("method", "autocommit", "after_a_read"),
    [("GET", True, TransactionStatus.IDLE), ("POST", False, TransactionStatus.INTRANS)],
)
def test_a_get_runs_without_begin_or_commit_and_other_methods_in_a_transaction(
    database_url, token, method, autocommit, after_a_read
):
    seen = {}

    def route(conn):
        seen["autocommit"] = conn.autocommit
        conn.execute("SELECT count(*) FROM lamps")
        seen["status"] = conn.info.transaction_status
        seen["conn"] = conn

    with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
        asking = request(method, pool, token)
        assert run_request(asking, route).role is Role.TECHNICIAN
        assert (seen["autocommit"], seen["status"]) == (autocommit, after_a_read)
        # the pool's next user (a job, a write) gets a connection that opens transactions again
        with pool.connection() as again:
            assert again is seen["conn"] and again.autocommit is False
            assert again.info.transaction_status == TransactionStatus.IDLE


def test_a_change_is_committed_when_the_request_succeeds_and_rolled_back_when_it_fails(database_url, token):
    def writes(note, fails):
        def route(conn):
            conn.execute("INSERT INTO deps_probe VALUES (%s)", (note,))
            if fails:
                raise RuntimeError("the route failed after writing")

        return route

    with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
        run_request(request("POST", pool, token), writes("kept", fails=False))
        run_request(request("POST", pool, token), writes("undone", fails=True))
        with pool.connection() as conn:
            assert conn.cursor(row_factory=tuple_row).execute("SELECT note FROM deps_probe").fetchall() == [("kept",)]
            assert conn.info.transaction_status == TransactionStatus.INTRANS  # this block's own read


@pytest.mark.parametrize(("method", "autocommit"), [("GET", True), ("POST", False)])
def test_a_route_taking_its_own_connection_gets_the_same_one_and_commits_or_rolls_back(
    database_url, token, method, autocommit
):
    with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
        db = database.Database(request(method, pool, token))
        with db.connection() as conn:
            assert conn.autocommit is autocommit
            conn.execute("INSERT INTO deps_probe VALUES ('kept')")
        with pytest.raises(RuntimeError), db.connection() as conn:
            conn.execute("INSERT INTO deps_probe VALUES ('undone')")
            raise RuntimeError("the route failed after writing")
        with pool.connection() as conn:
            notes = conn.cursor(row_factory=tuple_row).execute("SELECT note FROM deps_probe").fetchall()
            assert conn.autocommit is False
    # In autocommit (a GET), each statement stands on its own: nothing is left to roll back.
    assert notes == ([("kept",), ("undone",)] if autocommit else [("kept",)])
