"""What the API's input checks cost: the scan of a JSON body, for an ordinary body and for
bodies of the largest size the API reads (1 MiB) shaped to make the scan work hardest; and
the middleware's own cost on a request, with and without a small body.

Beside a floor measured in the same run: `json.loads` of the same body, the parse that
every endpoint taking JSON makes anyway after the scan (no floor where the body is not
JSON the parser takes, or would make it recurse past its limit); for a request, the same
application called without the middleware.

    .venv/bin/python -m benchmarks.input_scan
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.input_discipline import DEFAULT_BODY_LIMIT_BYTES, InputDiscipline
from api.input_scan import scan_json
from benchmarks.common import format_table

LIMIT = DEFAULT_BODY_LIMIT_BYTES


def _fill(head: bytes, unit: bytes, tail: bytes, size: int = LIMIT) -> bytes:
    """`head`, then `unit` repeated, then `tail`: at most `size` bytes."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def bodies() -> dict[str, bytes]:
    lamp = {"lamp_id": "L-0042", "name": "Rue des Tilleuls 12", "lat": 48.8566, "lon": 2.3522, "rated_power_w": 54}
    return {
        "a lamp (ordinary)": json.dumps(lamp).encode(),
        "one long string": _fill(b'{"notes": "', b"n", b'"}'),
        "numbers": _fill(b"[", b"1234567,", b"0]"),
        "short strings": _fill(b"[", b'"ab",', b'""]'),
        "strings with escapes": _fill(b"[", b'"\\u00e9",', b'""]'),
        "emoji, escaped as pairs": _fill(b"[", b'"\\ud83d\\ude00",', b'""]'),
        "a NUL at the end": _fill(b'{"notes": ["', b'ab", "', b'\\u0000"]}'),
        "empty arrays": _fill(b"[", b"[],", b"[]]"),
        "brackets in strings": _fill(b'["', b"[{", b'"]'),
        "quotes and backslashes": _fill(b'"', b'\\"', b'"'),
        "nested 500,000 deep": b"[" * (LIMIT // 2) + b"]" * (LIMIT // 2),
    }


def best_of(function: Callable[[], object], repeat: int) -> float:
    """The shortest of `repeat` runs, in seconds."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def parse_or_none(body: bytes) -> Callable[[], object] | None:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return None
    return lambda: json.loads(body)


def measure(repeat: int = 5) -> list[tuple[str, int, float, float | None, str]]:
    rows = []
    for name, body in bodies().items():
        refusal = scan_json(body)
        scan_s = best_of(functools.partial(scan_json, body), repeat)
        parse = parse_or_none(body)
        floor_s = best_of(parse, repeat) if parse is not None else None
        rows.append((name, len(body), scan_s, floor_s, refusal.type if refusal else "accepted"))
    return rows


def format_rows(rows: list[tuple[str, int, float, float | None, str]]) -> str:
    def ms(value_s: float | None) -> str:
        return "-" if value_s is None else f"{value_s * 1000:.3f} ms"

    table = [(name, f"{size:,}", ms(scan_s), ms(floor_s), outcome) for name, size, scan_s, floor_s, outcome in rows]
    headers = ("body", "bytes", "scan", "floor: json.loads", "scan says")
    return format_table(headers, table, right=(False, True, True, True, False))


async def _application(scope: Any, receive: Any, send: Any) -> None:
    await receive()


def request_cost_s(with_body: bool, requests: int = 20_000) -> tuple[float, float]:
    """Seconds per request through the middleware, and for the application alone."""
    body = json.dumps({"lamp_id": "L-0042", "source": "manual", "notes": "pole hit by a van"}).encode()
    headers = [(b"host", b"streetlight"), (b"authorization", b"Bearer slt_x"), (b"accept", b"application/json")]
    if with_body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope: dict[str, Any] = {"type": "http", "method": "POST" if with_body else "GET", "path": "/api/v1/work-orders"}
    scope |= {"query_string": b"status=open&limit=100", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body if with_body else b"", "more_body": False}

    async def run(app: Any) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await app(scope, receive, None)
        return (time.perf_counter() - started) / requests

    middleware = InputDiscipline(_application)
    return asyncio.run(run(middleware)), asyncio.run(run(_application))


def main() -> None:
    print(format_rows(measure()))
    print()
    rows = []
    for with_body in (False, True):
        through_s, alone_s = request_cost_s(with_body)
        name = "POST, a small JSON body" if with_body else "GET with a query string"
        rows.append(
            (name, f"{through_s * 1e6:.1f} µs", f"{alone_s * 1e6:.1f} µs", f"{(through_s - alone_s) * 1e6:.1f} µs")
        )
    print(
        format_table(
            ("request", "through the middleware", "floor: application alone", "cost"),
            rows,
            right=(False, True, True, True),
        )
    )


if __name__ == "__main__":
    main()
