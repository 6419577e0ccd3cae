"""What routes depend on: the database connection and the authenticated principal.

Routes declare what they need as annotated parameters, e.g.::

    def list_lamps(conn: Conn, who: Reader) -> ...
    def retire_lamp(conn: Conn, who: Admin) -> ...

Authentication accepts a bearer API token (scripts, integrations) or a console
session cookie; `require_roles` answers 401 to the anonymous and 403 to a
principal whose role is not allowed. Roles are checked on the server for every
endpoint; the console only hides what a role cannot do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

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


def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


def connection(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled connection with dict rows; committed when the request succeeds."""
    with get_pool(request).connection() as conn:
        conn.row_factory = dict_row
        yield conn


# scope="function": the connection is committed and returned to the pool before the
# response goes out, so a client that acts on a response always sees its writes.
Conn = Annotated[psycopg.Connection, Depends(connection, scope="function")]


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(request: Request, conn: psycopg.Connection) -> Principal | None:
    token = _bearer_token(request)
    if token is not None:
        row = conn.execute(
            """SELECT u.user_id, u.username, u.role, u.locale, t.token_id,
                      t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' AS stale
               FROM api_tokens t JOIN users u USING (user_id)
               WHERE t.token_sha256 = %s AND t.revoked_at IS NULL AND u.active""",
            (sha256_hex(token),),
        ).fetchone()
        if row is None:
            return None
        if row["stale"]:
            # Recorded to the minute: a write (and its commit) per request would
            # cost more than the request itself.
            conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE token_id = %s", (row["token_id"],))
        return Principal(row["user_id"], row["username"], Role(row["role"]), row["locale"], "token")
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        row = conn.execute(
            """SELECT u.user_id, u.username, u.role, u.locale, s.csrf_token
               FROM sessions s JOIN users u USING (user_id)
               WHERE s.session_sha256 = %s AND s.expires_at > now() AND u.active""",
            (sha256_hex(session_id),),
        ).fetchone()
        if row is None:
            return None
        return Principal(
            row["user_id"], row["username"], Role(row["role"]), row["locale"], "session", row["csrf_token"]
        )
    return None


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require_roles(*roles: Role) -> Callable[..., Principal]:
    allowed = frozenset(roles)

    def dependency(request: Request, conn: Conn) -> Principal:
        principal = authenticate(request, conn)
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
