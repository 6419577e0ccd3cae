"""The open-loop generator: its schedule, percentiles, HTTP framing, summary, and one short run on a local server."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.api.open_loop import (
    generate,
    measure_open_loop,
    parse_head,
    percentile,
    planned_offsets_s,
    read_response,
    request_bytes,
    summarize,
)
from benchmarks.api.wrk import Scenario


def test_the_schedule_is_a_constant_rate_over_the_duration() -> None:
    offsets = planned_offsets_s(200, 2)
    assert len(offsets) == 400
    assert offsets[:3] == [0.0, 0.005, 0.01]
    assert offsets[-1] == pytest.approx(1.995)
    assert planned_offsets_s(3, 1) == [0.0, 1 / 3, 2 / 3]
    with pytest.raises(ValueError):
        planned_offsets_s(0, 1)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 99))
    # Two requests in a hundred without an answer put the p99 beyond every answer.
    assert percentile([0.01] * 98 + [math.inf] * 2, 99) == math.inf


def test_requests_carry_the_token_when_there_is_one() -> None:
    assert request_bytes("h", "/a?b=1", "t1") == b"GET /a?b=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t1\r\n\r\n"
    assert request_bytes("h", "/healthz", None) == b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"


def test_a_response_head_gives_status_and_lower_cased_fields() -> None:
    status, headers = parse_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b: c\r\n\r\n")
    assert status == 404
    assert headers == {"content-length": "3", "x-a": "b: c"}
    with pytest.raises(ValueError):
        parse_head(b"garbage\r\n\r\n")


def read(data: bytes) -> tuple[tuple[int, bool], bytes]:
    """What read_response makes of `data`, and what it leaves unread."""

    async def run() -> tuple[tuple[int, bool], bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        answer = await read_response(reader)
        return answer, await reader.read()

    return asyncio.run(run())


def test_responses_are_read_whole_by_length_chunks_or_to_the_end() -> None:
    assert read(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokNEXT") == ((200, True), b"NEXT")
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT"
    assert read(chunked) == ((200, True), b"NEXT")
    assert read(b"HTTP/1.1 500 Oops\r\nConnection: close\r\ncontent-length: 0\r\n\r\n") == ((500, False), b"")
    assert read(b"HTTP/1.0 200 OK\r\n\r\nto the end") == ((200, False), b"")


def test_the_summary_counts_a_missing_answer_as_slower_than_any() -> None:
    raw = {
        "rate_per_s": 100.0,
        "duration_s": 1.0,
        "planned": 100,
        "latencies_s": [0.002] * 97 + [0.05],
        "non_2xx": 1,
        "late_s": [0.0] * 99 + [0.004],
    }
    result = summarize("x", raw)
    assert (result.planned, result.answered, result.failed, result.non_2xx) == (100, 98, 2, 1)
    assert result.p50_s == 0.002
    assert result.p99_s == math.inf
    assert result.max_s == math.inf
    assert result.late_p99_s == 0.0
    assert result.answered_per_s == 98.0
    raw["planned"] = 98
    assert summarize("x", raw).p99_s == 0.05


async def serve_slowly(delay_s: float) -> asyncio.Server:
    """A keep-alive server answering every request after `delay_s`, one at a time per connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(delay_s)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # cancelled too: Python 3.11 logs a cancelled handler as an error

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def run_against(delay_s: float, connections: int) -> dict:
    async def run() -> dict:
        server = await serve_slowly(delay_s)
        port = server.sockets[0].getsockname()[1]
        spec = {
            "base_url": f"http://127.0.0.1:{port}",
            "paths": ["/a", "/b"],
            "tokens": ["t"],
            "rate_per_s": 100.0,
            "duration_s": 0.3,
            "connections": connections,
            "timeout_s": 5.0,
        }
        async with server:
            return await generate(spec)

    return asyncio.run(run())


def test_every_planned_request_is_answered_at_its_rate() -> None:
    raw = run_against(delay_s=0.0, connections=4)
    assert raw["planned"] == 30
    assert len(raw["latencies_s"]) == 30
    assert raw["non_2xx"] == 0
    assert all(0 <= latency < 0.5 for latency in raw["latencies_s"])


def test_a_slow_server_shows_its_queue_in_the_latency() -> None:
    # One connection, 20 ms an answer, a request every 10 ms: each waits longer than the one before.
    # Measured from when a connection was free, every latency would be about 20 ms.
    raw = run_against(delay_s=0.02, connections=1)
    latencies = raw["latencies_s"]
    assert len(latencies) == 30
    assert latencies[-1] > 0.2
    assert latencies[-1] > latencies[0] + 0.15


class Answers(BaseHTTPRequestHandler):
    """200 for /ok with a body long enough to need several reads, 404 otherwise, keep-alive."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"x" * 100_000 if self.path == "/ok" else b""
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_generator_runs_in_a_process_of_its_own(base_url: str, tmp_path: Path) -> None:
    scenario = Scenario("two paths", ["/ok", "/missing"], authenticated=False)
    result = measure_open_loop(
        base_url, scenario, [], rate_per_s=50, duration_s=1, connections=2, script_dir=tmp_path, timeout_s=5
    )
    assert (result.label, result.planned, result.answered, result.failed) == ("two paths", 50, 50, 0)
    assert result.non_2xx == 25
    assert 0 < result.p50_s <= result.p99_s <= result.max_s < 1
