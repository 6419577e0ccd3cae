"""The machine the figures come from: its description, and who kept its processors busy.

Processor time is read from /proc (Linux): for the whole machine, for groups of
processes (the service, the load generator, the broker, the database server), and
for what is left over, which on a shared machine is other people's work.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchmarks.common import scalar
from core import db
from core.mqtt import BrokerConfig

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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


def broker_version(mqtt_url: str, timeout_s: int = 3) -> str:
    """The running broker's own version string, from its $SYS tree (mosquitto_sub)."""
    broker = BrokerConfig.from_url(mqtt_url)
    command = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", "$SYS/broker/version"]
    try:
        out = subprocess.run(
            [*command, "-C", "1", "-W", str(timeout_s)], capture_output=True, text=True, timeout=timeout_s + 5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _database_versions(database_url: str) -> tuple[str, str]:
    """(PostgreSQL version with its durability settings, TimescaleDB version and licence)."""
    server_version = timescaledb_version = "unknown"
    fsync = synchronous_commit = "unknown"
    with contextlib.suppress(psycopg.Error):
        with db.connect(database_url, autocommit=True) as conn:
            info = db.storage_info(conn)
            server_version = info.server_version.split()[0]
            edition = f", licence {info.timescaledb_license}" if info.timescaledb_license else ""
            timescaledb_version = f"{info.timescaledb_version or 'not installed'}{edition}"
            fsync = scalar(conn, "SHOW fsync")
            synchronous_commit = scalar(conn, "SHOW synchronous_commit")
    return f"{server_version} (fsync {fsync}, synchronous_commit {synchronous_commit})", timescaledb_version


def describe_machine(database_url: str, mqtt_url: str) -> list[tuple[str, str]]:
    """What the figures were measured on: processors, memory, server and library versions."""
    import paho.mqtt
    import pydantic

    postgresql, timescaledb = _database_versions(database_url)
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("processors", f"{os.cpu_count()} ({_cpu_model()})"),
        ("memory", _meminfo_gib()),
        ("system", f"{platform.system()} {platform.release()}"),
        ("PostgreSQL", postgresql),
        ("TimescaleDB", timescaledb),
        ("broker", broker_version(mqtt_url)),
        ("Python", platform.python_version()),
        (
            "libraries",
            f"paho-mqtt {paho.mqtt.__version__}, psycopg {psycopg.__version__}"
            f" ({psycopg.pq.__impl__}), pydantic {pydantic.VERSION}",
        ),
    ]


# --- processor time -----------------------------------------------------------
def _machine_cpu_fields() -> list[int]:
    """user, nice, system, idle, iowait, irq, softirq, steal ticks since boot (from /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return [0] * 8
    return fields + [0] * (8 - len(fields))


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

    def __init__(self, groups: Mapping[str, Sequence[int]] | None = None) -> None:
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
        delta = [b - a for a, b in zip(self._start_fields, _machine_cpu_fields(), strict=True)]
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


def background_load(span_s: float = 1.0) -> float:
    """Share of the machine busy over `span_s` before anything is started (others' work)."""
    meter = CpuMeter()
    time.sleep(span_s)
    meter.stop()
    return meter.machine_busy


# --- processes ------------------------------------------------------------------
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
            backend = scalar(conn, "SELECT pg_backend_pid()")
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


def broker_pids(mqtt_url: str) -> list[int]:
    """The processes listening on the broker's port (the broker itself, when it runs here)."""
    return listening_pids(BrokerConfig.from_url(mqtt_url).port)
