"""What routes depend on: the database connection and the authenticated principal.

Routes declare what they need as annotated parameters, e.g.::

    def retire_lamp(conn: Conn, who: Admin) -> ...
    def list_lamps(db: Db, who: Reader) -> ...   # with db.connection() as conn: ...

`Conn` is taken before the route runs, on a turn of the thread pool of its own; `Db`
lets a (synchronous) route take the same connection on its own turn, one turn fewer
per request, which the most frequent reads use.

Authentication accepts a bearer API token (scripts, integrations) or a console
session cookie; `require_roles` answers 401 to the anonymous and 403 to a
principal whose role is not allowed. Roles are checked on the server for every
endpoint; the console only hides what a role cannot do.

What authentication costs each request: a principal found in the database is kept
in memory for `auth_cache_s` seconds (5 by default; 0 keeps nothing), so most
requests find who is asking, and have their role checked, in the event loop, on no
thread and with no statement; the others look it up in one statement, on a turn of
the thread pool (`find_principal`). A change made
through this process's accounts functions (revocation, deactivation, role, locale,
password, sign-out) empties that memory at once; one made elsewhere (another
server process, the command line, the database itself) takes effect within
`auth_cache_s` seconds. (A request looking the principal up while the change is not
yet committed may keep the old one: it too is gone within that delay.)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import anyio
import psycopg
from fastapi import Depends, HTTPException, Request, status
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

TOKEN_PREFIX = "slt_"
SESSION_COOKIE = "streetlight_session"


class Role(StrEnum):
    TECHNICIAN = "technician"
    ENERGY_MANAGER = "energy_manager"
    ADMIN = "admin"


ALL_ROLES = (Role.TECHNICIAN, Role.ENERGY_MANAGER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    locale: str
    via: str  # "token" or "session"
    csrf_token: str | None = None


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- principals kept in memory ------------------------------------------------------------------------
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
    """Called by every change to accounts, tokens and sessions, so that this process sees it at once."""
    principals.clear()


# --- the connection, and who is asking ----------------------------------------------------------------
def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


async def find_principal(request: Request) -> Principal | None:
    """Who sent the request (bearer token first, then session cookie), or None; found once per request.

    From memory, in the event loop, when this process has seen the credential within
    `auth_cache_s`; otherwise on a turn of the thread pool, with a pooled connection of
    its own that goes back before the request takes one (so that a request never holds
    two).
    """
    found = getattr(request.state, _STATE_KEY, _UNRESOLVED)
    if found is _UNRESOLVED:
        found = _remembered(request)
        if found is _UNRESOLVED:
            found = await run_in_threadpool(_look_up_with_a_connection, request)
        setattr(request.state, _STATE_KEY, found)
    return found


FoundPrincipal = Annotated[Principal | None, Depends(find_principal)]


async def connection(request: Request, _who: FoundPrincipal) -> AsyncIterator[psycopg.Connection]:
    """A pooled connection with dict rows, taken on a turn of the thread pool; committed when the
    request succeeds. Who is asking is found first (`find_principal`).

    A GET request reads (its only write is the token's use, one statement), so its
    statements run in autocommit: no BEGIN and no COMMIT, two round trips to the
    database fewer per request. Each statement sees the data committed when it starts,
    as it would inside a READ COMMITTED transaction, the server's default. Every
    other method runs in one transaction, committed when it succeeds.

    A connection with no transaction open (every GET's) goes back to the pool from the
    event loop, which needs no I/O; one with a transaction is committed or rolled back on
    a turn of the thread pool.
    """
    pool = get_pool(request)
    conn = await run_in_threadpool(_check_out, request, pool)
    succeeded = False
    try:
        yield conn
        succeeded = True
    finally:
        with anyio.CancelScope(shield=True):  # the connection goes back even when the request is cancelled
            if conn.info.transaction_status == TransactionStatus.IDLE and not conn.broken:
                _give_back(pool, conn)
            else:
                await run_in_threadpool(_end_transaction_and_give_back, pool, conn, succeeded)


class Database:
    """The request's way to a pooled connection that a route takes on its own turn of the thread
    pool: one turn per request in all, where `Conn` takes two (one to take the connection, one
    for the route). For the most frequent reads; the connection is the same as `Conn`'s."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        pool = get_pool(self._request)
        conn = _check_out(self._request, pool)
        succeeded = False
        try:
            yield conn
            succeeded = True
        finally:
            _end_transaction_and_give_back(pool, conn, succeeded)


async def database(request: Request, _who: FoundPrincipal) -> Database:
    return Database(request)


def _check_out(request: Request, pool: ConnectionPool) -> psycopg.Connection:
    conn = pool.getconn()
    conn.row_factory = dict_row
    conn.autocommit = request.method == "GET"
    return conn


def _end_transaction_and_give_back(pool: ConnectionPool, conn: psycopg.Connection, commit: bool) -> None:
    try:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.commit() if commit else conn.rollback()
    finally:
        _give_back(pool, conn)


def _give_back(pool: ConnectionPool, conn: psycopg.Connection) -> None:
    if not conn.broken and conn.autocommit:
        conn.autocommit = False  # the pool's other users expect transactions (no I/O: no transaction is open)
    pool.putconn(conn)


# scope="function": the connection is committed and returned to the pool before the
# response goes out, so a client that acts on a response always sees its writes.
Conn = Annotated[psycopg.Connection, Depends(connection, scope="function")]
Db = Annotated[Database, Depends(database)]


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

_UNRESOLVED = object()
_STATE_KEY = "authenticated"  # request.state: the request's principal (or None) once looked for


def _cache_s(request: Request) -> float:
    settings = getattr(request.app.state, "settings", None)
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


def _remembered(request: Request) -> Principal | None | object:
    """The principal from memory; None without credentials; _UNRESOLVED when it must be looked up."""
    credential = _credential(request)
    if credential is None:
        return None
    known = principals.get(":".join(credential))
    return _UNRESOLVED if known is None else known


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
    with get_pool(request).connection() as conn:  # committed on leaving: the token's use
        return _look_up(request, conn)


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require_roles(*roles: Role) -> Callable[..., Principal]:
    allowed = frozenset(roles)

    # async: it runs in the event loop, on no thread.
    async def dependency(request: Request, principal: FoundPrincipal) -> Principal:
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "sign in, or send a valid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.via == "session" and request.method in _UNSAFE_METHODS:
            # Cookie-authenticated changes must carry the session's CSRF token.
            sent = request.headers.get("x-csrf-token")
            if not sent or not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {principal.role.value} role may not do this")
        request.state.principal = principal
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require_roles(*ALL_ROLES))]
EnergyManager = Annotated[Principal, Depends(require_roles(Role.ENERGY_MANAGER, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
