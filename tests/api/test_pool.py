"""The API's pool, as the service opens it: each connection set up once, and tried before it is lent."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app, open_pool
from core.db import scalar
from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import api_client, bearer


def test_each_connection_limits_statements_and_plans_for_the_values_given(database_url):
    settings = Settings(_env_file=None, db_pool_size=2, api_statement_timeout_s=1.5)
    with open_pool(database_url, settings) as pool, pool.connection() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1500ms"
        # PostgreSQL's default: a chart is planned for its range, not for every chunk (api.app.open_pool)
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "auto"


def _end_every_session_but_this_one(conn: psycopg.Connection) -> int:
    """What a database restart or failover does to the pool's connections: the server ends them."""
    return scalar(
        conn,
        """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'""",
    )


def test_after_the_servers_sessions_end_every_next_request_succeeds(db, timescale_url):
    token = make_user(db, Role.TECHNICIAN)
    with api_client(timescale_url) as client:
        pool = client.app.state.pool
        lent = [pool.getconn() for _ in range(pool.max_size)]  # every connection the pool may hold, idle
        for conn in lent:
            pool.putconn(conn)
        assert _end_every_session_but_this_one(db) == 4

        answers = [client.get("/api/v1/auth/me", headers=bearer(token)).status_code for _ in range(20)]

        assert answers == [200] * 20
        # All four were found broken and discarded, none lent: the first one found had the pool try
        # its three idle fellows at once.
        assert pool.get_stats()["connections_lost"] == 4


def test_a_connection_that_breaks_during_a_request_answers_503_and_the_next_request_succeeds(db, timescale_url):
    token = make_user(db, Role.TECHNICIAN)
    # A pool that lends without trying, as a connection that breaks after the try would be lent.
    with ConnectionPool(timescale_url, min_size=1, max_size=1) as pool:
        client = TestClient(create_app(pool, settings=Settings(_env_file=None)), raise_server_exceptions=False)
        assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
        assert _end_every_session_but_this_one(db) == 1

        broken = client.get("/api/v1/auth/me", headers=bearer(token))
        again = client.get("/api/v1/auth/me", headers=bearer(token))

    assert broken.status_code == 503
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.headers["retry-after"] == "5"
    assert broken.json()["type"] == "urn:streetlight:problem:database-unavailable"
    assert again.status_code == 200
