"""Secrets without I/O: password hashing and policy, session ids, CSRF tokens, API tokens.

Passwords are hashed with Argon2id (argon2-cffi's default parameters, RFC 9106's
low-memory profile). Only hashes of session ids and API tokens are stored, so the
secrets themselves exist only in the client and, once, in the response that made them.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "slt_"  # every API token starts with it, so that one is recognisable where it leaks
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # bounds the hashing work one request can ask for

_hasher = PasswordHasher()


class WeakPasswordError(ValueError):
    """The password does not meet the policy; the message says why."""


def check_password_policy(username: str, password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WeakPasswordError(f"the password must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise WeakPasswordError(f"the password must have at most {PASSWORD_MAX_LENGTH} characters")
    if password.strip().casefold() == username.strip().casefold():
        raise WeakPasswordError("the password must not be the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    """Spend the time of one verification, so that an unknown username answers as slowly as a known one."""
    verify_password_hash(_dummy_hash(), password)


def generate_password() -> str:
    """A random password that meets the policy (about 128 bits)."""
    return secrets.token_urlsafe(16)


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def sha256_hex(secret: str) -> str:
    """What is stored of a session id or an API token: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
