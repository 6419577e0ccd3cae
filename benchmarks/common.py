"""Helpers shared by the benchmarks: fresh databases, service processes, waiting, tables.

Everything a benchmark starts is stopped again, also on error, and every run works
in its own database and under its own topic prefix, so that runs never see each
other's data. What the machine is and how busy it was lives in `benchmarks.machine`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import db
from core.mqtt import BrokerConfig, make_client

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMESCALE_URL = "postgresql://postgres@127.0.0.1:55432/postgres"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:18830"


def default_timescale_url() -> str:
    return os.environ.get("STREETLIGHT_TEST_TIMESCALE_URL") or DEFAULT_TIMESCALE_URL


def run_id() -> str:
    """A short id naming this run's databases, topic prefixes and client ids."""
    return f"{datetime.now(UTC):%H%M%S}{uuid.uuid4().hex[:6]}"


# --- waiting ----------------------------------------------------------------
class BenchmarkError(Exception):
    """A benchmark could not be run (a server missing, a process that died, a timeout)."""


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise BenchmarkError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


# --- progress ---------------------------------------------------------------
class Progress:
    """One status line: rewritten in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, every_s: float = 5.0) -> None:
        self._tty = sys.stdout.isatty()
        self._every_s = every_s
        self._last_print = 0.0
        self._width = 0

    def update(self, text: str) -> None:
        if self._tty:
            pad = max(0, self._width - len(text))
            sys.stdout.write("\r" + text + " " * pad)
            sys.stdout.flush()
            self._width = len(text)
        elif time.monotonic() - self._last_print >= self._every_s:
            print(text, flush=True)
            self._last_print = time.monotonic()

    def done(self, text: str) -> None:
        if self._tty:
            pad = max(0, self._width - len(text))
            sys.stdout.write("\r" + text + " " * pad + "\n")
            sys.stdout.flush()
            self._width = 0
        else:
            print(text, flush=True)


def say(text: str) -> None:
    print(text, flush=True)


# --- databases ----------------------------------------------------------------
def database_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`."""
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo("", **params)


def scalar(conn: psycopg.Connection, query: str, params: tuple = ()) -> Any:
    """The first column of the one row that `query` always returns (a count, a SHOW)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise BenchmarkError(f"no row from {query.split()[0]} query")
    return row[0]


def drop_database(admin_url: str, name: str) -> None:
    with db.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """Create and migrate database `name`, yield its URL, drop it afterwards."""
    db.wait_for_database(admin_url, timeout_s=60)  # the server may be restarting (shared with tests)
    db.create_database(admin_url, name, drop_existing=True)
    try:
        url = database_url(admin_url, name)
        db.upgrade(url)
        yield url
    finally:
        try:
            db.wait_for_database(admin_url, timeout_s=60)
            drop_database(admin_url, name)
        except psycopg.Error as exc:  # the server is gone: say what is left behind
            print(f"could not drop database {name} ({str(exc).strip().splitlines()[0]}); drop it by hand", flush=True)


def register_lamps(url: str, lamp_ids: Sequence[str]) -> None:
    with db.connect(url) as conn:
        with conn.cursor().copy("COPY lamps (lamp_id) FROM STDIN") as copy:
            for lamp_id in lamp_ids:
                copy.write_row((lamp_id,))
        conn.commit()


class Watcher:
    """Queries on one autocommit connection that reconnects if the server goes away for a while.

    The benchmark servers are shared: a test elsewhere may restart them mid-run.
    """

    def __init__(self, url: str, retry_s: float = 60.0) -> None:
        self.url = url
        self.retry_s = retry_s
        self._conn: psycopg.Connection | None = None

    def one(self, query: str, params: tuple = ()) -> tuple | None:
        """The first row of `query` (None for statements that return no rows)."""
        deadline = time.monotonic() + self.retry_s
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                cur = self._conn.execute(query, params)
                return cur.fetchone() if cur.description else None
            except (psycopg.OperationalError, psycopg.InterfaceError):
                self.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def row(self, query: str, params: tuple = ()) -> tuple:
        """The first row of a query that always returns one (an aggregate)."""
        found = self.one(query, params)
        if found is None:
            raise BenchmarkError(f"no row from {query.split()[0]} query")
        return found

    def value(self, query: str, params: tuple = ()) -> Any:
        row = self.one(query, params)
        return row[0] if row else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- processes ----------------------------------------------------------------
@dataclass
class ServiceProcess:
    """A `python -m streetlight ...` process writing its output to a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log_text().splitlines()[-15:])
            raise BenchmarkError(f"{self.name} exited with code {self.process.returncode}; its log ends:\n{tail}")

    def subscribed(self) -> bool:
        """Whether the service has logged its subscription; raises if it has died."""
        self.check_alive()
        return "subscribed to" in self.log_text()

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def service_env(**settings: str) -> dict[str, str]:
    """This environment without any STREETLIGHT_ setting, plus `settings` (STREETLIGHT_ names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_service(name: str, args: list[str], env: dict[str, str], log_path: Path) -> ServiceProcess:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streetlight", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return ServiceProcess(name, process, log_path)


# --- MQTT ---------------------------------------------------------------------
def mqtt_client(mqtt_url: str, client_id: str, *, clean_session: bool = True) -> tuple[paho.Client, BrokerConfig]:
    """A paho client for the broker at `mqtt_url`, and the broker it is to connect to."""
    broker = BrokerConfig.from_url(mqtt_url)
    return make_client(broker, client_id=client_id, clean_session=clean_session), broker


def clear_mqtt_session(mqtt_url: str, client_id: str, timeout_s: float = 5.0) -> None:
    """Drop the broker's persistent session of `client_id` (connect with a clean session)."""
    client, broker = mqtt_client(mqtt_url, client_id, clean_session=True)
    try:
        client.connect(broker.host, broker.port, keepalive=10)
        deadline = time.monotonic() + timeout_s
        while not client.is_connected() and time.monotonic() < deadline:
            client.loop(0.1)
        client.disconnect()
    except OSError:
        pass


# --- output -------------------------------------------------------------------
def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table; columns right-aligned where `right` says so (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    aligned_right = right or [False] * len(headers)

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, aligned_right, strict=False)
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def format_rate(per_s: float | None) -> str:
    return "-" if per_s is None else f"{per_s:,.0f}"


def format_seconds(value_s: float | None) -> str:
    if value_s is None:
        return "-"
    if value_s < 1:
        return f"{value_s * 1000:.0f} ms"
    return f"{value_s:.1f} s"
