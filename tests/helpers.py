"""Helpers shared by the tests that run real processes against real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import psycopg

from core.mqtt import BrokerConfig, make_client

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], bool], timeout_s: float = 60.0, interval_s: float = 0.2, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what or predicate}")


def scalar(database_url: str, sql: str, params: tuple = ()) -> int:
    """A one-value query on a fresh connection (survives database restarts between calls)."""
    for attempt in range(50):
        try:
            with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
                return conn.execute(sql, params).fetchone()[0]
        except psycopg.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def settled_count(database_url: str, sql: str, expected: int, timeout_s: float = 120.0, quiet_s: float = 1.5) -> int:
    """Wait until the count reaches `expected`, then a little longer, and return it.

    The extra wait is what lets a test see a double (a count above `expected`).
    """
    wait_until(lambda: scalar(database_url, sql) >= expected, timeout_s, what=f"{expected} rows from {sql}")
    time.sleep(quiet_s)
    return scalar(database_url, sql)


def ingester_env(database_url: str, mqtt_url: str, prefix: str, client_id: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_") or k.startswith("STREETLIGHT_TEST")}
    env.update(
        STREETLIGHT_DATABASE_URL=database_url,
        STREETLIGHT_MQTT_URL=mqtt_url,
        STREETLIGHT_TOPIC_PREFIX=prefix,
        STREETLIGHT_INGEST_CLIENT_ID=client_id,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli_env(database_url: str | None = None, **env: str) -> dict[str, str]:
    """The environment for a `streetlight` command: none of the caller's STREETLIGHT_ settings
    (the test services' STREETLIGHT_TEST_* stay), then `database_url` and `env`."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_") or k.startswith("STREETLIGHT_TEST")
    }
    if database_url:
        full_env["STREETLIGHT_DATABASE_URL"] = database_url
    full_env.update(env)
    return full_env


def run_cli(
    args: list[str], database_url: str | None = None, stdin: str | None = None, *, timeout_s: float = 120.0, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `streetlight ARGS` to the end and capture what it prints; no terminal on stdin unless given."""
    return subprocess.run(
        [sys.executable, "-m", "streetlight", *args],
        env=cli_env(database_url, **env),
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def fetch_one(database_url: str, query: str, params: tuple = ()) -> tuple | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchone()


def start_cli(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "streetlight", *args], env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
    )


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def wait_for_log(log_path: Path, text: str, timeout_s: float = 60.0) -> None:
    wait_until(lambda: log_path.exists() and text in log_path.read_text(errors="replace"), timeout_s, what=repr(text))


class Publisher:
    """A QoS 1 publisher with a persistent session that survives broker restarts."""

    def __init__(self, mqtt_url: str, client_id: str, **kwargs) -> None:
        broker = BrokerConfig.from_url(mqtt_url, **kwargs)
        self.client = make_client(broker, client_id=client_id, clean_session=False)
        self.acked = 0
        self.published = 0
        self.client.on_publish = self._on_publish
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acked += 1

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> paho.MQTTMessageInfo:
        self.published += 1
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def wait_acked(self, timeout_s: float = 120.0) -> None:
        wait_until(lambda: self.acked >= self.published, timeout_s, what="the broker to acknowledge every publish")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def service_script(name: str, action: str) -> None:
    """Drive the project's own service scripts (scripts/timescaledb, scripts/mosquitto)."""
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / name), action], check=True, cwd=REPO_ROOT, timeout=180)
