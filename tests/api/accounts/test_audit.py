"""The audit log's endpoint, for administrators (`record` itself: tests/accounts/test_audit.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import make_user


@pytest.fixture
def app(db, timescale_url: str):
    with ConnectionPool(timescale_url, min_size=1, max_size=2) as pool:
        yield create_app(pool, settings=Settings(_env_file=None))


@pytest.fixture
def admin(app, db) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.ADMIN, 'ada')}"})


def test_only_administrators_read_the_audit_log(app, db):
    assert TestClient(app).get("/api/v1/audit").status_code == 401
    for role in (Role.TECHNICIAN, Role.ENERGY_MANAGER):
        client = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, role)}"})
        assert client.get("/api/v1/audit").status_code == 403


def test_the_audit_log_filters_and_pages_newest_first(admin, db):
    now = datetime.now(UTC)
    for minutes_ago, actor, action, target in (
        (50, "anonymous", "login_failed", "user:tom"),
        (40, "tom", "login", "user:tom"),
        (30, "ada", "user.update", "user:tom"),
        (20, "ada", "token.revoke", "token:3"),
        (10, "ada", "user.update", "user:bea"),
    ):
        db.execute(
            "INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                now - timedelta(minutes=minutes_ago),
                actor,
                action,
                target,
                psycopg.types.json.Jsonb({"role": "technician"}),
                psycopg.types.json.Jsonb({"role": "admin"}),
            ),
        )
    page = admin.get("/api/v1/audit").json()
    assert page["total"] == 5 and page["limit"] == 100 and page["offset"] == 0
    assert [e["target"] for e in page["items"]] == ["user:bea", "token:3", "user:tom", "user:tom", "user:tom"]
    assert page["items"][0]["before"] == {"role": "technician"} and page["items"][0]["after"] == {"role": "admin"}

    def targets(**params) -> list[str]:
        response = admin.get("/api/v1/audit", params=params)
        assert response.status_code == 200, response.text
        return [e["target"] for e in response.json()["items"]]

    assert targets(actor="ada") == ["user:bea", "token:3", "user:tom"]
    assert targets(action="user.update") == ["user:bea", "user:tom"]
    assert targets(action="user.update", actor="ada", target="user:tom") == ["user:tom"]
    assert targets(
        since=(now - timedelta(minutes=35)).isoformat(), until=(now - timedelta(minutes=15)).isoformat()
    ) == ["token:3", "user:tom"]
    naive_utc = (now - timedelta(minutes=15)).replace(tzinfo=None).isoformat()
    assert targets(since=naive_utc) == ["user:bea"], "a time without offset is UTC"
    assert targets(limit=2, offset=2) == ["user:tom", "user:tom"]
    assert admin.get("/api/v1/audit", params={"limit": 2}).json()["total"] == 5
    assert admin.get("/api/v1/audit", params={"since": now.isoformat(), "until": now.isoformat()}).status_code == 422
    assert admin.get("/api/v1/audit", params={"limit": 0}).status_code == 422


def test_account_changes_through_the_api_show_in_the_log(admin):
    assert admin.post("/api/v1/users", json={"username": "tom", "role": "technician"}).status_code == 201
    assert admin.patch("/api/v1/users/tom", json={"role": "admin"}).status_code == 200
    [change] = admin.get("/api/v1/audit", params={"action": "user.update"}).json()["items"]
    assert (change["actor"], change["target"]) == ("ada", "user:tom")
    assert (change["before"], change["after"]) == ({"role": "technician"}, {"role": "admin"})
    assert change["client_ip"] == "testclient"
