"""The input scan benchmark runs, and each body gets the outcome it is built for."""

from __future__ import annotations

from benchmarks import input_scan


def test_each_body_is_judged_as_built_and_the_table_prints() -> None:
    rows = input_scan.measure(repeat=1)

    outcomes = {name: outcome for name, _, _, _, outcome in rows}
    assert outcomes.pop("a NUL at the end") == "nul_character"
    assert outcomes.pop("nested 500,000 deep") == "json_too_deep"
    assert set(outcomes.values()) == {"accepted"}
    assert all(size <= input_scan.LIMIT for _, size, _, _, _ in rows)
    assert input_scan.format_rows(rows).splitlines()[0].split()[:2] == ["body", "bytes"]


def test_requests_run_through_the_middleware() -> None:
    for with_body in (False, True):
        through_s, alone_s = input_scan.request_cost_s(with_body, requests=10)
        assert through_s > 0 and alone_s > 0
