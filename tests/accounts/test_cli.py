"""`streetlight users ...` as an administrator runs it."""

from __future__ import annotations

import sys

import psycopg
import pytest
from argon2 import PasswordHasher

from accounts import cli, sha256_hex
from tests.helpers import fetch_one as one
from tests.helpers import run_cli as run

PASSWORD = "lanterne-du-vieux-pont"


def test_users_add_reads_the_password_from_stdin_and_stores_a_hash(timescale_url):
    result = run(["users", "add", "ada", "--role", "admin", "--password-stdin"], timescale_url, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "added ada, admin" in result.stdout
    role, password_hash, demo = one(timescale_url, "SELECT role, password_hash, demo_password FROM users")
    assert role == "admin" and demo is False
    assert password_hash.startswith("$argon2id$") and PasswordHasher().verify(password_hash, PASSWORD)
    assert one(timescale_url, "SELECT actor, action, target FROM audit_log") == ("system", "user.create", "user:ada")

    listed = run(["users", "list"], timescale_url)
    assert listed.returncode == 0
    assert "ada" in listed.stdout and "admin" in listed.stdout and "password" in listed.stdout
    assert run(["users", "add", "ada", "--role", "technician", "--no-password"], timescale_url).returncode == 2


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("tom", "short one", "at least 12 characters"),
        ("tom-the-lamplighter", "Tom-The-Lamplighter", "not be the username"),
    ],
)
def test_users_add_refuses_weak_passwords(timescale_url, name, password, message):
    result = run(
        ["users", "add", name, "--role", "technician", "--password-stdin"], timescale_url, stdin=password + "\n"
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert one(timescale_url, "SELECT count(*) FROM users")[0] == 0


def test_without_a_terminal_the_password_must_come_from_stdin(timescale_url):
    result = run(["users", "add", "tom", "--role", "technician"], timescale_url)
    assert result.returncode == 2 and "--password-stdin" in result.stderr
    result = run(["users", "add", "tom", "--role", "technician", "--no-password"], timescale_url)
    assert result.returncode == 0 and "API tokens only" in result.stdout
    assert one(timescale_url, "SELECT password_hash FROM users")[0] is None


def test_on_a_terminal_the_password_is_asked_twice(monkeypatch):
    answers = iter(["first-answer-long", "first-answer-long", "one-password-here", "another-password"])
    asked = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or next(answers))
    assert cli.read_new_password("tom", from_stdin=False) == "first-answer-long"
    assert len(asked) == 2
    with pytest.raises(cli.CliError, match="differ"):
        cli.read_new_password("tom", from_stdin=False)


def test_passwd_token_and_revoke_token(timescale_url):
    assert run(["users", "add", "tom", "--role", "technician", "--no-password"], timescale_url).returncode == 0
    result = run(["users", "passwd", "tom", "--password-stdin"], timescale_url, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert PasswordHasher().verify(one(timescale_url, "SELECT password_hash FROM users")[0], PASSWORD)
    assert run(["users", "passwd", "nobody", "--password-stdin"], timescale_url, stdin=PASSWORD).returncode == 2

    result = run(["users", "token", "tom", "--name", "tablet"], timescale_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("slt_") and "\n" not in token, "the token alone on stdout, for scripts"
    token_id, name, stored = one(timescale_url, "SELECT token_id, name, token_sha256 FROM api_tokens")
    assert name == "tablet" and stored == sha256_hex(token)
    assert f"revoke-token {token_id}" in result.stderr

    listed = run(["users", "tokens", "tom"], timescale_url)
    assert "tablet" in listed.stdout and token not in listed.stdout
    result = run(["users", "revoke-token", str(token_id)], timescale_url)
    assert result.returncode == 0 and "revoked token" in result.stdout
    assert one(timescale_url, "SELECT revoked_at IS NOT NULL FROM api_tokens")[0]
    assert run(["users", "revoke-token", "999999"], timescale_url).returncode == 2
    actions = [r[0] for r in psycopg.connect(timescale_url).execute("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions == ["user.create", "user.password_reset", "token.create", "token.revoke"]


def test_the_last_administrator_cannot_be_deactivated(timescale_url):
    assert run(["users", "add", "ada", "--role", "admin", "--no-password"], timescale_url).returncode == 0
    result = run(["users", "deactivate", "ada"], timescale_url)
    assert result.returncode == 2 and "last active administrator" in result.stderr


def test_users_commands_need_a_database():
    result = run(["users", "list"])
    assert result.returncode == 2 and "STREETLIGHT_DATABASE_URL is not set" in result.stderr
