"""The API benchmark's report: what served and what asked, then one row per endpoint against the target."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess

from benchmarks.api.wrk import Result
from benchmarks.common import DEFAULT_MQTT_URL, format_rate, format_table, say
from benchmarks.machine import describe_machine

TARGET_P99_S = 0.100

HEADERS = (
    "endpoint", "requests/s", "p50 ms", "p99 ms", "max ms", "errors", "server cores", "db cores",
    "server ms/req", "db ms/req", "target",
)  # fmt: skip
RIGHT = (False, True, True, True, True, True, True, True, True, True, False)


def ms(value_s: float) -> str:
    return f"{value_s * 1000:.1f}"


def verdict(result: Result, clients: int) -> str:
    if result.requests < clients:
        return "STALLED"
    if not result.target:
        return "-"
    return "OK" if result.p99_s < TARGET_P99_S and not result.errors + result.non_2xx else "MISSED"


def progress_line(result: Result) -> str:
    """What one endpoint gave, printed as soon as it is measured."""
    return (
        f"    {result.per_s:,.0f} requests/s, p50 {ms(result.p50_s)} ms, p99 {ms(result.p99_s)} ms;"
        f" per request: server {result.cpu_ms_per_request(result.server_cores):.2f} ms,"
        f" database {result.cpu_ms_per_request(result.database_cores):.2f} ms of processor time"
    )


def result_row(r: Result, clients: int) -> tuple[object, ...]:
    return (
        r.label,
        format_rate(r.per_s),
        ms(r.p50_s),
        ms(r.p99_s),
        ms(r.max_s),
        r.errors + r.non_2xx,
        f"{r.server_cores:.2f}",
        f"{r.database_cores:.2f}",
        f"{r.cpu_ms_per_request(r.server_cores):.2f}",
        f"{r.cpu_ms_per_request(r.database_cores):.2f}",
        verdict(r, clients),
    )


def _uvicorn_choice() -> str:
    """What uvicorn's auto takes here: httptools and uvloop when they are installed."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"auto is {http} and {loop} here"


def describe_setup(url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The machine (without the broker, which is not used), the server and the client."""
    import fastapi
    import uvicorn

    from core.settings import get_settings

    machine = [row for row in describe_machine(url, DEFAULT_MQTT_URL) if row[0] != "broker"]
    wrk_version = (
        subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("[")[0].strip()
    )
    pool_size = args.pool_size or get_settings().db_pool_size
    server = (
        f"uvicorn {uvicorn.__version__} (http {args.http}, loop {args.loop}: {_uvicorn_choice()}),"
        f" {args.workers} worker process(es) with {pool_size} database connections each, FastAPI {fastapi.__version__}"
    )
    return [
        *machine,
        ("server", server),
        ("client", f"{wrk_version}, 1 thread, {args.clients} connections, {args.duration} s per endpoint"),
    ]


def print_report(setup: list[tuple[str, str]], results: list[Result], clients: int) -> int:
    """Print the report; the exit status: 1 when an endpoint missed the target or stalled."""
    say("")
    say(format_table(["", ""], setup))
    say("")
    say(format_table(HEADERS, [result_row(r, clients) for r in results], right=RIGHT))
    say(
        f"\ntarget: p99 under {TARGET_P99_S * 1000:.0f} ms at {clients} concurrent clients;"
        " errors counts failed connections and non-2xx answers; ms/req is processor time per answered request"
    )
    if any(verdict(r, clients) == "STALLED" for r in results):
        say("STALLED: fewer answers than clients in the whole run (the server stopped answering)")
    return 1 if any(verdict(r, clients) not in ("-", "OK") for r in results) else 0
