"""The sign-in limit: wrong passwords slow down the address they come from, never the account.

Two limits, both keyed by the client address, so that wrong passwords sent from one
address never refuse the right password sent from another:

- per address and username: after `failures_per_address_user` wrong passwords for one
  account from one address, each further attempt from there for that account waits;
- per address: after `failures_per_address` wrong passwords from one address, whatever
  the usernames (a password sprayer), each further attempt from there waits.

The wait after the newest counted failure is `first_delay_s`, doubled by each further
failure, at most `max_delay_s`. Failures count for `window`; those for an account that
then signs in from the same address no longer count (the owner's typing errors), which
signing in to one's own account cannot do for the failures on any other account.

The failures are the audit log's rows (`login_failed`, `password_change_failed`), so
that every server process sharing the database holds the same limit. Their times come
from `clock`, not from the database, so that tests can move time by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import tuple_row

from core.settings import Settings

# Which limit refused an attempt: the label of the refusal's metric and its audit entry.
ADDRESS = "address"
ADDRESS_USER = "address_user"
LIMITS = (ADDRESS, ADDRESS_USER)

# Both kinds of wrong password count: at the sign-in form, and as the current password
# when changing it (so that a stolen session cannot be used to guess the password either).
FAILED_PASSWORD_ACTIONS = ("login_failed", "password_change_failed")
THROTTLED_ACTION = "login_throttled"

# From a first delay of 1 s (the least the settings allow), 2 ** 40 s is past any maximum;
# stopping there keeps the number small however many failures there are.
_MAX_DOUBLINGS = 40


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now  # the time of attempts and failures; tests replace it


@dataclass(frozen=True, slots=True)
class LoginLimits:
    failures_per_address_user: int = 5
    failures_per_address: int = 20
    first_delay_s: float = 15.0
    max_delay_s: float = 900.0
    window: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(
            failures_per_address_user=settings.login_failures_per_address_user,
            failures_per_address=settings.login_failures_per_address,
            first_delay_s=settings.login_first_delay_s,
            max_delay_s=settings.login_max_delay_s,
            window=timedelta(hours=settings.login_failure_window_hours),
        )

    def allowed(self, limit: str) -> int:
        return self.failures_per_address if limit == ADDRESS else self.failures_per_address_user


@dataclass(frozen=True, slots=True)
class Failures:
    """The failures a limit counts, and when the newest of them was."""

    count: int
    newest_at: datetime | None


class LoginThrottled(Exception):
    def __init__(self, retry_after_s: float, limit: str) -> None:
        super().__init__(f"too many failed sign-ins from this address; try again in {whole_s(retry_after_s)} s")
        self.retry_after_s = retry_after_s
        self.retry_after_whole_s = whole_s(retry_after_s)  # as the Retry-After header says it
        self.limit = limit


def whole_s(wait_s: float) -> int:
    """A wait as Retry-After says it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait_s))


def delay_s(failures: int, allowed: int, limits: LoginLimits) -> float:
    """How long the next attempt waits after the newest of `failures` (0: it does not). Pure."""
    if failures < allowed:
        return 0.0
    doublings = min(failures - allowed, _MAX_DOUBLINGS)
    return min(limits.first_delay_s * 2**doublings, limits.max_delay_s)


def retry_after(failures: dict[str, Failures], limits: LoginLimits, now: datetime) -> tuple[str, float] | None:
    """(the limit that refuses, seconds until it allows one more attempt), or None. Pure.

    When both refuse, the one that refuses longer is named.
    """
    waits = []
    for limit in LIMITS:
        counted = failures[limit]
        if counted.newest_at is None:
            continue
        wait_s = delay_s(counted.count, limits.allowed(limit), limits)
        remaining_s = (counted.newest_at + timedelta(seconds=wait_s) - now).total_seconds()
        if wait_s > 0 and remaining_s > 0:
            waits.append((remaining_s, limit))
    if not waits:
        return None
    remaining_s, limit = max(waits)
    return limit, remaining_s


def _same_address(alias: str, client_ip: str | None) -> str:
    # A request without an address (none given by the server) shares one limit with all such requests.
    return f"{alias}.client_ip = %(ip)s" if client_ip is not None else f"{alias}.client_ip IS NULL"


def lock_address(conn: psycopg.Connection, client_ip: str | None) -> None:
    """Serialize the attempts from one address until the transaction ends.

    Without it, a burst of parallel attempts would all be checked before any failure is
    recorded. Both limits are per address, so one lock covers them.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"login ip:{client_ip or ''}",))


def failures_query(client_ip: str | None) -> str:
    """The statement `count_failures` runs (indexes of migrations 0003 and 0014).

    A sign-in after a failure: recorded after it (attempts from one address are serialized)
    and not earlier, which bounds the index range it is looked up in.
    """
    return f"""
        SELECT count(*), max(f.at),
               count(*) FILTER (WHERE f.target = %(target)s), max(f.at) FILTER (WHERE f.target = %(target)s)
        FROM audit_log f
        WHERE f.action IN ('login_failed', 'password_change_failed') AND {_same_address("f", client_ip)}
          AND f.at > %(since)s
          AND NOT EXISTS (SELECT 1 FROM audit_log s
                          WHERE s.action = 'login' AND {_same_address("s", client_ip)}
                            AND s.target = f.target AND s.at >= f.at AND s.audit_id > f.audit_id)"""


def count_failures(
    conn: psycopg.Connection, target: str, client_ip: str | None, since: datetime
) -> dict[str, Failures]:
    """The failures from this address since `since`, by limit (`target`: the account's audit target).

    A failure no longer counts once the account it was for has signed in from the same
    address after it.
    """
    params = {"target": target, "ip": client_ip, "since": since}
    row = conn.cursor(row_factory=tuple_row).execute(failures_query(client_ip), params).fetchone()
    assert row is not None  # an aggregate gives its row
    return {ADDRESS: Failures(row[0], row[1]), ADDRESS_USER: Failures(row[2], row[3])}


def check(
    conn: psycopg.Connection, target: str, client_ip: str | None, limits: LoginLimits, now: datetime
) -> tuple[str, float] | None:
    """(limit, seconds to wait) when an attempt now on this account from this address is refused."""
    return retry_after(count_failures(conn, target, client_ip, now - limits.window), limits, now)
