"""The closed-loop load generator: wrk holding keep-alive connections open, one endpoint scenario at a time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkError
from benchmarks.machine import CpuMeter
from core import db


@dataclass(frozen=True, slots=True)
class Scenario:
    label: str
    paths: list[str]
    authenticated: bool = True
    target: bool = True  # held to the targets (floors and once-a-minute calls are not)
    token_floor: bool = False  # the authenticated no-op whose requests/s the others are compared with
    open_loop: bool = True  # also measured at the open-loop offered load


@dataclass
class Result:
    label: str
    requests: int
    duration_s: float
    p50_s: float
    p99_s: float
    max_s: float
    errors: int
    non_2xx: int
    server_cores: float
    database_cores: float
    client_cores: float
    target: bool = True

    @property
    def per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def cpu_ms_per_request(self, cores: float) -> float:
        """Processor time per answered request, ms: robust to a busy machine, unlike the rates."""
        return cores * self.duration_s / self.requests * 1000 if self.requests else 0.0


def refusal(package: str, *, is_root: bool, has_apt_get: bool) -> str | None:
    """Why the benchmark cannot install Debian package `package` itself, or None when it can."""
    if not has_apt_get:
        return f"{package} is missing and there is no apt-get here: install it by hand"
    if not is_root:
        return (
            f"{package} is missing: run the benchmark as root to let it install {package}, or apt-get install {package}"
        )
    return None


Runner = Callable[[list[str]], subprocess.CompletedProcess]


def _run_quietly(command: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # apt-get must never stop to ask
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def ensure_installed(command: str, package: str, *, say: Callable[[str], None], run: Runner = _run_quietly) -> None:
    """Install `package` with apt-get when `command` is not on the PATH; BenchmarkError when that cannot be."""
    if shutil.which(command):
        return
    reason = refusal(package, is_root=os.geteuid() == 0, has_apt_get=shutil.which("apt-get") is not None)
    if reason:
        raise BenchmarkError(reason)
    say(f"{command} is missing: apt-get install {package}")
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if run(install).returncode != 0:  # the package lists may be missing or stale: update, then once more
        for step in (["apt-get", "update"], install):
            done = run(step)
            if done.returncode != 0:
                raise BenchmarkError(f"{' '.join(step)} failed: {done.stderr.strip()[-500:]}")
    if not shutil.which(command):
        raise BenchmarkError(f"{command} is still missing after apt-get install {package}")


_WRK_SCRIPT = """
local paths = {%(paths)s}
local tokens = {%(tokens)s}
local n = 0
request = function()
  n = n + 1
  local headers = {}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1] end
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d,'
    .. ' "max_us": %%d, "errors": %%d, "non_2xx": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, errors, non2xx))
end
"""


def lua_strings(values: list[str]) -> str:
    return ", ".join(json.dumps(value) for value in values)  # JSON string escapes are valid Lua here


def wrk_script(scenario: Scenario, tokens: list[str]) -> str:
    """The Lua script that sends the scenario's requests in turn and prints wrk's figures as one JSON line."""
    return _WRK_SCRIPT % {
        "paths": lua_strings(scenario.paths),
        "tokens": lua_strings(tokens if scenario.authenticated else []),
    }


def parse_wrk_output(stdout: str) -> dict[str, Any] | None:
    """The figures the script's `done` printed, or None when wrk printed none."""
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return None


def run_wrk(
    base_url: str, scenario: Scenario, tokens: list[str], *, clients: int, duration_s: int, script_dir: Path
) -> dict[str, Any]:
    script = script_dir / "scenario.lua"
    script.write_text(wrk_script(scenario, tokens))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{duration_s}s", "--timeout", "10s", "-s", str(script), base_url],
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
        check=False,
    )
    raw = parse_wrk_output(out.stdout)
    if raw is None:
        raise BenchmarkError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    return raw


def database_backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database: the served application's pool.

    Not the whole database server, which other work may share: its backends are not this endpoint's cost.
    """
    with db.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def measure(
    base_url: str,
    scenario: Scenario,
    tokens: list[str],
    *,
    clients: int,
    duration_s: int,
    warmup_s: int,
    server_pids: list[int],
    database_url: str,
    script_dir: Path,
) -> Result:
    if warmup_s:
        run_wrk(base_url, scenario, tokens, clients=clients, duration_s=warmup_s, script_dir=script_dir)
    # After the warm-up: the pool's connections (server processes of their own) are open by then.
    meter = CpuMeter({"server": server_pids, "database": database_backend_pids(database_url)})
    raw = run_wrk(base_url, scenario, tokens, clients=clients, duration_s=duration_s, script_dir=script_dir)
    meter.stop()
    return Result(
        label=scenario.label,
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_s=raw["p50_us"] / 1e6,
        p99_s=raw["p99_us"] / 1e6,
        max_s=raw["max_us"] / 1e6,
        errors=raw["errors"],
        non_2xx=raw["non_2xx"],
        server_cores=meter.cores["server"],
        database_cores=meter.cores["database"],
        client_cores=meter.untracked,  # wrk, mostly; the machine's other work too
        target=scenario.target,
    )
