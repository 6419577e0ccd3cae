"""Accounts, for administrators only; every change audited with the fields before and after."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import PASSWORD, make_account, make_user

NEW_PASSWORD = "reverbere-de-la-place"


@pytest.fixture
def app(db, timescale_url: str):
    with ConnectionPool(timescale_url, min_size=1, max_size=4) as pool:
        yield create_app(pool, settings=Settings(_env_file=None))


def as_role(app, db, role: Role, username: str | None = None) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {make_user(db, role, username)}"})


@pytest.fixture
def admin(app, db) -> TestClient:
    return as_role(app, db, Role.ADMIN, "ada")


def audit_rows(db, action: str) -> list[dict]:
    cur = db.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM audit_log WHERE action = %s ORDER BY audit_id", (action,)).fetchall()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"username": "zoe", "role": "technician"}),
        ("GET", "/api/v1/users/ada", None),
        ("PATCH", "/api/v1/users/ada", {"role": "technician"}),
    ],
)
def test_only_administrators_manage_accounts(app, db, admin, method, path, body):
    assert TestClient(app).request(method, path, json=body).status_code == 401
    for role in (Role.TECHNICIAN, Role.ENERGY_MANAGER):
        assert as_role(app, db, role).request(method, path, json=body).status_code == 403
    assert db.execute("SELECT count(*) FROM users WHERE username = 'zoe'").fetchone()[0] == 0
    assert db.execute("SELECT role FROM users WHERE username = 'ada'").fetchone()[0] == "admin"


def test_an_administrator_lists_and_creates_accounts(admin, db, app):
    response = admin.post(
        "/api/v1/users",
        json={
            "username": "zoe",
            "role": "energy_manager",
            "locale": "en",
            "display_name": "Zoé",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 201
    created = response.json()
    assert created["username"] == "zoe" and created["role"] == "energy_manager" and created["has_password"] is True
    assert "password" not in created and "password_hash" not in created
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'zoe'").fetchone()[0]
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored
    assert [u["username"] for u in admin.get("/api/v1/users").json()] == ["ada", "zoe"]
    assert admin.get("/api/v1/users/zoe").json()["display_name"] == "Zoé"
    assert admin.get("/api/v1/users/nobody").status_code == 404
    [entry] = audit_rows(db, "user.create")
    assert entry["actor"] == "ada" and entry["target"] == "user:zoe"
    assert entry["after"] == {
        "username": "zoe",
        "display_name": "Zoé",
        "role": "energy_manager",
        "locale": "en",
        "active": True,
        "has_password": True,
    }
    login = TestClient(app).post("/api/v1/auth/login", json={"username": "zoe", "password": NEW_PASSWORD})
    assert login.status_code == 200 and login.json()["locale"] == "en"


def test_an_account_without_password_uses_tokens_only(admin, app):
    created = admin.post("/api/v1/users", json={"username": "scada", "role": "technician"}).json()
    assert created["has_password"] is False
    assert (
        TestClient(app).post("/api/v1/auth/login", json={"username": "scada", "password": "x" * 12}).status_code == 401
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "zoe", "role": "technician", "password": "too short"}, "password"),
        ({"username": "longusername1", "role": "technician", "password": "LongUsername1"}, "password"),
        ({"username": "zo e", "role": "technician"}, "username"),
        ({"username": "zoe", "role": "superuser"}, "role"),
        ({"username": "zoe", "role": "technician", "locale": "de"}, "locale"),
    ],
)
def test_weak_passwords_and_bad_fields_are_refused(admin, db, body, field):
    response = admin.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert field in response.text
    assert "too short" not in response.text, "the password sent is not echoed"
    assert db.execute("SELECT count(*) FROM users WHERE username <> 'ada'").fetchone()[0] == 0


def test_a_username_is_taken_once(admin):
    assert admin.post("/api/v1/users", json={"username": "zoe", "role": "technician"}).status_code == 201
    assert admin.post("/api/v1/users", json={"username": "zoe", "role": "admin"}).status_code == 409


def test_a_role_change_is_audited_with_before_and_after(admin, db, app):
    make_account(db, Role.TECHNICIAN, "tom")
    response = admin.patch("/api/v1/users/tom", json={"role": "energy_manager", "display_name": "Tom D."})
    assert response.status_code == 200 and response.json()["role"] == "energy_manager"
    [entry] = audit_rows(db, "user.update")
    assert entry["actor"] == "ada" and entry["target"] == "user:tom" and entry["client_ip"] == "testclient"
    assert entry["before"] == {"role": "technician", "display_name": ""}
    assert entry["after"] == {"role": "energy_manager", "display_name": "Tom D."}
    # Nothing changed: nothing recorded.
    assert admin.patch("/api/v1/users/tom", json={"role": "energy_manager"}).status_code == 200
    assert len(audit_rows(db, "user.update")) == 1
    assert admin.patch("/api/v1/users/nobody", json={"role": "admin"}).status_code == 404


def test_a_password_reset_ends_the_sessions_and_is_audited_without_the_hash(admin, db, app):
    make_account(db, Role.TECHNICIAN, "tom")
    tom = TestClient(app)
    assert tom.post("/api/v1/auth/login", json={"username": "tom", "password": PASSWORD}).status_code == 200
    assert admin.patch("/api/v1/users/tom", json={"password": "short"}).status_code == 422
    assert admin.patch("/api/v1/users/tom", json={"password": NEW_PASSWORD}).status_code == 200
    assert tom.get("/api/v1/auth/me").status_code == 401
    assert tom.post("/api/v1/auth/login", json={"username": "tom", "password": NEW_PASSWORD}).status_code == 200
    [entry] = audit_rows(db, "user.password_reset")
    assert entry["actor"] == "ada" and entry["target"] == "user:tom"
    everything = json.dumps(
        [dict(r) for r in db.cursor(row_factory=dict_row).execute("SELECT * FROM audit_log")], default=str
    )
    assert "$argon2" not in everything and NEW_PASSWORD not in everything


def test_an_administrator_changes_their_own_password_with_the_current_one(admin):
    response = admin.patch("/api/v1/users/ada", json={"password": NEW_PASSWORD})
    assert response.status_code == 400 and "/api/v1/auth/me" in response.text


def test_a_deactivated_account_can_no_longer_sign_in_or_use_its_tokens(admin, db, app):
    token = make_user(db, Role.TECHNICIAN, "tom")
    assert admin.patch("/api/v1/users/tom", json={"active": False}).json()["active"] is False
    assert TestClient(app, headers={"Authorization": f"Bearer {token}"}).get("/api/v1/auth/me").status_code == 401
    [entry] = audit_rows(db, "user.update")
    assert (entry["before"], entry["after"]) == ({"active": True}, {"active": False})
    assert admin.patch("/api/v1/users/tom", json={"active": True}).status_code == 200
    assert TestClient(app, headers={"Authorization": f"Bearer {token}"}).get("/api/v1/auth/me").status_code == 200


def test_the_last_administrator_stays(admin, db, app):
    assert admin.patch("/api/v1/users/ada", json={"role": "technician"}).status_code == 409
    assert admin.patch("/api/v1/users/ada", json={"active": False}).status_code == 409
    other = as_role(app, db, Role.ADMIN, "bea")
    assert other.patch("/api/v1/users/ada", json={"role": "technician"}).status_code == 200
    assert other.patch("/api/v1/users/bea", json={"active": False}).status_code == 409
