"""The request's database connection: a GET reads in autocommit, every other method in one transaction."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from starlette.requests import Request

from api import deps
from tests.api.factories import make_user


def request(method: str, pool: ConnectionPool, token: str | None = None) -> Request:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    app = SimpleNamespace(state=SimpleNamespace(pool=pool, settings=None))
    return Request({"type": "http", "method": method, "path": "/", "query_string": b"", "headers": headers, "app": app})


@pytest.mark.parametrize(
    ("method", "autocommit", "after_a_read"),
    [("GET", True, TransactionStatus.IDLE), ("POST", False, TransactionStatus.INTRANS)],
)
def test_a_get_runs_without_begin_or_commit_and_other_methods_in_a_transaction(
    database_url, method, autocommit, after_a_read
):
    with psycopg.connect(database_url, autocommit=True) as admin:
        token = make_user(admin, deps.Role.TECHNICIAN)
    with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
        asking = request(method, pool, token)
        dependency = deps.connection(asking)
        conn = next(dependency)
        assert deps.authenticate(asking, conn).role is deps.Role.TECHNICIAN
        assert conn.autocommit is autocommit
        conn.execute("SELECT count(*) FROM lamps")
        assert conn.info.transaction_status == after_a_read
        with pytest.raises(StopIteration):
            next(dependency)
        # the pool's next user (a job, a write) gets a connection that opens transactions again
        with pool.connection() as again:
            assert again is conn and again.autocommit is False
