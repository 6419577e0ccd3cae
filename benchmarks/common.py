"""Helpers shared by the benchmarks: fresh databases, service processes, the machine, tables.

Benchmarks run against the project's own servers (``scripts/timescaledb``,
``scripts/mosquitto``). Everything a benchmark starts is stopped again, also on
error, and every run works in its own database and under its own topic prefix,
so that runs never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import db
from core.mqtt import make_client, parse_broker_url

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMESCALE_URL = "postgresql://postgres@127.0.0.1:55432/postgres"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:18830"


def default_timescale_url() -> str:
    return os.environ.get("STREETLIGHT_TEST_TIMESCALE_URL") or DEFAULT_TIMESCALE_URL


def run_id() -> str:
    """A short id naming this run's databases, topic prefixes and client ids."""
    return f"{datetime.now(timezone.utc):%H%M%S}{uuid.uuid4().hex[:6]}"


# --- waiting ----------------------------------------------------------------
class BenchmarkError(Exception):
    """A benchmark could not be run (a server missing, a process that died, a timeout)."""


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
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
    return make_conninfo(**params)


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

    def value(self, query: str, params: tuple = ()):
        row = self.one(query, params)
        return row[0] if row else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def background_load(span_s: float = 1.0) -> float:
    """Share of the machine busy over `span_s` before anything is started (others' work)."""
    meter = CpuMeter()
    time.sleep(span_s)
    meter.stop()
    return meter.machine_busy


# --- processes ----------------------------------------------------------------
@dataclass
class ServiceProcess:
    """A `python -m core.cli ...` process writing its output to a log file."""

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
            [sys.executable, "-m", "core.cli", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return ServiceProcess(name, process, log_path)


# --- MQTT ---------------------------------------------------------------------
def clear_mqtt_session(mqtt_url: str, client_id: str, timeout_s: float = 5.0) -> None:
    """Drop the broker's persistent session of `client_id` (connect with a clean session)."""
    client, address = make_client(mqtt_url, client_id=client_id, clean_session=True)
    try:
        client.connect(address.host, address.port, keepalive=10)
        deadline = time.monotonic() + timeout_s
        while not client.is_connected() and time.monotonic() < deadline:
            client.loop(0.1)
        client.disconnect()
    except OSError:
        pass


def broker_version(mqtt_url: str, timeout_s: int = 3) -> str:
    """The running broker's own version string, from its $SYS tree (mosquitto_sub)."""
    address = parse_broker_url(mqtt_url)
    try:
        out = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                address.host,
                "-p",
                str(address.port),
                "-t",
                "$SYS/broker/version",
                "-C",
                "1",
                "-W",
                str(timeout_s),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s + 5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


# --- the machine --------------------------------------------------------------
def _meminfo_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine(database_url_: str, mqtt_url: str) -> list[tuple[str, str]]:
    """What the figures were measured on: processors, memory, server and library versions."""
    import paho.mqtt
    import pydantic

    server_version = timescaledb_version = "unknown"
    fsync = synchronous_commit = "unknown"
    with contextlib.suppress(psycopg.Error):
        with db.connect(database_url_, autocommit=True) as conn:
            info = db.storage_info(conn)
            server_version = info.server_version.split()[0]
            edition = f", licence {info.timescaledb_license}" if info.timescaledb_license else ""
            timescaledb_version = f"{info.timescaledb_version or 'not installed'}{edition}"
            fsync = conn.execute("SHOW fsync").fetchone()[0]
            synchronous_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]
    return [
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("processors", f"{os.cpu_count()} ({_cpu_model()})"),
        ("memory", _meminfo_gib()),
        ("system", f"{platform.system()} {platform.release()}"),
        ("PostgreSQL", f"{server_version} (fsync {fsync}, synchronous_commit {synchronous_commit})"),
        ("TimescaleDB", timescaledb_version),
        ("broker", broker_version(mqtt_url)),
        ("Python", platform.python_version()),
        (
            "libraries",
            f"paho-mqtt {paho.mqtt.__version__}, psycopg {psycopg.__version__}"
            f" ({psycopg.pq.__impl__}), pydantic {pydantic.VERSION}",
        ),
    ]


# --- output -------------------------------------------------------------------
def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table; columns right-aligned where `right` says so (numbers)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = right or [False] * len(headers)

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

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


# --- processor time -----------------------------------------------------------
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_cpu_fields() -> list[int]:
    """user, nice, system, idle, iowait, irq, softirq, steal ticks since boot (from /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return [0] * 8
    return fields + [0] * (8 - len(fields))


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) processor ticks since boot, all processors together (from /proc/stat)."""
    fields = _machine_cpu_fields()
    total = sum(fields)  # guest time is already counted in user time
    return total - fields[3] - fields[4], total  # idle and iowait are not busy


def process_cpu_s(pid: int) -> float:
    """Processor seconds (user + system) used so far by process `pid`; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class CpuMeter:
    """Share of the whole machine busy, and processor time of groups of processes, over a span.

    A process that ends during the span is left out of its group (its time can no longer be read).
    """

    def __init__(self, groups: dict[str, Sequence[int]] | None = None) -> None:
        self.groups = {name: list(pids) for name, pids in (groups or {}).items()}
        self._start_fields = _machine_cpu_fields()
        self._start = {pid: process_cpu_s(pid) for pids in self.groups.values() for pid in pids}
        self._own_start = process_cpu_s(os.getpid())
        self._start_time = time.monotonic()
        self.machine_busy = 0.0
        self.cores: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self.untracked = 0.0
        self.iowait = 0.0

    def stop(self) -> None:
        """machine_busy, iowait: 1.0 = every processor; cores[group] and untracked: 1.0 = one processor's worth;
        cpu_s[group]: processor seconds the group used over the span.

        iowait is time with nothing to run while some process waited for the disk: a
        sign that the disk (shared with other work) slowed the span down.
        """
        delta = [b - a for a, b in zip(self._start_fields, _machine_cpu_fields())]
        total = sum(delta)
        self.machine_busy = (total - delta[3] - delta[4]) / total if total > 0 else 0.0
        self.iowait = delta[4] / total if total > 0 else 0.0
        elapsed = time.monotonic() - self._start_time
        self.untracked = 0.0
        for name, pids in self.groups.items():
            used = 0.0
            for pid in pids:
                now = process_cpu_s(pid)
                if now >= self._start[pid]:
                    used += now - self._start[pid]
            self.cpu_s[name] = used
            self.cores[name] = used / elapsed if elapsed > 0 else 0.0
        # Whatever else kept the processors busy: other people's work, unattributed kernel time.
        tracked = sum(self.cores.values()) + self._own_cores(elapsed)
        self.untracked = max(0.0, self.machine_busy * (os.cpu_count() or 1) - tracked)

    def _own_cores(self, elapsed: float) -> float:
        return (process_cpu_s(os.getpid()) - self._own_start) / elapsed if elapsed > 0 else 0.0


def children_of(parent: int) -> list[int]:
    """Direct children of process `parent` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def database_server_pids(url: str) -> list[int]:
    """The PostgreSQL server behind `url`: its postmaster and every process it has started."""
    with contextlib.suppress(psycopg.Error):
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            postmaster = parent_of(backend)  # while the backend still exists
        if postmaster and postmaster > 1:
            return [postmaster, *(p for p in children_of(postmaster) if p != backend)]
    return []


def listening_pids(port: int) -> list[int]:
    """Processes holding a TCP socket that listens on `port` (from /proc; root sees them all)."""
    inodes = set()
    wanted_port = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[1].rsplit(":", 1)[1] == wanted_port:
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
    return pids


# --- MQTT 3.1.1 on a plain socket (the lean load generator) -------------------------------
# Just what a QoS 1 publisher needs: CONNECT/CONNACK, PUBLISH/PUBACK, PINGREQ/PINGRESP,
# DISCONNECT. Packet layout per the OASIS MQTT 3.1.1 standard, section 3.
MQTT_PUBACK = 0x40
MQTT_PINGRESP = 0xD0
MQTT_PINGREQ_PACKET = b"\xc0\x00"
MQTT_DISCONNECT_PACKET = b"\xe0\x00"
CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def mqtt_length(n: int) -> bytes:
    """The variable-length 'remaining length' of a fixed header (1 to 4 bytes)."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"MQTT remaining length {n} out of range")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def mqtt_string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise ValueError("MQTT string longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def mqtt_connect_packet(
    client_id: str, keepalive_s: int, username: str | None = None, password: str | None = None
) -> bytes:
    """CONNECT with a clean session (a load generator keeps no session)."""
    flags = 0x02
    payload = mqtt_string(client_id)
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
        if password is not None:
            flags |= 0x40
            payload += mqtt_string(password)
    body = mqtt_string("MQTT") + bytes([4, flags]) + keepalive_s.to_bytes(2, "big") + payload
    return b"\x10" + mqtt_length(len(body)) + body


def mqtt_publish_qos1(topic: str, payload: bytes) -> tuple[bytearray, int]:
    """A QoS 1 PUBLISH with packet id 0, and the offset of the id to fill in before sending."""
    head = mqtt_string(topic)
    remaining = len(head) + 2 + len(payload)
    fixed = b"\x32" + mqtt_length(remaining)
    return bytearray(fixed + head + b"\x00\x00" + payload), len(fixed) + len(head)


def mqtt_split_packets(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take every complete packet off the front of `buffer`: (first header byte, body) each."""
    packets: list[tuple[int, bytes]] = []
    start, size = 0, len(buffer)
    while size - start >= 2:
        length, shift, pos = 0, 0, start + 1
        while pos < size and buffer[pos] & 0x80:
            length |= (buffer[pos] & 0x7F) << shift
            pos += 1
            shift += 7
            if shift > 21:
                raise BenchmarkError("malformed packet from the broker (remaining length)")
        if pos >= size:
            break  # the length itself is incomplete
        length |= buffer[pos] << shift
        pos += 1
        if size - pos < length:
            break  # wait for the rest of the body
        packets.append((buffer[start], bytes(buffer[pos : pos + length])))
        start = pos + length
    del buffer[:start]
    return packets
