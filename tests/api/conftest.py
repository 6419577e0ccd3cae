"""Fixtures shared by the API tests: a connection to a fresh TimescaleDB database and a client of the app."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from core.db import upgrade
from tests.api.fleet_factories import api_client
from tests.conftest import drop_database, fresh_database


@pytest.fixture
def db(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(db, timescale_url: str):
    with api_client(timescale_url) as client:
        yield client


@pytest.fixture(scope="module")
def module_timescale_url(admin_urls: dict[str, str]) -> Iterator[str]:
    """A migrated, empty database on the project's TimescaleDB, shared by the tests of one module."""
    admin = admin_urls["timescale"]
    name, url = fresh_database(admin)
    upgrade(url)
    yield url
    drop_database(admin, name)
