"""The sign-in limit: its delays (pure), and the failures it counts in the audit log of a real database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from accounts import LoginLimits, LoginThrottled, attempt_login, check_password_attempt, create_user
from accounts.throttle import ADDRESS, ADDRESS_USER, Failures, delay_s, failures_query, retry_after
from core.vocabulary import Role
from tests.accounts.hashing import fast_hashing

PASSWORD = "lampe-rue-de-la-gare"
LIMITS = LoginLimits()  # 5 per address and username, 20 per address, 15 s doubled up to 900 s, 24 h
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SPRAYER = "198.51.100.66"
OWNER = "203.0.113.5"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the delays, pure ---------------------------------------------------------------------------------
def test_the_delay_starts_at_the_allowance_and_doubles_up_to_the_maximum():
    waits = [delay_s(failures, 5, LIMITS) for failures in range(14)]
    assert waits == [0, 0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900, 900]
    assert delay_s(10**9, 5, LIMITS) == 900, "no overflow however many failures"
    assert delay_s(3, 1, LoginLimits(first_delay_s=2, max_delay_s=5)) == 5


def test_the_wait_runs_from_the_newest_failure_and_names_the_longer_limit():
    failures = {ADDRESS: Failures(20, at(0)), ADDRESS_USER: Failures(6, at(-10))}
    # Per address: 15 s from t=0; per address and username: 30 s from t=-10.
    assert retry_after(failures, LIMITS, at(5)) == (ADDRESS_USER, 15.0)
    assert retry_after(failures, LIMITS, at(12)) == (ADDRESS_USER, 8.0)
    assert retry_after(failures, LIMITS, at(20)) is None
    assert retry_after({ADDRESS: Failures(19, at(0)), ADDRESS_USER: Failures(4, at(0))}, LIMITS, at(0)) is None
    assert retry_after({ADDRESS: Failures(0, None), ADDRESS_USER: Failures(0, None)}, LIMITS, at(0)) is None


# --- on the database ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def quick_hashes():
    with fast_hashing():
        yield


@pytest.fixture
def db(quick_hashes, timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        for name in ("alice", "bob"):
            create_user(conn, name, Role.TECHNICIAN, password=PASSWORD)
        yield conn


@pytest.fixture
def conn(db, timescale_url: str):
    with psycopg.connect(timescale_url) as conn:
        yield conn


def sign_in(conn, username: str, password: str, ip: str | None, seconds: float, limits: LoginLimits = LIMITS):
    """ "ok", "wrong", or the seconds to wait; committed, as the API does."""
    try:
        user = attempt_login(conn, username, password, ip, limits=limits, now=at(seconds))
        return "ok" if user is not None else "wrong"
    except LoginThrottled as exc:
        return exc.retry_after_s
    finally:
        conn.commit()


def actions(db) -> list[tuple]:
    return db.execute("SELECT action, target, client_ip, after FROM audit_log ORDER BY audit_id").fetchall()


def test_a_guesser_on_one_account_waits_longer_after_each_failure_and_the_owner_does_not(conn, db):
    for i in range(5):
        assert sign_in(conn, "alice", "guess", SPRAYER, i) == "wrong"
    assert sign_in(conn, "alice", PASSWORD, SPRAYER, 4) == 15, "15 s after the fifth failure, the right one too"
    assert sign_in(conn, "alice", PASSWORD, OWNER, 4) == "ok", "from another address: never refused"
    assert sign_in(conn, "bob", "guess", SPRAYER, 5) == "wrong", "another account from there: under 20"
    now = 4
    for expected_s in (15, 30, 60, 120, 240, 480, 900, 900):
        assert sign_in(conn, "alice", "guess", SPRAYER, now + expected_s - 1) == 1
        now += expected_s
        assert sign_in(conn, "alice", "guess", SPRAYER, now) == "wrong"
    assert sign_in(conn, "alice", "guess", SPRAYER, now) == 900
    failed = [row for row in actions(db) if row[0] == "login_failed" and row[1] == "user:alice"]
    assert len(failed) == 5 + 8, "a refused attempt is not a failure: it does not lengthen the wait"


def test_a_sprayer_is_slowed_per_address_across_usernames(conn, db):
    for i in range(20):
        assert sign_in(conn, f"user{i}", "Printemps2026!", SPRAYER, i) == "wrong"
    assert sign_in(conn, "user20", "Printemps2026!", SPRAYER, 19) == 15
    assert sign_in(conn, "alice", PASSWORD, SPRAYER, 19) == 15, "the sprayer's address is slowed for every account"
    assert sign_in(conn, "alice", PASSWORD, OWNER, 19) == "ok"
    assert sign_in(conn, "user20", "Printemps2026!", SPRAYER, 34) == "wrong"
    assert sign_in(conn, "user21", "Printemps2026!", SPRAYER, 34) == 30


def test_a_sign_in_forgives_the_accounts_own_failures_from_its_address_only(conn, db):
    for i in range(4):
        assert sign_in(conn, "alice", "typo", OWNER, i) == "wrong"
    assert sign_in(conn, "alice", PASSWORD, OWNER, 4) == "ok"
    for i in range(4):
        assert sign_in(conn, "alice", "typo", OWNER, 5 + i) == "wrong", "the count starts again"
    # Signing in to one's own account does not forgive the failures on others.
    for i in range(16):
        assert sign_in(conn, f"victim{i}", "guess", SPRAYER, 10 + i) == "wrong"
    assert sign_in(conn, "bob", PASSWORD, SPRAYER, 26) == "ok"
    for i in range(4):
        assert sign_in(conn, f"victim{16 + i}", "guess", SPRAYER, 27 + i) == "wrong"
    assert sign_in(conn, "bob", PASSWORD, SPRAYER, 30) == 15


def test_failures_older_than_the_window_no_longer_count(conn):
    day_s = 24 * 3600
    for i in range(4):
        assert sign_in(conn, "alice", "guess", SPRAYER, i) == "wrong"
    assert sign_in(conn, "alice", "guess", SPRAYER, day_s - 10) == "wrong", "the fifth in 24 hours"
    assert sign_in(conn, "alice", "guess", SPRAYER, day_s - 0.5) == 5.5
    assert sign_in(conn, "alice", "guess", SPRAYER, day_s + 0.5) == "wrong", "the first has aged out: 4 left"


def test_requests_without_an_address_share_one_limit(conn, db):
    for i in range(5):
        assert sign_in(conn, "alice", "guess", None, i) == "wrong"
    assert sign_in(conn, "alice", PASSWORD, None, 5) == 14
    assert sign_in(conn, "alice", PASSWORD, OWNER, 5) == "ok"
    assert [row[2] for row in actions(db) if row[0] == "login_throttled"] == [None]


def test_the_limits_come_from_the_settings_given(conn):
    limits = LoginLimits(failures_per_address_user=2, failures_per_address=3, first_delay_s=1, max_delay_s=4)
    assert [sign_in(conn, "alice", "guess", SPRAYER, 0, limits) for _ in range(3)] == ["wrong", "wrong", 1]
    assert sign_in(conn, "alice", "guess", SPRAYER, 1, limits) == "wrong"
    assert sign_in(conn, "bob", "guess", SPRAYER, 1, limits) == 1, "three from the address"
    assert sign_in(conn, "alice", "guess", SPRAYER, 1, limits) == 2, "three for alice: 1 s doubled"


def test_a_refusal_is_audited_with_the_address_the_username_and_the_limit(conn, db):
    for i in range(5):
        sign_in(conn, "alice", "guess", SPRAYER, i)
    sign_in(conn, "alice", PASSWORD, SPRAYER, 10)
    *_, refused = actions(db)
    assert refused == (
        "login_throttled",
        "user:alice",
        SPRAYER,
        {"limit": "address_user", "attempt": "login", "retry_after_s": 9},
    )


def test_wrong_current_passwords_count_with_the_sign_ins(conn, db):
    def change(seconds: float):
        try:
            user = check_password_attempt(
                conn, "alice", "guess", OWNER, actor="alice", failed_action="password_change_failed", now=at(seconds)
            )
            return "ok" if user is not None else "wrong"
        except LoginThrottled as exc:
            return exc.retry_after_s
        finally:
            conn.commit()

    for i in range(3):
        assert sign_in(conn, "alice", "guess", OWNER, i) == "wrong"
    assert [change(3), change(4), change(5)] == ["wrong", "wrong", 14]
    assert sign_in(conn, "alice", PASSWORD, SPRAYER, 5) == "ok", "another address still signs in"
    [refused] = [row for row in actions(db) if row[0] == "login_throttled"]
    assert refused == (
        "login_throttled",
        "user:alice",
        OWNER,
        {"limit": "address_user", "attempt": "password_change", "retry_after_s": 14},
    )
    with pytest.raises(ValueError):
        check_password_attempt(conn, "alice", PASSWORD, OWNER, failed_action="login")


def test_parallel_attempts_from_one_address_are_counted_one_after_another(db, timescale_url):
    results: list[object] = []
    lock = threading.Lock()

    def attempt() -> None:
        with psycopg.connect(timescale_url) as conn:
            outcome = sign_in(conn, "alice", "guess", SPRAYER, 0)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [15.0] * 3 + ["wrong"] * 5


@pytest.mark.parametrize("client_ip", [SPRAYER, None])
def test_the_lookups_use_indexes(db, client_ip):
    params = {"target": "user:alice", "ip": client_ip, "since": T0}
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + failures_query(client_ip), params))
    assert "audit_log_login_ip_idx" in plan and "audit_log_login_address_idx" in plan, plan
