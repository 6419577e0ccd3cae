"""Accounts and API tokens: plain functions taking a connection."""

from __future__ import annotations

import secrets

import psycopg

from api.deps import TOKEN_PREFIX, Role, sha256_hex


def create_user(conn: psycopg.Connection, username: str, role: Role, *, locale: str = "fr") -> int:
    return conn.execute(
        "INSERT INTO users (username, role, locale) VALUES (%s, %s, %s) RETURNING user_id",
        (username, Role(role).value, locale),
    ).fetchone()[0]


def create_token(conn: psycopg.Connection, user_id: int, name: str = "") -> str:
    """Make a bearer token; only its hash is stored, so this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_sha256) VALUES (%s, %s, %s)", (user_id, name, sha256_hex(token))
    )
    return token
