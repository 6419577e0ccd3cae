"""The demo's accounts, and `serve`'s checks of the accounts before it serves."""

from __future__ import annotations

import json
import logging
import stat

import psycopg
import pytest
from argon2 import PasswordHasher

from core.settings import Settings
from streetlight import runtime
from streetlight.demo import _demo_accounts
from tests.helpers import fetch_one as one
from tests.helpers import run_cli as run

PASSWORD = "lanterne-du-vieux-pont"


def test_the_demo_makes_random_passwords_kept_for_its_owner_only(timescale_url, tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    made = _demo_accounts(settings, timescale_url)
    assert set(made) == {"technician", "energy", "admin"}
    passwords = {entry["password"] for entry in made.values()}
    assert len(passwords) == 3 and all(len(p) >= 12 for p in passwords)
    account_file = tmp_path / "demo-accounts.json"
    assert stat.S_IMODE(account_file.stat().st_mode) == 0o600
    assert json.loads(account_file.read_text()) == made
    assert _demo_accounts(settings, timescale_url) == made, "made once"
    with psycopg.connect(timescale_url) as conn:
        rows = conn.execute("SELECT username, demo_password, password_hash FROM users ORDER BY username").fetchall()
        assert all(demo for _, demo, _ in rows)
        for username, _, password_hash in rows:
            assert PasswordHasher().verify(password_hash, made[username]["password"])
        assert conn.execute("SELECT bool_and(demo), count(*) FROM api_tokens").fetchone() == (True, 3)


def test_a_demo_file_of_tokens_only_gets_passwords(timescale_url, tmp_path):
    from accounts import create_token, create_user
    from core.vocabulary import Role

    with psycopg.connect(timescale_url) as conn:
        token = create_token(conn, create_user(conn, "admin", Role.ADMIN), "demo")
    (tmp_path / "demo-accounts.json").write_text(json.dumps({"admin": token}))
    made = _demo_accounts(Settings(_env_file=None, data_dir=tmp_path), timescale_url)
    assert made["admin"]["token"] == token and len(made["admin"]["password"]) >= 12
    assert one(timescale_url, "SELECT demo FROM api_tokens")[0] is True


def test_serve_refuses_an_account_with_demo_credentials(timescale_url, tmp_path):
    made = _demo_accounts(Settings(_env_file=None, data_dir=tmp_path), timescale_url)
    with psycopg.connect(timescale_url) as conn:
        with pytest.raises(runtime.ConfigurationError) as refused:
            runtime.check_accounts(conn)
    message = str(refused.value)
    assert "admin: password, token" in message and "streetlight users passwd NAME" in message
    assert all(entry["password"] not in message for entry in made.values())

    for username in made:
        assert (
            run(["users", "passwd", username, "--password-stdin"], timescale_url, stdin=PASSWORD + "\n").returncode == 0
        )
    with psycopg.connect(timescale_url) as conn:
        with pytest.raises(runtime.ConfigurationError) as refused:
            runtime.check_accounts(conn)
        assert "admin: token" in str(refused.value) and "admin: password" not in str(refused.value)
        token_of = dict(conn.execute("SELECT u.username, t.token_id FROM api_tokens t JOIN users u USING (user_id)"))
    assert run(["users", "deactivate", "technician"], timescale_url).returncode == 0, "an inactive account is no risk"
    for username in ("energy", "admin"):
        assert run(["users", "revoke-token", str(token_of[username])], timescale_url).returncode == 0
    with psycopg.connect(timescale_url) as conn:
        runtime.check_accounts(conn)  # accepted now


def test_streetlight_serve_exits_2_on_a_database_made_by_the_demo(timescale_url, tmp_path):
    _demo_accounts(Settings(_env_file=None, data_dir=tmp_path), timescale_url)
    result = run(
        ["serve", "--host", "127.0.0.1", "--port", "1"], timescale_url, STREETLIGHT_MQTT_URL="mqtt://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert "credentials made by `streetlight demo`" in result.stderr and "Traceback" not in result.stderr


def test_serve_says_how_to_make_the_first_administrator(timescale_url, caplog):
    with psycopg.connect(timescale_url) as conn, caplog.at_level(logging.WARNING, logger="streetlight.runtime"):
        runtime.check_accounts(conn)
    assert "create the first administrator with: streetlight users add NAME --role admin" in caplog.text
    caplog.clear()
    assert run(["users", "add", "ada", "--role", "admin", "--no-password"], timescale_url).returncode == 0
    with psycopg.connect(timescale_url) as conn, caplog.at_level(logging.WARNING, logger="streetlight.runtime"):
        runtime.check_accounts(conn)
    assert "first administrator" not in caplog.text
