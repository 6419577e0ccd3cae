"""The API benchmark's report: shares of the token floor, the verdicts against both targets, the tables."""

from __future__ import annotations

import math

import pytest

from benchmarks.api.open_loop import OpenLoopResult
from benchmarks.api.report import (
    TARGET_HEADERS,
    Measured,
    cpu_share,
    floor_line,
    ms,
    open_loop_row,
    open_loop_verdict,
    print_report,
    share_verdict,
    target_row,
    throughput_share,
    token_floor,
)
from benchmarks.api.wrk import Result, Scenario


def closed(label: str = "x", requests: int = 1000, *, errors: int = 0, target: bool = True) -> Result:
    # 10 s; server 0.5 cores and database 0.25: 7.5 ms of processor time per answer at 1,000 requests.
    return Result(label, requests, 10.0, 0.005, 0.01, 0.2, errors, 0, 0.5, 0.25, 0.1, target=target)


def opened(p99_s: float = 0.02, *, failed: int = 0, non_2xx: int = 0, target: bool = True) -> OpenLoopResult:
    return OpenLoopResult("x", 200.0, 20.0, 4000, 4000 - failed, non_2xx, failed, 0.004, p99_s, 0.3, 0.001, target)


FLOOR = closed("floor", 1000, target=False)


def test_the_share_is_requests_per_second_over_the_floors() -> None:
    assert throughput_share(closed(requests=800), FLOOR) == pytest.approx(0.8)
    assert throughput_share(closed(), None) is None
    assert throughput_share(closed(), closed(requests=0)) is None


def test_the_cpu_share_compares_processor_time_per_answer() -> None:
    # Same cores over half the answers: each answer costs twice the floor's.
    assert cpu_share(closed(requests=500), FLOOR) == pytest.approx(0.5)
    assert cpu_share(closed(), None) is None
    assert cpu_share(closed(requests=0), FLOOR) is None


def test_share_verdicts() -> None:
    assert share_verdict(closed(requests=750), FLOOR, clients=50) == "OK"  # 75 % is enough
    assert share_verdict(closed(requests=749), FLOOR, clients=50) == "MISSED"
    assert share_verdict(closed(errors=1), FLOOR, clients=50) == "MISSED"
    assert share_verdict(closed(), None, clients=50) == "NO FLOOR"
    assert share_verdict(closed(target=False), FLOOR, clients=50) == "-"
    assert share_verdict(closed(requests=10), FLOOR, clients=50) == "STALLED"


def test_open_loop_verdicts() -> None:
    assert open_loop_verdict(opened()) == "OK"
    assert open_loop_verdict(opened(p99_s=0.1)) == "MISSED"
    assert open_loop_verdict(opened(failed=1)) == "MISSED"
    assert open_loop_verdict(opened(non_2xx=1)) == "MISSED"
    assert open_loop_verdict(opened(target=False)) == "-"
    assert open_loop_verdict(None) == "-"


def test_milliseconds_say_when_there_was_no_answer() -> None:
    assert ms(0.01234) == "12.3"
    assert ms(math.inf) == "no answer"
    assert ms(math.nan) == "-"


def test_rows() -> None:
    assert open_loop_row(opened(failed=3)) == ("x", "200", "4.0", "20.0", "300.0", 0, 3, "1.0")
    row = target_row(Measured(Scenario("x", ["/x"]), closed(requests=900), opened()), FLOOR, clients=50)
    assert row == ("x", "90", "90%", "90%", "OK", "20.0", "OK")
    assert len(row) == len(TARGET_HEADERS)
    no_open_loop = target_row(Measured(Scenario("x", ["/x"]), closed()), FLOOR, clients=50)
    assert no_open_loop[-2:] == ("-", "-")


def test_the_floor_is_found_and_named() -> None:
    floor = Measured(Scenario("floor", ["/me"], target=False, token_floor=True), FLOOR, opened(p99_s=0.005))
    other = Measured(Scenario("x", ["/x"]), closed())
    assert token_floor([other, floor]) is floor
    assert token_floor([other]) is None
    assert floor_line(floor) == "token floor, same run: floor, 100 requests/s; open-loop p99 5.0 ms"
    assert "not measured" in floor_line(None)


def report(measured: list[Measured], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = print_report([("machine", "test")], measured, clients=50, open_loop_rate=200.0)
    return status, capsys.readouterr().out


def test_the_report_prints_every_table_and_fails_on_a_miss(capsys: pytest.CaptureFixture[str]) -> None:
    floor = Measured(Scenario("floor", ["/me"], target=False, token_floor=True), FLOOR, opened(target=False))
    fast = Measured(Scenario("fast", ["/fast"]), closed("fast", 900), opened())
    status, out = report([floor, fast], capsys)
    assert status == 0
    assert "closed loop: 50 clients" in out
    assert "open loop: 200 requests/s offered" in out
    assert "token floor, same run: floor, 100 requests/s" in out
    assert "at least 75% of the token floor's; p99 under 100 ms at 200 requests/s" in out

    slow = Measured(Scenario("slow", ["/slow"]), closed("slow", 900), opened(p99_s=0.5))
    assert report([floor, fast, slow], capsys)[0] == 1
    stalled_floor = Measured(floor.scenario, closed("floor", 10, target=False))
    assert report([stalled_floor, fast], capsys)[0] == 1
    assert report([fast], capsys)[0] == 1  # no floor: no share can be judged
