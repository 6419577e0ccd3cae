"""The API benchmark's report: what served and what asked; each endpoint closed-loop, open-loop, and against
the targets, beside the token floor measured in the same run."""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
from dataclasses import dataclass

from benchmarks.api.open_loop import OpenLoopResult
from benchmarks.api.wrk import Result, Scenario
from benchmarks.common import DEFAULT_MQTT_URL, format_rate, format_table, say
from benchmarks.machine import describe_machine

TARGET_P99_S = 0.100  # the closed-loop target of before, still shown beside its figures
TARGET_SHARE = 0.75  # requests/s at the closed-loop clients, as a share of the token floor's
TARGET_OPEN_LOOP_P99_S = 0.100  # at the offered open-loop rate

HEADERS = (
    "endpoint", "requests/s", "p50 ms", "p99 ms", "max ms", "errors", "server cores", "db cores",
    "server ms/req", "db ms/req", "old p99 target",
)  # fmt: skip
RIGHT = (False, True, True, True, True, True, True, True, True, True, False)
OPEN_LOOP_HEADERS = ("endpoint", "answered/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "no answer", "late p99 ms")
OPEN_LOOP_RIGHT = (False, True, True, True, True, True, True, True)
TARGET_HEADERS = (
    "endpoint", "requests/s", "of floor", "by cpu", f">= {TARGET_SHARE:.0%}",
    "open-loop p99 ms", f"< {TARGET_OPEN_LOOP_P99_S * 1000:.0f} ms",
)  # fmt: skip
TARGET_RIGHT = (False, True, True, True, False, True, False)
MISSES = ("MISSED", "STALLED", "NO FLOOR")


@dataclass(frozen=True, slots=True)
class Measured:
    """One endpoint scenario's figures: closed-loop always, open-loop when the scenario is offered it."""

    scenario: Scenario
    closed: Result
    open_loop: OpenLoopResult | None = None


def ms(value_s: float) -> str:
    if math.isnan(value_s):
        return "-"
    return "no answer" if math.isinf(value_s) else f"{value_s * 1000:.1f}"


def verdict(result: Result, clients: int) -> str:
    """The closed-loop p99 against the target of before: shown, no longer what the exit status follows."""
    if result.requests < clients:
        return "STALLED"
    if not result.target:
        return "-"
    return "OK" if result.p99_s < TARGET_P99_S and not result.errors + result.non_2xx else "MISSED"


def throughput_share(result: Result, floor: Result | None) -> float | None:
    """The endpoint's requests/s as a share of the token floor's, or None without a floor."""
    return result.per_s / floor.per_s if floor is not None and floor.per_s > 0 else None


def cpu_share(result: Result, floor: Result | None) -> float | None:
    """The share the processors alone would allow: the floor's processor time per answer (server and
    database) over the endpoint's; steadier than the rates when other work shares the machine."""
    if floor is None:
        return None
    spent_ms = result.cpu_ms_per_request(result.server_cores + result.database_cores)
    floor_ms = floor.cpu_ms_per_request(floor.server_cores + floor.database_cores)
    return floor_ms / spent_ms if spent_ms > 0 and floor_ms > 0 else None


def share_verdict(result: Result, floor: Result | None, clients: int) -> str:
    if result.requests < clients:
        return "STALLED"
    if not result.target:
        return "-"
    share = throughput_share(result, floor)
    if share is None:
        return "NO FLOOR"
    return "OK" if share >= TARGET_SHARE and not result.errors + result.non_2xx else "MISSED"


def open_loop_verdict(result: OpenLoopResult | None) -> str:
    if result is None or not result.target:
        return "-"
    return "OK" if result.p99_s < TARGET_OPEN_LOOP_P99_S and not result.failed + result.non_2xx else "MISSED"


def token_floor(measured: list[Measured]) -> Measured | None:
    return next((m for m in measured if m.scenario.token_floor), None)


def progress_line(result: Result) -> str:
    """What one endpoint gave closed-loop, printed as soon as it is measured."""
    return (
        f"    {result.per_s:,.0f} requests/s, p50 {ms(result.p50_s)} ms, p99 {ms(result.p99_s)} ms;"
        f" per request: server {result.cpu_ms_per_request(result.server_cores):.2f} ms,"
        f" database {result.cpu_ms_per_request(result.database_cores):.2f} ms of processor time"
    )


def open_loop_progress_line(result: OpenLoopResult) -> str:
    """What one endpoint gave open-loop, printed as soon as it is measured."""
    unanswered = f", {result.failed:,} without an answer" if result.failed else ""
    return (
        f"    open loop: {result.answered_per_s:,.0f} answered/s of {result.rate_per_s:,.0f} offered,"
        f" p50 {ms(result.p50_s)} ms, p99 {ms(result.p99_s)} ms{unanswered}"
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


def open_loop_row(r: OpenLoopResult) -> tuple[object, ...]:
    return (
        r.label,
        format_rate(r.answered_per_s),
        ms(r.p50_s),
        ms(r.p99_s),
        ms(r.max_s),
        r.non_2xx,
        r.failed,
        ms(r.late_p99_s),
    )


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def target_row(m: Measured, floor: Result | None, clients: int) -> tuple[object, ...]:
    return (
        m.closed.label,
        format_rate(m.closed.per_s),
        percent(throughput_share(m.closed, floor)),
        percent(cpu_share(m.closed, floor)),
        share_verdict(m.closed, floor, clients),
        ms(m.open_loop.p99_s) if m.open_loop else "-",
        open_loop_verdict(m.open_loop),
    )


def floor_line(floor: Measured | None) -> str:
    if floor is None:
        return "token floor: not measured, so no share can be judged"
    open_p99 = f"; open-loop p99 {ms(floor.open_loop.p99_s)} ms" if floor.open_loop else ""
    return f"token floor, same run: {floor.closed.label}, {format_rate(floor.closed.per_s)} requests/s{open_p99}"


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
    open_loop = (
        f"benchmarks.api.open_loop (asyncio, HTTP/1.1 keep-alive) in a process of its own,"
        f" {args.open_loop_rate:,.0f} requests/s over {args.open_loop_connections} connections,"
        f" {args.open_loop_duration} s per endpoint"
    )
    return [
        *machine,
        ("server", server),
        ("closed loop", f"{wrk_version}, 1 thread, {args.clients} connections, {args.duration} s per endpoint"),
        ("open loop", open_loop),
    ]


def print_report(setup: list[tuple[str, str]], measured: list[Measured], clients: int, open_loop_rate: float) -> int:
    """Print the report; the exit status: 1 when an endpoint missed a target or stalled."""
    floor = token_floor(measured)
    floor_result = floor.closed if floor else None
    say("")
    say(format_table(["", ""], setup))
    say(f"\nclosed loop: {clients} clients that never pause")
    say(format_table(HEADERS, [result_row(m.closed, clients) for m in measured], right=RIGHT))
    opened = [m.open_loop for m in measured if m.open_loop]
    if opened:
        say(f"\nopen loop: {open_loop_rate:,.0f} requests/s offered, latency from each request's planned send time")
        say(format_table(OPEN_LOOP_HEADERS, [open_loop_row(r) for r in opened], right=OPEN_LOOP_RIGHT))
    say("\ntargets")
    rows = [target_row(m, floor_result, clients) for m in measured if m.closed.target]
    say(format_table(TARGET_HEADERS, rows, right=TARGET_RIGHT))
    say(floor_line(floor))
    say(
        f"\ntargets: requests/s at {clients} clients at least {TARGET_SHARE:.0%} of the token floor's;"
        f" p99 under {TARGET_OPEN_LOOP_P99_S * 1000:.0f} ms at {open_loop_rate:,.0f} requests/s offered open-loop."
        "\nerrors counts failed connections and non-2xx answers; ms/req is processor time per answered request;"
        " db is the backends connected to the benchmark's database, not the rest of the database server;"
        " 'by cpu' is the share the processors alone would allow (the floor's server and database ms/req over the"
        " endpoint's), steadier than requests/s on a shared machine; 'no answer' counts requests unanswered within"
        " the timeout, each slower than any answer; 'late' is how late the generator itself sent."
    )
    stalled = any(verdict(m.closed, clients) == "STALLED" for m in measured)  # a floor too
    if stalled:
        say("STALLED: fewer answers than clients in the whole run (the server stopped answering)")
    verdicts = [cell for row in rows for cell in (row[4], row[6])]
    return 1 if stalled or any(v in MISSES for v in verdicts) else 0
