"""`streetlight serve` as deployed: real TimescaleDB, real Mosquitto with passwords, the HTTP API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest

from core.vocabulary import Role
from streetlight.embedded import free_loopback_port
from tests.api.factories import make_user
from tests.helpers import REPO_ROOT, Publisher, settled_count, stop_process, wait_for_log

pytestmark = [pytest.mark.mqtt, pytest.mark.timescale]


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_serve_migrates_ingests_and_answers_with_credentials(timescale_url, topic_prefix, tmp_path):
    url = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_URL")
    user = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_USER")
    password = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_PASSWORD")
    if not (url and user and password):
        pytest.fail("STREETLIGHT_TEST_MQTT_AUTH_* are not set: run the suite with scripts/test")
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lamps (lamp_id) VALUES ('S1'), ('S2')")
        token = make_user(conn, Role.TECHNICIAN)
    port = free_loopback_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_")}
    env.update(
        STREETLIGHT_DATABASE_URL=timescale_url,
        STREETLIGHT_MQTT_URL=url,
        STREETLIGHT_MQTT_USERNAME=user,
        STREETLIGHT_MQTT_PASSWORD=password,
        STREETLIGHT_TOPIC_PREFIX=topic_prefix,
        STREETLIGHT_INGEST_CLIENT_ID=f"serve-{uuid.uuid4().hex[:6]}",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "streetlight"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_log(log, "HTTP API on", timeout_s=60)
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and body["checks"]["broker"] is True
        assert get(f"http://127.0.0.1:{port}/api/v1/lamps")[0] == 401
        status, body = get(f"http://127.0.0.1:{port}/api/v1/lamps", token)
        assert status == 200 and body["total"] == 2

        pub = Publisher(url, f"pub-{uuid.uuid4().hex[:6]}", username=user, password=password)
        for minute in range(30):
            payload = {"ts": f"2026-11-20T18:{minute:02d}:00+01:00", "power_w": 41.5, "dim_level": 80}
            pub.publish(f"{topic_prefix}/lamps/S1/telemetry", json.dumps(payload).encode())
        pub.wait_acked()
        pub.close()
        assert settled_count(timescale_url, "SELECT count(*) FROM readings", 30) == 30
        assert password not in log.read_text(), "secrets never reach the log"
    finally:
        assert stop_process(proc, signal.SIGTERM) == 0
