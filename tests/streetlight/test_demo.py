"""`streetlight demo` on its embedded default, as a user starts and stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import psycopg
import pytest

from streetlight.embedded import free_loopback_port
from tests.helpers import REPO_ROOT, wait_for_log, wait_until

pytestmark = pytest.mark.slow

LAMPS = 40


def start_demo(data_dir, port: int, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_")}
    env.update(STREETLIGHT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streetlight",
            "demo",
            "--port",
            str(port),
            "--lamps",
            str(LAMPS),
            "--history-days",
            "1",
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


def get(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def readings_in(data_dir) -> int:
    url = f"postgresql://postgres@/streetlight?host={data_dir / 'postgres'}"
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert row is not None
    return row[0]


def test_the_demo_runs_everything_and_keeps_its_data(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "demo.log"
    port = free_loopback_port()
    demo = start_demo(data_dir, port, log)
    try:
        wait_for_log(log, "streetlight demo is running", timeout_s=120)
        accounts = json.loads((data_dir / "demo-accounts.json").read_text())
        assert set(accounts) == {"technician", "energy", "admin"}, "one account per role"
        printed = log.read_text()
        assert all(a["token"] in printed and a["password"] in printed for a in accounts.values()), (
            "the demo prints how to sign in"
        )
        token = accounts["technician"]["token"]
        assert get(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
        assert get(f"http://127.0.0.1:{port}/api/v1/lamps", token)["total"] == LAMPS
        # A day of history at one reading per 10 minutes, then live: at least 144 per lamp.
        wait_until(lambda: readings_in(data_dir) >= LAMPS * 144, 120, what="the backfilled day")
        wait_until(lambda: get(f"http://127.0.0.1:{port}/readyz")["status"] == "ready", 30, what="readiness")
        # The demo town's part-night profile reaches every lamp: pushed, and applied by its controller.
        lamp_id = get(f"http://127.0.0.1:{port}/api/v1/lamps?limit=1", token)["items"][0]["lamp_id"]
        rule = get(f"http://127.0.0.1:{port}/api/v1/lamps/{lamp_id}/dimming", token)["rule"]
        assert (rule["source"], rule["profile_name"]) == ("town", "Demo town: part-night")
        wait_until(
            lambda: get(f"http://127.0.0.1:{port}/api/v1/dimming/push-status", token)["counts"]["applied"] == LAMPS,
            120,
            what="every lamp's plan applied",
        )
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    assert "demo stopped" in log.read_text()

    # Second start: same data folder, same town, history kept and not made twice.
    demo = start_demo(data_dir, port, log)
    try:
        wait_for_log(log, "demo town: 40 lamps", timeout_s=120)
        wait_until(lambda: log.read_text().count("streetlight demo is running") == 2, 120, what="second start")
        assert json.loads((data_dir / "demo-accounts.json").read_text())["technician"]["token"] == token
        assert get(f"http://127.0.0.1:{port}/api/v1/lamps", token)["total"] == LAMPS
        assert readings_in(data_dir) >= LAMPS * 144
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
