"""Signing in to the console, sessions and CSRF, the sign-in limit, one's own account, API tokens."""

from __future__ import annotations

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.deps import SESSION_COOKIE, Role, sha256_hex
from core.settings import Settings
from tests.api.factories import PASSWORD, make_account, make_user

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def db(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        make_account(conn, Role.TECHNICIAN, "alice")
        yield conn


@pytest.fixture
def pool(db, timescale_url: str):
    with ConnectionPool(timescale_url, min_size=1, max_size=4) as pool:
        yield pool


@pytest.fixture
def app(pool):
    return create_app(pool, settings=Settings(_env_file=None))


@pytest.fixture
def client(app):
    return TestClient(app)


def from_address(app, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000))


def sign_in(client: TestClient, username: str = "alice", password: str = PASSWORD) -> str:
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def audit_rows(db, action: str) -> list[dict]:
    cur = db.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute("SELECT * FROM audit_log WHERE action = %s ORDER BY audit_id", (action,)).fetchall()


# --- sessions -----------------------------------------------------------------------------------------
def test_login_sets_an_http_only_session_cookie_and_returns_the_csrf_token(client, db):
    response = client.post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice" and body["role"] == "technician" and body["locale"] == "fr"
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie, "12 hours by default"
    assert "Secure" not in cookie, "plain HTTP, and the setting is off"

    session_id = client.cookies[SESSION_COOKIE]
    stored = db.execute("SELECT session_sha256, expires_at - created_at FROM sessions").fetchall()
    assert [row[0] for row in stored] == [sha256_hex(session_id)], "only the id's hash is kept"
    assert stored[0][1].total_seconds() == 12 * 3600

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json() | {"csrf_token": None} == {
        "username": "alice", "display_name": "", "role": "technician", "locale": "fr", "via": "session",
        "csrf_token": None,
    }
    assert me.json()["csrf_token"] == body["csrf_token"], "a reloaded console gets its CSRF token back"
    [entry] = audit_rows(db, "login")
    assert entry["actor"] == "alice" and entry["target"] == "user:alice" and entry["client_ip"] == "testclient"


def test_a_cookie_change_needs_the_csrf_token(client):
    csrf = sign_in(client)
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}).status_code == 403
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.get("/api/v1/auth/tokens").status_code == 200, "reading needs no CSRF token"


def test_logout_needs_the_csrf_token_and_ends_the_session(client, db):
    csrf = sign_in(client)
    session_id = client.cookies[SESSION_COOKIE]
    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200
    response = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert TestClient(client.app, cookies={SESSION_COOKIE: session_id}).get("/api/v1/auth/me").status_code == 401
    assert len(audit_rows(db, "logout")) == 1


def test_an_expired_session_or_a_deactivated_account_is_refused(client, db):
    sign_in(client)
    db.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/api/v1/auth/me").status_code == 401
    sign_in(client)
    db.execute("UPDATE users SET active = false")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_each_login_gets_a_new_session_id(client, db):
    sign_in(client)
    first = client.cookies[SESSION_COOKIE]
    sign_in(client)
    assert client.cookies[SESSION_COOKIE] != first
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1, "the previous session is ended"


def test_the_console_form_signs_in_and_may_go_on_to_a_local_page(app):
    client = TestClient(app, follow_redirects=False)
    form = {"username": "alice", "password": PASSWORD}
    response = client.post(LOGIN, data=form)
    assert response.status_code == 200 and response.json()["username"] == "alice"
    response = client.post(LOGIN, data=form | {"next": "/console/lamps"})
    assert response.status_code == 303 and response.headers["location"] == "/console/lamps"
    assert SESSION_COOKIE in response.headers["set-cookie"]
    response = client.post(LOGIN, data=form | {"next": "//elsewhere.example/"})
    assert response.status_code == 200, "a redirect off the site is ignored"
    assert client.post(LOGIN, data={"username": "alice", "password": "wrong password"}).status_code == 401
    assert client.post(LOGIN, content=b"username=alice", headers={"Content-Type": "text/plain"}).status_code == 422


def test_a_sign_in_posted_from_another_site_is_refused(client):
    response = client.post(
        LOGIN, data={"username": "alice", "password": PASSWORD}, headers={"Origin": "https://elsewhere.example"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    response = client.post(LOGIN, data={"username": "alice", "password": PASSWORD}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    credentials = {"username": "alice", "password": PASSWORD}
    assert client.post(LOGIN, json=credentials, headers={"Origin": "http://testserver"}).status_code == 200
    # A proxy may change the Host; browsers that send Sec-Fetch-Site do not depend on it.
    headers = {"Origin": "https://lights.example", "Sec-Fetch-Site": "same-origin"}
    assert client.post(LOGIN, json=credentials, headers=headers).status_code == 200


def test_the_cookie_is_secure_over_https_or_when_configured(app, pool):
    response = TestClient(app, base_url="https://testserver").post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]
    configured = create_app(pool, settings=Settings(_env_file=None, session_cookie_secure=True, session_hours=1))
    response = TestClient(configured).post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"] and "Max-Age=3600" in response.headers["set-cookie"]


# --- wrong passwords and the limit --------------------------------------------------------------------
def test_a_wrong_password_or_unknown_user_is_401_and_audited(client, db):
    for username, password in (("alice", "not her password"), ("nobody", PASSWORD)):
        response = client.post(LOGIN, json={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong username or password", "the same answer: no user enumeration"
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    entries = audit_rows(db, "login_failed")
    assert [(e["actor"], e["target"], e["client_ip"]) for e in entries] == [
        ("anonymous", "user:alice", "testclient"),
        ("anonymous", "user:nobody", "testclient"),
    ]
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_an_unknown_user_costs_a_password_verification(client, monkeypatch):
    import api.accounts

    burned = []
    monkeypatch.setattr(api.accounts, "burn_verification", burned.append)
    client.post(LOGIN, json={"username": "nobody", "password": "some password"})
    assert burned == ["some password"]


def test_five_failures_for_one_username_lock_it_for_fifteen_minutes(app, db):
    for i in range(5):
        response = from_address(app, f"10.0.0.{i}").post(LOGIN, json={"username": "alice", "password": f"wrong {i}"})
        assert response.status_code == 401
    # The right password, from yet another address: refused too, without being checked.
    response = from_address(app, "10.0.0.9").post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 880 <= int(response.headers["retry-after"]) <= 900
    assert len(audit_rows(db, "login_throttled")) == 1
    assert len(audit_rows(db, "login_failed")) == 5, "refused attempts do not extend the lock"
    # Fifteen minutes later the failures no longer count.
    db.execute("UPDATE audit_log SET at = at - interval '15 minutes 1 second'")
    assert from_address(app, "10.0.0.9").post(LOGIN, json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_five_failures_from_one_address_lock_it_for_every_username(app, db):
    make_account(db, Role.TECHNICIAN, "bob")
    attacker = from_address(app, "192.0.2.7")
    for name in ("u1", "u2", "u3", "u4", "alice"):
        assert attacker.post(LOGIN, json={"username": name, "password": "guess guess"}).status_code == 401
    response = attacker.post(LOGIN, json={"username": "bob", "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert from_address(app, "192.0.2.8").post(LOGIN, json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_a_successful_sign_in_resets_the_count_for_its_username(app):
    for round_ in range(2):
        for i in range(4):
            client = from_address(app, f"10.1.{round_}.{i}")
            assert client.post(LOGIN, json={"username": "alice", "password": "wrong one"}).status_code == 401
        assert from_address(app, f"10.1.{round_}.9").post(
            LOGIN, json={"username": "alice", "password": PASSWORD}
        ).status_code == 200


def test_the_limit_holds_across_application_instances(pool, db):
    # Two processes share nothing but the database.
    first = TestClient(create_app(pool, settings=Settings(_env_file=None)))
    second = TestClient(create_app(pool, settings=Settings(_env_file=None)))
    for i in range(5):
        (first if i % 2 else second).post(LOGIN, json={"username": "alice", "password": "wrong one"})
    assert first.post(LOGIN, json={"username": "alice", "password": PASSWORD}).status_code == 429
    assert second.post(LOGIN, json={"username": "alice", "password": PASSWORD}).status_code == 429


# --- passwords -----------------------------------------------------------------------------------------
def test_passwords_are_stored_as_argon2id_hashes(db):
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_a_hash_with_old_parameters_is_replaced_at_login(client, db):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    db.execute("UPDATE users SET password_hash = %s WHERE username = 'alice'", (weak,))
    sign_in(client)
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()[0]
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, PASSWORD)


def test_one_changes_ones_own_locale(client, db):
    csrf = sign_in(client)
    response = client.patch("/api/v1/auth/me", json={"locale": "en"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200 and response.json()["locale"] == "en"
    [entry] = audit_rows(db, "user.update")
    assert (entry["actor"], entry["before"], entry["after"]) == ("alice", {"locale": "fr"}, {"locale": "en"})
    assert client.patch("/api/v1/auth/me", json={"role": "admin"}, headers={"X-CSRF-Token": csrf}).status_code == 422


def test_changing_ones_password_needs_the_current_one(app, client, db):
    csrf = sign_in(client)
    other_device = TestClient(app)
    sign_in(other_device)
    headers = {"X-CSRF-Token": csrf}
    new = "un-nouveau-mot-de-passe"
    assert client.patch("/api/v1/auth/me", json={"password": new}, headers=headers).status_code == 422
    wrong = client.patch("/api/v1/auth/me", json={"password": new, "current_password": "a guess"}, headers=headers)
    assert wrong.status_code == 403
    assert len(audit_rows(db, "password_change_failed")) == 1, "audited, and counted towards the limit"
    weak = client.patch("/api/v1/auth/me", json={"password": "short", "current_password": PASSWORD}, headers=headers)
    assert weak.status_code == 422
    ok = client.patch("/api/v1/auth/me", json={"password": new, "current_password": PASSWORD}, headers=headers)
    assert ok.status_code == 200
    assert len(audit_rows(db, "user.password_change")) == 1
    assert client.get("/api/v1/auth/me").status_code == 200, "this session goes on"
    assert other_device.get("/api/v1/auth/me").status_code == 401, "the other sessions are ended"
    assert TestClient(app).post(LOGIN, json={"username": "alice", "password": PASSWORD}).status_code == 401
    sign_in(TestClient(app), password=new)


def test_guessing_the_current_password_hits_the_limit(client):
    csrf = sign_in(client)
    change = {"password": "un-nouveau-mot-de-passe", "current_password": "a guess"}
    for _ in range(5):
        assert client.patch("/api/v1/auth/me", json=change, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.patch("/api/v1/auth/me", json=change, headers={"X-CSRF-Token": csrf}).status_code == 429


# --- API tokens ----------------------------------------------------------------------------------------
def test_tokens_are_made_listed_and_revoked(client, db):
    csrf = sign_in(client)
    made = client.post("/api/v1/auth/tokens", json={"name": "tablet"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("slt_") and made.json()["name"] == "tablet"
    stored = db.execute("SELECT token_sha256 FROM api_tokens").fetchone()[0]
    assert stored == sha256_hex(token), "only the hash is kept"

    listed = client.get("/api/v1/auth/tokens").json()
    assert [t["name"] for t in listed] == ["tablet"]
    assert "token" not in listed[0] and stored not in str(listed), "never the token again"

    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    me = bearer.get("/api/v1/auth/me").json()
    assert me["via"] == "token" and me["csrf_token"] is None
    token_id = made.json()["token_id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert bearer.get("/api/v1/auth/me").status_code == 401, "a revoked token is refused"
    assert client.get("/api/v1/auth/tokens").json()[0]["revoked_at"] is not None
    assert [e["target"] for e in audit_rows(db, "token.create")] == [f"token:{token_id}"]
    [revoked] = audit_rows(db, "token.revoke")
    assert revoked["before"]["revoked_at"] is None and revoked["after"]["revoked_at"] is not None


def test_a_token_can_revoke_itself_without_csrf(client, db):
    token = make_user(db, Role.ENERGY_MANAGER, "eve")
    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    [mine] = bearer.get("/api/v1/auth/tokens").json()
    assert bearer.delete(f"/api/v1/auth/tokens/{mine['token_id']}").status_code == 204
    assert bearer.get("/api/v1/auth/tokens").status_code == 401


def test_only_administrators_touch_other_accounts_tokens(client, db):
    tech = TestClient(client.app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    admin = TestClient(client.app, headers={"Authorization": f"Bearer {make_user(db, Role.ADMIN, 'ada')}"})
    [toms] = tech.get("/api/v1/auth/tokens").json()
    [adas] = admin.get("/api/v1/auth/tokens").json()
    assert tech.delete(f"/api/v1/auth/tokens/{adas['token_id']}").status_code == 404
    assert tech.get("/api/v1/auth/tokens", params={"username": "ada"}).status_code == 403
    assert tech.post("/api/v1/auth/tokens", json={"name": "x", "username": "ada"}).status_code == 403
    assert admin.get("/api/v1/auth/tokens", params={"username": "tom"}).json() == [toms]
    made = admin.post("/api/v1/auth/tokens", json={"name": "for tom", "username": "tom"})
    assert made.status_code == 201 and made.json()["username"] == "tom"
    assert admin.delete(f"/api/v1/auth/tokens/{toms['token_id']}").status_code == 204
    assert tech.get("/api/v1/auth/me").status_code == 401
    assert admin.delete("/api/v1/auth/tokens/999999").status_code == 404


def test_anonymous_requests_are_refused(client):
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/tokens").status_code == 401
    assert client.post("/api/v1/auth/tokens", json={}).status_code == 401
    assert client.post("/api/v1/auth/logout").status_code == 401
