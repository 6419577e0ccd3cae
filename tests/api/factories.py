"""Test data for the API: accounts of each role with a bearer token."""

from __future__ import annotations

import secrets

import psycopg

from accounts import TOKEN_PREFIX, sha256_hex
from core.vocabulary import Role


def make_user(conn: psycopg.Connection, role: Role, username: str | None = None) -> str:
    """Create an active user with `role` and return a bearer token for it."""
    username = username or f"{role.value}-{secrets.token_hex(3)}"
    row = conn.execute(
        "INSERT INTO users (username, role) VALUES (%s, %s) RETURNING user_id", (username, role.value)
    ).fetchone()
    assert row is not None
    user_id = row[0]
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_sha256) VALUES (%s, 'test', %s)", (user_id, sha256_hex(token))
    )
    return token


PASSWORD = "lampe-rue-de-la-gare"


def make_account(conn: psycopg.Connection, role: Role, username: str, password: str = PASSWORD) -> None:
    """Create an active user who signs in to the console with `password`."""
    from accounts import create_user

    create_user(conn, username, role, password=password)
