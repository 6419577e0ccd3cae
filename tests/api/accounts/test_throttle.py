"""The sign-in limit through the API and the console's form: per address, and per address and username.

Time is the limit's clock, moved by hand: no test waits for a delay to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

import accounts.throttle
import accounts.users
from api.app import create_app
from api.principals import SESSION_COOKIE
from core.settings import Settings
from core.vocabulary import Role
from tests.accounts.hashing import fast_hashing
from tests.api.factories import PASSWORD, make_account, make_user

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
SPRAYER = "198.51.100.66"
OWNER = "203.0.113.5"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(accounts.throttle, "clock", fake)
    return fake


@pytest.fixture
def db(clock, timescale_url: str) -> Iterator[psycopg.Connection]:
    with fast_hashing(), psycopg.connect(timescale_url, autocommit=True) as conn:
        make_account(conn, Role.TECHNICIAN, "alice")
        yield conn


@pytest.fixture
def pool(db, timescale_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(timescale_url, min_size=1, max_size=4) as pool:
        yield pool


@pytest.fixture
def app(pool):
    return create_app(pool, settings=Settings(_env_file=None))


def from_address(app, ip: str, **kwargs) -> TestClient:
    return TestClient(app, client=(ip, 50000), **kwargs)


def login(client: TestClient, username: str, password: str):
    return client.post(LOGIN, json={"username": username, "password": password})


def throttled_rows(db) -> list[tuple]:
    return db.execute(
        "SELECT actor, target, client_ip, after FROM audit_log WHERE action = 'login_throttled' ORDER BY audit_id"
    ).fetchall()


def count(db, action: str) -> int:
    return db.execute("SELECT count(*) FROM audit_log WHERE action = %s", (action,)).fetchone()[0]


def refused_counts(app, db) -> dict[str, float]:
    """streetlight_login_throttled_total by limit, as /metrics says."""
    response = TestClient(app, headers={"Authorization": f"Bearer {make_user(db, Role.TECHNICIAN)}"}).get("/metrics")
    assert response.status_code == 200
    return {
        sample.labels["limit"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "streetlight_login_throttled_total"
    }


def test_wrong_passwords_from_one_address_never_refuse_the_owner_at_another(app, db, monkeypatch):
    sprayer = from_address(app, SPRAYER)
    assert [login(sprayer, "alice", f"guess {i}").status_code for i in range(5)] == [401] * 5
    checked = []
    with monkeypatch.context() as patch:
        patch.setattr(accounts.users, "verify_password_hash", lambda *args: checked.append(args) or False)
        refused = login(sprayer, "alice", PASSWORD)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "15"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "too many failed sign-ins from this address; try again in 15 s",
        "instance": LOGIN,
    }
    assert checked == [], "a refused attempt does not look at the password"
    owner = from_address(app, OWNER)
    response = login(owner, "alice", PASSWORD)
    assert response.status_code == 200 and SESSION_COOKIE in owner.cookies
    assert (count(db, "login_failed"), count(db, "login_throttled"), count(db, "login")) == (5, 1, 1)


def test_a_sprayer_is_slowed_per_address_across_usernames(app, db):
    sprayer = from_address(app, SPRAYER)
    assert [login(sprayer, f"agent{i}", "Automne2026!").status_code for i in range(20)] == [401] * 20
    response = login(sprayer, "agent20", "Automne2026!")
    assert response.status_code == 429 and response.headers["retry-after"] == "15"
    assert login(sprayer, "alice", PASSWORD).status_code == 429, "every account, from that address"
    assert login(from_address(app, OWNER), "alice", PASSWORD).status_code == 200
    assert [row[3]["limit"] for row in throttled_rows(db)] == ["address", "address"]


def test_each_further_failure_doubles_the_wait_up_to_fifteen_minutes(app, db, clock):
    guesser = from_address(app, SPRAYER)
    for i in range(5):
        assert login(guesser, "alice", f"guess {i}").status_code == 401
    waits = []
    for _ in range(8):
        response = login(guesser, "alice", "another guess")
        assert response.status_code == 429
        waits.append(int(response.headers["retry-after"]))
        clock.advance(waits[-1] - 1)
        assert login(guesser, "alice", "another guess").headers["retry-after"] == "1", "not a second early"
        clock.advance(1)
        assert login(guesser, "alice", "another guess").status_code == 401
    assert waits == [15, 30, 60, 120, 240, 480, 900, 900]
    assert count(db, "login_failed") == 5 + 8, "refused attempts do not lengthen the wait"
    # The owner, at home, meanwhile:
    assert login(from_address(app, OWNER), "alice", PASSWORD).status_code == 200


def test_a_sign_in_forgives_the_owners_typing_errors(app):
    owner = from_address(app, OWNER)
    for _ in range(3):
        assert [login(owner, "alice", "typo").status_code for _ in range(4)] == [401] * 4
        assert login(owner, "alice", PASSWORD).status_code == 200


def test_every_refusal_is_audited_and_counted_in_metrics(app, db, clock):
    assert refused_counts(app, db) == {"address": 0, "address_user": 0}
    guesser = from_address(app, "192.0.2.1")
    for i in range(5):
        login(guesser, "alice", f"guess {i}")
    assert [login(guesser, "alice", "guess").status_code for _ in range(2)] == [429, 429]
    sprayer = from_address(app, SPRAYER)
    for i in range(20):
        login(sprayer, f"agent{i}", "Automne2026!")
    assert [login(sprayer, f"agent{i}", "Automne2026!").status_code for i in range(20, 23)] == [429] * 3
    # Guessing the current password from a signed-in session counts the same way.
    session = from_address(app, OWNER)
    csrf = login(session, "alice", PASSWORD).json()["csrf_token"]
    change = {"password": "un-nouveau-mot-de-passe", "current_password": "a guess"}
    headers = {"X-CSRF-Token": csrf}
    assert [session.patch(ME, json=change, headers=headers).status_code for _ in range(6)] == [403] * 5 + [429]

    assert refused_counts(app, db) == {"address": 3, "address_user": 3}
    assert throttled_rows(db) == [
        ("anonymous", "user:alice", "192.0.2.1", {"limit": "address_user", "attempt": "login", "retry_after_s": 15}),
        ("anonymous", "user:alice", "192.0.2.1", {"limit": "address_user", "attempt": "login", "retry_after_s": 15}),
        ("anonymous", "user:agent20", SPRAYER, {"limit": "address", "attempt": "login", "retry_after_s": 15}),
        ("anonymous", "user:agent21", SPRAYER, {"limit": "address", "attempt": "login", "retry_after_s": 15}),
        ("anonymous", "user:agent22", SPRAYER, {"limit": "address", "attempt": "login", "retry_after_s": 15}),
        ("alice", "user:alice", OWNER, {"limit": "address_user", "attempt": "password_change", "retry_after_s": 15}),
    ]
    assert count(db, "password_change_failed") == 5
    # The guessing session's own address is slowed; the account is not.
    assert login(from_address(app, "192.0.2.200"), "alice", PASSWORD).status_code == 200


def test_the_console_form_is_limited_the_same_way(app):
    sprayer = from_address(app, SPRAYER, follow_redirects=False)
    form = {"username": "alice", "password": "guess", "next": "/lists/out"}
    assert [sprayer.post(LOGIN, data=form).status_code for _ in range(5)] == [401] * 5
    refused = sprayer.post(LOGIN, data=form | {"password": PASSWORD})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "15"
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    owner = from_address(app, OWNER, follow_redirects=False)
    signed_in = owner.post(LOGIN, data=form | {"password": PASSWORD})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/lists/out"
    assert SESSION_COOKIE in signed_in.headers["set-cookie"]


def test_the_limit_holds_across_application_instances(pool, db):
    # Two processes share nothing but the database.
    first = create_app(pool, settings=Settings(_env_file=None))
    second = create_app(pool, settings=Settings(_env_file=None))
    for i in range(5):
        assert login(from_address(first if i % 2 else second, SPRAYER), "alice", "guess").status_code == 401
    assert login(from_address(first, SPRAYER), "alice", PASSWORD).status_code == 429
    assert login(from_address(second, SPRAYER), "alice", PASSWORD).status_code == 429
    assert login(from_address(second, OWNER), "alice", PASSWORD).status_code == 200
    assert refused_counts(first, db) == {"address": 0, "address_user": 1}, "each process counts its own"


def test_the_limits_are_settings(pool, db, clock):
    settings = Settings(
        _env_file=None,
        login_failures_per_address_user=2,
        login_failures_per_address=3,
        login_first_delay_s=4,
        login_max_delay_s=6,
    )
    client = from_address(create_app(pool, settings=settings), SPRAYER)
    assert [login(client, "alice", "guess").status_code for _ in range(2)] == [401, 401]
    assert login(client, "alice", PASSWORD).headers["retry-after"] == "4"
    assert login(client, "bob", "guess").status_code == 401
    assert login(client, "carol", "guess").headers["retry-after"] == "4", "3 from the address"
    clock.advance(4)
    assert login(client, "carol", "guess").status_code == 401
    assert login(client, "dave", "guess").headers["retry-after"] == "6", "4 from the address: 8 s, at most 6"
