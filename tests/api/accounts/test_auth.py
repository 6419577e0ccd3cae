"""Signing in to the console, sessions and CSRF, wrong passwords, one's own account, API tokens,
and the principals each server process keeps in memory for a few seconds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

import accounts.users
import api.principals
from accounts import sha256_hex
from api.app import create_app
from api.principals import SESSION_COOKIE, Principal, PrincipalCache
from core.settings import Settings
from core.vocabulary import Role
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
        "username": "alice",
        "display_name": "",
        "role": "technician",
        "locale": "fr",
        "via": "session",
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
    response = client.post(
        LOGIN, data={"username": "alice", "password": PASSWORD}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    credentials = {"username": "alice", "password": PASSWORD}
    assert client.post(LOGIN, json=credentials, headers={"Origin": "http://testserver"}).status_code == 200
    # A proxy may change the Host; browsers that send Sec-Fetch-Site do not depend on it.
    headers = {"Origin": "https://lights.example", "Sec-Fetch-Site": "same-origin"}
    assert client.post(LOGIN, json=credentials, headers=headers).status_code == 200


def test_the_cookie_is_secure_over_https_or_when_configured(app, pool):
    response = TestClient(app, base_url="https://testserver").post(
        LOGIN, json={"username": "alice", "password": PASSWORD}
    )
    assert "Secure" in response.headers["set-cookie"]
    configured = create_app(pool, settings=Settings(_env_file=None, session_cookie_secure=True, session_hours=1))
    response = TestClient(configured).post(LOGIN, json={"username": "alice", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"] and "Max-Age=3600" in response.headers["set-cookie"]


# --- wrong passwords (the sign-in limit: test_throttle.py) ---------------------------------------------
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
    burned = []
    monkeypatch.setattr(accounts.users, "burn_verification", burned.append)
    client.post(LOGIN, json={"username": "nobody", "password": "some password"})
    assert burned == ["some password"]


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


# --- principals kept in memory ---------------------------------------------------------------------------
CACHE_S = Settings(_env_file=None).auth_cache_s


class Clock:
    """The memory's clock, moved by hand: no test waits for the delay to pass."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock(monkeypatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(api.principals.principals, "clock", fake)
    api.principals.forget_principals()
    yield fake
    api.principals.forget_principals()


def test_the_delay_is_a_few_seconds_by_default():
    assert 0 < CACHE_S <= 5


def test_a_token_revoked_elsewhere_is_refused_within_the_delay(client, db, clock):
    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    assert bearer.get("/api/v1/auth/me").status_code == 200
    # Revoked by another server process or the command line: this process learns it from the database.
    db.execute("UPDATE api_tokens SET revoked_at = now()")
    clock.now_s += CACHE_S - 0.1
    assert bearer.get("/api/v1/auth/me").status_code == 200, "still the principal in memory"
    clock.now_s += 0.1
    assert bearer.get("/api/v1/auth/me").status_code == 401
    clock.now_s += 60
    assert bearer.get("/api/v1/auth/me").status_code == 401, "a refused token is not kept"


def test_an_account_deactivated_elsewhere_is_refused_within_the_delay(app, db, clock):
    bearer = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    console = TestClient(app)
    sign_in(console)
    assert bearer.get("/api/v1/lamps").status_code == 200
    assert console.get("/api/v1/auth/me").status_code == 200
    db.execute("UPDATE users SET active = false")
    clock.now_s += CACHE_S
    assert bearer.get("/api/v1/lamps").status_code == 401
    assert console.get("/api/v1/auth/me").status_code == 401


def test_a_role_changed_elsewhere_applies_within_the_delay(app, db, clock):
    admin = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.ADMIN, 'ada')}"})
    make_user(db, Role.ADMIN, "bea")  # so that ada is not the last administrator
    assert admin.get("/api/v1/users").status_code == 200
    db.execute("UPDATE users SET role = 'technician' WHERE username = 'ada'")
    clock.now_s += CACHE_S
    assert admin.get("/api/v1/users").status_code == 403
    assert admin.get("/api/v1/auth/me").json()["role"] == "technician"
    db.execute("UPDATE users SET role = 'admin' WHERE username = 'ada'")
    clock.now_s += CACHE_S
    assert admin.get("/api/v1/users").status_code == 200


def test_changes_made_through_this_process_apply_at_once(app, db, clock):
    admin = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.ADMIN, 'ada')}"})
    tom = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    assert tom.get("/api/v1/auth/me").json()["role"] == "technician"
    assert admin.patch("/api/v1/users/tom", json={"role": "energy_manager"}).status_code == 200
    assert tom.get("/api/v1/auth/me").json()["role"] == "energy_manager"
    assert admin.patch("/api/v1/users/tom", json={"active": False}).status_code == 200
    assert tom.get("/api/v1/auth/me").status_code == 401
    assert admin.patch("/api/v1/users/tom", json={"active": True}).status_code == 200
    [toms] = admin.get("/api/v1/auth/tokens", params={"username": "tom"}).json()
    assert tom.get("/api/v1/auth/me").status_code == 200
    assert admin.delete(f"/api/v1/auth/tokens/{toms['token_id']}").status_code == 204
    assert tom.get("/api/v1/auth/me").status_code == 401


def test_a_session_in_memory_ends_when_it_expires(client, db, clock):
    sign_in(client)
    db.execute("UPDATE sessions SET expires_at = now() + interval '2 seconds'")
    assert client.get("/api/v1/auth/me").status_code == 200
    # 2.5 s later (less than the delay), for the database as for the memory:
    db.execute("UPDATE sessions SET expires_at = expires_at - interval '2.5 seconds'")
    clock.now_s += 2.5
    assert client.get("/api/v1/auth/me").status_code == 401, "kept no longer than the session lasts"


def test_a_session_in_memory_still_needs_its_csrf_token(client, clock):
    csrf = sign_in(client)
    assert client.get("/api/v1/auth/me").status_code == 200  # now in memory
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}).status_code == 403
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_with_no_delay_nothing_is_kept(pool, db, clock):
    app = create_app(pool, settings=Settings(_env_file=None, auth_cache_s=0))
    bearer = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    assert bearer.get("/api/v1/auth/me").status_code == 200
    assert len(api.principals.principals) == 0
    db.execute("UPDATE api_tokens SET revoked_at = now()")
    assert bearer.get("/api/v1/auth/me").status_code == 401


def test_token_use_is_recorded_at_most_once_a_minute(pool, db, clock):
    app = create_app(pool, settings=Settings(_env_file=None, auth_cache_s=0))  # every request reads the database
    bearer = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})

    def last_used():
        return db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0]

    assert last_used() is None
    assert bearer.get("/api/v1/auth/me").status_code == 200
    first = last_used()
    assert first is not None
    db.execute("UPDATE api_tokens SET last_used_at = last_used_at - interval '50 seconds'")
    assert bearer.get("/api/v1/auth/me").status_code == 200
    assert last_used() == first - timedelta(seconds=50), "less than a minute old: not written again"
    db.execute("UPDATE api_tokens SET last_used_at = last_used_at - interval '11 seconds'")
    assert bearer.get("/api/v1/auth/me").status_code == 200
    assert last_used() > first, "a minute old: recorded again"


def test_token_use_is_not_recorded_for_a_revoked_token(pool, db, clock):
    app = create_app(pool, settings=Settings(_env_file=None, auth_cache_s=0))
    bearer = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN, 'tom')}"})
    db.execute("UPDATE api_tokens SET revoked_at = now()")
    assert bearer.get("/api/v1/auth/me").status_code == 401
    assert db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is None


def test_the_memory_is_safe_across_threads_and_bounded():
    memory = PrincipalCache(max_entries=50)
    principals = [Principal(i, f"user{i}", Role.TECHNICIAN, "fr", "token") for i in range(200)]
    errors = []

    def use(offset: int) -> None:
        try:
            for round_ in range(200):
                for p in principals[offset::4]:
                    memory.put(f"k{p.user_id}", p, 5.0)
                    found = memory.get(f"k{p.user_id}")
                    assert found is None or found == p
                if round_ % 50 == 0:
                    memory.clear()
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(memory) <= 50


def test_the_memory_forgets_expired_entries_first_when_full():
    clock = Clock()
    memory = PrincipalCache(max_entries=3, clock=clock)
    one, two, three, four = (Principal(i, f"u{i}", Role.ADMIN, "en", "token") for i in range(4))
    memory.put("a", one, 1.0)
    memory.put("b", two, 10.0)
    memory.put("c", three, 10.0)
    clock.now_s += 2
    memory.put("d", four, 10.0)
    assert (memory.get("a"), memory.get("b"), memory.get("c"), memory.get("d")) == (None, two, three, four)
