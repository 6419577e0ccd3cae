"""Accounts, API tokens, console sessions and signing in: plain functions taking a connection.

Nothing here commits: the caller's transaction holds the change together with its
audit entry. Hashes never leave this module; `User` and `Token` carry none. Every
change that can end or alter a signed-in principal is announced to the listeners of
`accounts.listeners` (the API's memory of principals among them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row, dict_row, tuple_row

from accounts import audit, throttle
from accounts.listeners import credentials_changed
from accounts.passwords import (
    burn_verification,
    check_password_policy,
    hash_password,
    needs_rehash,
    new_api_token,
    new_csrf_token,
    new_session_id,
    sha256_hex,
    verify_password_hash,
)
from accounts.throttle import LoginLimits, LoginThrottled
from core.vocabulary import Role

LOCALES = ("en", "fr")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # as the users table's CHECK

DEFAULT_LIMITS = LoginLimits()


class AccountError(ValueError):
    """A change that cannot be made; the message says why."""


class UserExistsError(AccountError):
    pass


class UnknownUserError(AccountError):
    pass


class LastAdminError(AccountError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str
    display_name: str
    role: Role
    locale: str
    active: bool
    has_password: bool
    demo_password: bool
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, object]:
        """What the audit log records of an account (never anything secret)."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "locale": self.locale,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class Token:
    token_id: int
    user_id: int
    username: str
    name: str
    demo: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def user_target(username: str) -> str:
    """How an account is named in the audit log's target column (a made-up name is cut short)."""
    return f"user:{username[:64]}"


def token_target(token_id: int) -> str:
    return f"token:{token_id}"


_USER_COLUMNS = """user_id, username, display_name, role, locale, active,
                   password_hash IS NOT NULL AS has_password, demo_password, created_at, updated_at"""


def _run(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> psycopg.Cursor:
    """Execute with tuple rows, whatever row factory the caller's connection has."""
    return conn.cursor(row_factory=tuple_row).execute(query, params)


def _one(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> tuple:
    """The one row a statement always gives (an aggregate, an INSERT ... RETURNING)."""
    row = _run(conn, query, params).fetchone()
    assert row is not None
    return row


def _users(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> list[User]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    return [User(**{**row, "role": Role(row["role"])}) for row in rows]


def check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise AccountError("a username is 1 to 64 letters, digits and . _ @ - (no spaces)")


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise AccountError(f"the locale must be one of {', '.join(LOCALES)}")


# --- users ----------------------------------------------------------------------------------
def create_user(
    conn: psycopg.Connection,
    username: str,
    role: Role,
    *,
    password: str | None = None,
    locale: str = "fr",
    display_name: str = "",
    demo_password: bool = False,
) -> int:
    """Make an account and return its user_id. Without a password it signs in with tokens only."""
    check_username(username)
    _check_locale(locale)
    if password is not None:
        check_password_policy(username, password)
    row = _run(
        conn,
        """INSERT INTO users (username, role, locale, display_name, password_hash, demo_password)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (username) DO NOTHING RETURNING user_id""",
        (
            username,
            Role(role).value,
            locale,
            display_name,
            hash_password(password) if password is not None else None,
            demo_password and password is not None,
        ),
    ).fetchone()
    if row is None:
        raise UserExistsError(f"the user {username} already exists")
    return row[0]


def get_user(conn: psycopg.Connection, username: str) -> User | None:
    found = _users(conn, f"SELECT {_USER_COLUMNS} FROM users WHERE username = %s", (username,))
    return found[0] if found else None


def require_user(conn: psycopg.Connection, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise UnknownUserError(f"no user {username}")
    return user


def list_users(conn: psycopg.Connection) -> list[User]:
    return _users(conn, f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")


def set_password(
    conn: psycopg.Connection,
    username: str,
    password: str,
    *,
    demo: bool = False,
    keep_session_id: str | None = None,
) -> User:
    """Replace the password and end the account's console sessions (but `keep_session_id`).

    Raises WeakPasswordError (accounts.passwords) for a password the policy refuses. Clears
    the demo mark unless `demo` says this password is a demo one.
    """
    check_password_policy(username, password)
    row = _run(
        conn,
        """UPDATE users SET password_hash = %s, demo_password = %s, updated_at = now()
           WHERE username = %s RETURNING user_id""",
        (hash_password(password), demo, username),
    ).fetchone()
    if row is None:
        raise UnknownUserError(f"no user {username}")
    user = require_user(conn, username)
    end_sessions(conn, user.user_id, keep_session_id=keep_session_id)
    return user


def verify_password(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The active account whose password this is, or None.

    Unknown, inactive and token-only accounts take as long to refuse as a wrong
    password, so that timing does not tell which usernames exist. A hash made with
    older parameters is replaced by one made with today's.
    """
    row = _run(conn, "SELECT user_id, password_hash, active FROM users WHERE username = %s", (username,)).fetchone()
    if row is None:
        burn_verification(password)
        return None
    user_id, password_hash, active = row
    if password_hash is None:
        burn_verification(password)
        return None
    if not verify_password_hash(password_hash, password) or not active:
        return None
    if needs_rehash(password_hash):
        conn.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (hash_password(password), user_id))
    return get_user(conn, username)


def update_user(
    conn: psycopg.Connection,
    username: str,
    *,
    role: Role | None = None,
    locale: str | None = None,
    display_name: str | None = None,
    active: bool | None = None,
) -> tuple[User, User]:
    """Change what is given; returns the account before and after.

    Refuses to leave the town without an active administrator. Deactivation ends the
    account's console sessions (its tokens stop working with it).
    """
    if locale is not None:
        _check_locale(locale)
    # Lock the administrators' rows, so that two administrators demoting each other at
    # once cannot both succeed.
    admins = _run(
        conn, "SELECT user_id FROM users WHERE role = 'admin' AND active ORDER BY user_id FOR UPDATE"
    ).fetchall()
    before = require_user(conn, username)
    loses_admin = (
        before.role is Role.ADMIN
        and before.active
        and ((role is not None and Role(role) is not Role.ADMIN) or active is False)
    )
    if loses_admin and len(admins) <= 1:
        raise LastAdminError(f"{username} is the last active administrator; make another one first")
    conn.execute(
        """UPDATE users SET role = coalesce(%s, role), locale = coalesce(%s, locale),
                  display_name = coalesce(%s, display_name), active = coalesce(%s, active), updated_at = now()
           WHERE user_id = %s""",
        (Role(role).value if role is not None else None, locale, display_name, active, before.user_id),
    )
    after = require_user(conn, username)
    credentials_changed()
    if before.active and not after.active:
        end_sessions(conn, after.user_id)
    return before, after


def changes(before: User, after: User) -> tuple[dict[str, object], dict[str, object]]:
    """The public fields that differ, as (before, after) for the audit log."""
    old, new = before.public(), after.public()
    changed = [key for key in old if old[key] != new[key]]
    return {k: old[k] for k in changed}, {k: new[k] for k in changed}


def has_active_admin(conn: psycopg.Connection) -> bool:
    return _one(conn, "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND active)")[0]


def demo_credentials(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Active accounts that still sign in with what the demo made: username -> ["password", "token 3", ...]."""
    rows = _run(
        conn,
        """SELECT u.username, u.demo_password,
                  array(SELECT t.token_id FROM api_tokens t
                        WHERE t.user_id = u.user_id AND t.demo AND t.revoked_at IS NULL ORDER BY t.token_id)
           FROM users u WHERE u.active ORDER BY u.username""",
    ).fetchall()
    found = {}
    for username, demo_password, token_ids in rows:
        what = (["password"] if demo_password else []) + [f"token {token_id}" for token_id in token_ids]
        if what:
            found[username] = what
    return found


# --- API tokens -------------------------------------------------------------------------------
_TOKEN_QUERY = """SELECT t.token_id, t.user_id, u.username, t.name, t.demo, t.created_at, t.last_used_at, t.revoked_at
                  FROM api_tokens t JOIN users u USING (user_id)"""


def _tokens(conn: psycopg.Connection, where: str, params: tuple) -> list[Token]:
    with conn.cursor(row_factory=class_row(Token)) as cur:
        return cur.execute(f"{_TOKEN_QUERY} {where}", params).fetchall()


def issue_token(conn: psycopg.Connection, user_id: int, name: str = "", *, demo: bool = False) -> tuple[Token, str]:
    """Make a bearer token: its record, and the token itself, which is never seen again."""
    secret = new_api_token()
    token_id = _one(
        conn,
        "INSERT INTO api_tokens (user_id, name, token_sha256, demo) VALUES (%s, %s, %s, %s) RETURNING token_id",
        (user_id, name, sha256_hex(secret), demo),
    )[0]
    return _tokens(conn, "WHERE t.token_id = %s", (token_id,))[0], secret


def create_token(conn: psycopg.Connection, user_id: int, name: str = "", *, demo: bool = False) -> str:
    """Make a bearer token; only its hash is stored, so this is the one time it is seen."""
    return issue_token(conn, user_id, name, demo=demo)[1]


def mark_demo_token(conn: psycopg.Connection, token: str) -> None:
    """Mark the API token whose secret is `token` as one the demo made (`demo_credentials` lists those)."""
    conn.execute("UPDATE api_tokens SET demo = true WHERE token_sha256 = %s", (sha256_hex(token),))


def list_tokens(conn: psycopg.Connection, *, user_id: int | None = None) -> list[Token]:
    """Tokens (never their secrets), of one account or of all, oldest first."""
    if user_id is None:
        return _tokens(conn, "ORDER BY t.token_id", ())
    return _tokens(conn, "WHERE t.user_id = %s ORDER BY t.token_id", (user_id,))


def get_token(conn: psycopg.Connection, token_id: int) -> Token | None:
    found = _tokens(conn, "WHERE t.token_id = %s", (token_id,))
    return found[0] if found else None


def revoke_token(conn: psycopg.Connection, token_id: int) -> Token | None:
    """Revoke a token (a second revocation keeps the first time); None if there is no such token."""
    conn.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE token_id = %s", (token_id,))
    credentials_changed()
    return get_token(conn, token_id)


# --- console sessions -----------------------------------------------------------------------------
def create_session(conn: psycopg.Connection, user_id: int, lifetime: timedelta) -> tuple[str, str]:
    """Open a console session: (session id for the cookie, CSRF token). Only the id's hash is stored."""
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    session_id, csrf_token = new_session_id(), new_csrf_token()
    conn.execute(
        "INSERT INTO sessions (session_sha256, user_id, csrf_token, expires_at) VALUES (%s, %s, %s, now() + %s)",
        (sha256_hex(session_id), user_id, csrf_token, lifetime),
    )
    return session_id, csrf_token


def delete_session(conn: psycopg.Connection, session_id: str) -> bool:
    credentials_changed()
    return conn.execute("DELETE FROM sessions WHERE session_sha256 = %s", (sha256_hex(session_id),)).rowcount > 0


def end_sessions(conn: psycopg.Connection, user_id: int, *, keep_session_id: str | None = None) -> int:
    keep = sha256_hex(keep_session_id) if keep_session_id else ""
    credentials_changed()
    return conn.execute("DELETE FROM sessions WHERE user_id = %s AND session_sha256 <> %s", (user_id, keep)).rowcount


# --- signing in, under the limit (accounts.throttle) ---------------------------------------------------
def check_password_attempt(
    conn: psycopg.Connection,
    username: str,
    password: str,
    client_ip: str | None,
    *,
    limits: LoginLimits = DEFAULT_LIMITS,
    actor: str = audit.ANONYMOUS,
    failed_action: str = "login_failed",
    now: datetime | None = None,
) -> User | None:
    """Check a password under the sign-in limit; a failure is audited as `failed_action`.

    Returns the user, or None for wrong credentials; raises LoginThrottled over the
    limit, audited as `login_throttled`, without looking at the password. The caller
    commits in every case, so that failures are counted although the request fails.
    """
    if failed_action not in throttle.FAILED_PASSWORD_ACTIONS:
        raise ValueError(f"{failed_action} is not counted by the sign-in limit")
    target = user_target(username)
    throttle.lock_address(conn, client_ip)
    now = now or throttle.clock()  # read once the lock is held: later than any failure recorded before
    refused = throttle.check(conn, target, client_ip, limits, now)
    if refused is not None:
        limit, wait_s = refused
        attempt = "password_change" if failed_action == "password_change_failed" else "login"
        after = {"limit": limit, "attempt": attempt, "retry_after_s": throttle.whole_s(wait_s)}
        audit.record(conn, actor, throttle.THROTTLED_ACTION, target, after=after, client_ip=client_ip, at=now)
        raise LoginThrottled(wait_s, limit)
    user = verify_password(conn, username, password)
    if user is None:
        audit.record(conn, actor, failed_action, target, client_ip=client_ip, at=now)
    return user


def attempt_login(
    conn: psycopg.Connection,
    username: str,
    password: str,
    client_ip: str | None,
    *,
    limits: LoginLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> User | None:
    """A sign-in: the user, or None for wrong credentials (LoginThrottled over the limit); audited either way.

    A sign-in forgives the account's earlier failures from the same address (accounts.throttle).
    """
    user = check_password_attempt(conn, username, password, client_ip, limits=limits, now=now)
    if user is not None:
        at = now or throttle.clock()
        audit.record(conn, user.username, "login", user_target(user.username), client_ip=client_ip, at=at)
    return user
