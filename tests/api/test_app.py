"""The HTTP API against a real database: health is open, everything else needs an account."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.principals import forget_principals
from core.vocabulary import Role
from tests.api.factories import make_user


@pytest.fixture
def db(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lamps (lamp_id, name) SELECT 'L' || lpad(g::text, 3, '0'), 'n' FROM generate_series(1, 25) g"
        )
        yield conn


@pytest.fixture
def client(db, timescale_url: str):
    with ConnectionPool(timescale_url, min_size=1, max_size=2) as pool:
        yield TestClient(create_app(pool, readiness=lambda: {"broker": True}))


def test_health_needs_no_authentication(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


def test_readiness_fails_when_a_dependency_is_down(timescale_url: str):
    with ConnectionPool(timescale_url, min_size=1, max_size=1) as pool:
        client = TestClient(create_app(pool, readiness=lambda: {"broker": False}))
        assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize("header", [None, "Bearer slt_wrong-token", "Basic dXNlcjpwYXNz"])
def test_the_lamp_list_refuses_missing_or_wrong_credentials(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/lamps", headers=headers)
    assert response.status_code == 401


def test_a_revoked_token_or_inactive_user_is_refused(client, db):
    token = make_user(db, Role.TECHNICIAN, "tech-a")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/lamps", headers=auth).status_code == 200
    db.execute("UPDATE users SET active = false WHERE username = 'tech-a'")
    forget_principals()  # as once the delay has passed (tests/api/accounts/test_auth.py)
    assert client.get("/api/v1/lamps", headers=auth).status_code == 401
    db.execute("UPDATE users SET active = true WHERE username = 'tech-a'")
    db.execute("UPDATE api_tokens SET revoked_at = now()")
    forget_principals()
    assert client.get("/api/v1/lamps", headers=auth).status_code == 401


def test_the_lamp_list_pages_through_the_inventory(client, db):
    auth = {"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN)}"}
    first = client.get("/api/v1/lamps", params={"limit": 10}, headers=auth).json()
    assert first["total"] == 25
    assert [lamp["lamp_id"] for lamp in first["items"]] == [f"L{i:03d}" for i in range(1, 11)]
    last = client.get("/api/v1/lamps", params={"limit": 10, "offset": 20}, headers=auth).json()
    assert len(last["items"]) == 5
    assert client.get("/api/v1/lamps", params={"limit": 0}, headers=auth).status_code == 422
