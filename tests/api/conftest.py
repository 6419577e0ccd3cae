"""Fixtures shared by the API tests: a connection to a fresh TimescaleDB database and a client of the app."""

from __future__ import annotations

import psycopg
import pytest

from tests.api.fleet_factories import api_client


@pytest.fixture
def db(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(db, timescale_url: str):
    with api_client(timescale_url) as client:
        yield client
