"""The open-loop load generator: requests at a constant rate, whatever the answers, in a process of its own.

Each request has a planned send time (``i / rate`` after the start) and its latency runs from
that time, not from when a connection was free to send it: a server that falls behind shows
its queue in the latencies instead of slowing the load down (no coordinated omission).
``measure_open_loop`` starts ``python -m benchmarks.api.open_loop SPEC RESULT`` and reads its figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.api.wrk import Scenario
from benchmarks.common import REPO_ROOT, BenchmarkError

START_DELAY_S = 0.2  # between the connections being open and the first planned request


# --- pure parts -------------------------------------------------------------------
def planned_offsets_s(rate_per_s: float, duration_s: float) -> list[float]:
    """Planned send times, seconds after the start: a constant arrival rate over `duration_s`."""
    if rate_per_s <= 0 or duration_s <= 0:
        raise ValueError("the rate and the duration must be positive")
    return [i / rate_per_s for i in range(round(rate_per_s * duration_s))]


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `percent` % of values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def request_bytes(host: str, path: str, token: str | None) -> bytes:
    """One keep-alive HTTP/1.1 GET."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode("latin-1")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the (lower-cased) header fields of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


@dataclass(frozen=True, slots=True)
class OpenLoopResult:
    label: str
    rate_per_s: float  # offered
    duration_s: float  # of the schedule
    planned: int
    answered: int
    non_2xx: int
    failed: int  # no answer: connection errors, timeouts, still waiting at the end
    p50_s: float  # inf when more than half the requests got no answer
    p99_s: float
    max_s: float
    late_p99_s: float  # how late the generator itself dispatched, p99: its own health
    target: bool = True

    @property
    def answered_per_s(self) -> float:
        return self.answered / self.duration_s if self.duration_s else 0.0


def summarize(label: str, raw: dict[str, Any], *, target: bool = True) -> OpenLoopResult:
    """The figures of one run from the generator's raw output; a request without an answer counts
    as slower than every answered one."""
    latencies = [float(v) for v in raw["latencies_s"]]
    failed = raw["planned"] - len(latencies)
    everything = latencies + [math.inf] * failed
    return OpenLoopResult(
        label=label,
        rate_per_s=raw["rate_per_s"],
        duration_s=raw["duration_s"],
        planned=raw["planned"],
        answered=len(latencies),
        non_2xx=raw["non_2xx"],
        failed=failed,
        p50_s=percentile(everything, 50),
        p99_s=percentile(everything, 99),
        max_s=max(everything, default=math.nan),
        late_p99_s=percentile(raw["late_s"], 99),
        target=target,
    )


# --- the generator (child process) ------------------------------------------------
async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response; its status, and whether the connection stays open."""
    status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                break
            await reader.readexactly(size + 2)
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        await reader.read()  # the body ends with the connection
        return status, False
    return status, headers.get("connection", "").lower() != "close"


class _Connection:
    """One keep-alive connection, reopened when the server has closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> None:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    async def get(self, request: bytes) -> int:
        """Send `request`, read the answer; its status. Resent once on a connection closed while idle."""
        for attempt in (1, 2):
            await self.open()
            assert self.streams is not None
            reader, writer = self.streams
            try:
                writer.write(request)
                await writer.drain()
                status, keep_alive = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                # Most likely the server closed the idle connection as the GET went out; a GET may be sent again.
                if attempt == 2 or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise
                continue
            if not keep_alive:
                self.close()
            return status
        raise AssertionError("unreachable")


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Send the planned requests over `connections` keep-alive connections; the latencies and lateness."""
    url = urlsplit(spec["base_url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    paths, tokens = spec["paths"], spec["tokens"]
    offsets = planned_offsets_s(spec["rate_per_s"], spec["duration_s"])
    clock = time.monotonic  # not loop.time(): uvloop's counts whole milliseconds
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    latencies: list[float] = []
    late_s: list[float] = []
    non_2xx = 0

    async def worker(connection: _Connection) -> None:
        nonlocal non_2xx
        while True:
            index, planned = await queue.get()
            token = tokens[index % len(tokens)] if tokens else None
            try:
                request = request_bytes(host, paths[index % len(paths)], token)
                status = await asyncio.wait_for(connection.get(request), spec["timeout_s"])
                latencies.append(clock() - planned)
                non_2xx += not 200 <= status < 300
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                connection.close()  # counted as failed: planned but not answered
            finally:
                queue.task_done()

    connections = [_Connection(host, port) for _ in range(spec["connections"])]
    await asyncio.gather(*(c.open() for c in connections))
    workers = [asyncio.create_task(worker(c)) for c in connections]
    start = clock() + START_DELAY_S
    for index, offset in enumerate(offsets):
        planned = start + offset
        while (delay := planned - clock()) > 0:  # timers may fire a little early: never send before the plan
            await asyncio.sleep(delay)
        late_s.append(max(0.0, clock() - planned))
        queue.put_nowait((index, planned))
    try:  # answers still due get the timeout, counted from the end of the schedule
        await asyncio.wait_for(queue.join(), spec["timeout_s"])
    except TimeoutError:
        pass
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for connection in connections:
        connection.close()
    return {
        "rate_per_s": spec["rate_per_s"],
        "duration_s": spec["duration_s"],
        "planned": len(offsets),
        "latencies_s": latencies,
        "non_2xx": non_2xx,
        "late_s": late_s,
    }


def child_main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    try:
        import uvloop  # the client's own overhead stays small beside the server's

        raw = uvloop.run(generate(spec))
    except ImportError:
        raw = asyncio.run(generate(spec))
    # A file, not stdout: the event loop may have left stdout non-blocking, and the figures are long.
    Path(result_path).write_text(json.dumps(raw))


# --- the parent's side -------------------------------------------------------------
def measure_open_loop(
    base_url: str,
    scenario: Scenario,
    tokens: list[str],
    *,
    rate_per_s: float,
    duration_s: float,
    connections: int,
    script_dir: Path,
    timeout_s: float = 10.0,
) -> OpenLoopResult:
    """Offer `rate_per_s` requests per second of `scenario` for `duration_s`, from a process of its own."""
    spec = {
        "base_url": base_url,
        "paths": scenario.paths,
        "tokens": tokens if scenario.authenticated else [],
        "rate_per_s": rate_per_s,
        "duration_s": duration_s,
        "connections": connections,
        "timeout_s": timeout_s,
    }
    spec_path, result_path = script_dir / "open_loop.json", script_dir / "open_loop_result.json"
    spec_path.write_text(json.dumps(spec))
    result_path.unlink(missing_ok=True)
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.api.open_loop", str(spec_path), str(result_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=duration_s + timeout_s + 60,
        check=False,
    )
    if out.returncode != 0 or not result_path.exists():
        raise BenchmarkError(
            f"the open-loop generator exited with code {out.returncode} after {time.monotonic() - began:.0f} s:"
            f" {out.stdout[-500:]} {out.stderr[-800:]}"
        )
    return summarize(scenario.label, json.loads(result_path.read_text()), target=scenario.target)


if __name__ == "__main__":
    child_main(sys.argv[1], sys.argv[2])
