"""Who is asking: a bearer API token (scripts, integrations) or a console session cookie.

A principal found in the database is kept in memory for `auth_cache_s` seconds (0 keeps
nothing), so that most requests find who is asking in the event loop, on no thread and
with no statement; the others look it up in one statement on a turn of the thread pool.
A change made through this process's accounts functions (revocation, deactivation, role,
locale, password, sign-out) empties that memory at once (`accounts.on_credentials_change`,
subscribed by `api.app.create_app`); one made elsewhere (another server process, the
command line, the database itself) takes effect within `auth_cache_s` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from fastapi import Request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from accounts import sha256_hex
from api.settings import app_settings_or_none
from core.vocabulary import Role

SESSION_COOKIE = "streetlight_session"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    locale: str
    via: str  # "token" or "session"
    csrf_token: str | None = None


class PrincipalCache:
    """Principals by the hash of their token or session id, each until a deadline; safe across threads.

    Only found principals are kept (an unknown credential is looked up each time), and
    at most `max_entries`: when full, the expired entries go, and if that is not
    enough, all of them.
    """

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() >= entry[1]:
                del self._entries[key]
                return None
            return entry[0]

    def put(self, key: str, principal: Principal, keep_s: float) -> None:
        if keep_s <= 0:
            return
        with self._lock:
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries = {}
            self._entries[key] = (principal, now + keep_s)

    def clear(self) -> None:
        with self._lock:
            self._entries = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# One per process: every application in it reads the same accounts tables.
principals = PrincipalCache()


def forget_principals() -> None:
    """Called after every change to accounts, tokens and sessions, so that this process sees it at once."""
    principals.clear()


async def find_principal(request: Request) -> Principal | None:
    """Who sent the request (bearer token first, then session cookie), or None; found once per request.

    From memory, in the event loop, when this process has seen the credential within
    `auth_cache_s`; otherwise on a turn of the thread pool, with a pooled connection of
    its own that goes back before the request takes one (so that a request never holds
    two).
    """
    if hasattr(request.state, _STATE_KEY):
        known: Principal | None = getattr(request.state, _STATE_KEY)
        return known
    credential = _credential(request)
    found = None
    if credential is not None:
        found = principals.get(":".join(credential)) or await run_in_threadpool(_look_up_with_a_connection, request)
    setattr(request.state, _STATE_KEY, found)
    return found


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# One statement: the token's principal, and its use recorded when the record is a
# minute old or more (to the minute: a write per request would cost more than the
# request). A row another request is recording is skipped rather than waited for.
_TOKEN_LOOKUP = """
WITH found AS (
    SELECT u.user_id, u.username, u.role, u.locale, t.token_id,
           t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' AS stale
    FROM api_tokens t JOIN users u USING (user_id)
    WHERE t.token_sha256 = %s AND t.revoked_at IS NULL AND u.active
), used AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE token_id IN (SELECT t.token_id FROM api_tokens t JOIN found f USING (token_id)
                       WHERE f.stale FOR UPDATE OF t SKIP LOCKED)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT user_id, username, role, locale FROM found"""

_SESSION_LOOKUP = """
SELECT u.user_id, u.username, u.role, u.locale, s.csrf_token,
       extract(epoch FROM s.expires_at - now())::float8 AS expires_in_s
FROM sessions s JOIN users u USING (user_id)
WHERE s.session_sha256 = %s AND s.expires_at > now() AND u.active"""

_STATE_KEY = "authenticated"  # request.state: the request's principal (or None) once looked for


def _cache_s(request: Request) -> float:
    settings = app_settings_or_none(request)
    return settings.auth_cache_s if settings is not None else 0.0


def _credential(request: Request) -> tuple[str, str] | None:
    """What the request carries, as (kind, SHA-256 of the secret): a bearer token first, then the session cookie."""
    token = _bearer_token(request)
    if token is not None:
        return "token", sha256_hex(token)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        return "session", sha256_hex(session_id)
    return None


def _look_up(request: Request, conn: psycopg.Connection) -> Principal | None:
    """The principal from the database (one statement), kept in memory when found."""
    credential = _credential(request)
    if credential is None:
        return None
    kind, secret_sha256 = credential
    cursor = conn.cursor(row_factory=dict_row)
    if kind == "token":
        row = cursor.execute(_TOKEN_LOOKUP, (secret_sha256,)).fetchone()
        if row is None:
            return None
        principal = Principal(row["user_id"], row["username"], Role(row["role"]), row["locale"], "token")
        keep_s = _cache_s(request)
    else:
        row = cursor.execute(_SESSION_LOOKUP, (secret_sha256,)).fetchone()
        if row is None:
            return None
        principal = Principal(
            row["user_id"], row["username"], Role(row["role"]), row["locale"], "session", row["csrf_token"]
        )
        keep_s = min(_cache_s(request), row["expires_in_s"])  # never past the session's end
    principals.put(":".join(credential), principal, keep_s)
    return principal


def _look_up_with_a_connection(request: Request) -> Principal | None:
    pool: ConnectionPool = request.app.state.pool
    with pool.connection() as conn:  # committed on leaving: the token's use
        return _look_up(request, conn)
