"""Helpers shared by the benchmarks: tables, rates and durations, database URLs, the meter."""

from __future__ import annotations

import time

from benchmarks.common import database_url, format_rate, format_seconds, format_table
from benchmarks.machine import CpuMeter


def test_table_aligns_columns() -> None:
    table = format_table(["name", "n"], [("a", 1), ("long", 1000)], right=[False, True])
    assert table.splitlines() == ["name     n", "----  ----", "a        1", "long  1000"]


def test_rates_and_durations() -> None:
    assert format_rate(None) == "-"
    assert format_rate(12345.6) == "12,346"
    assert format_seconds(None) == "-"
    assert format_seconds(0.0123) == "12 ms"
    assert format_seconds(12.34) == "12.3 s"


def test_database_url_names_another_database_on_the_same_server() -> None:
    url = database_url("postgresql://postgres@127.0.0.1:55432/postgres", "bench_x")
    assert "dbname=bench_x" in url and "port=55432" in url and "host=127.0.0.1" in url


def test_the_meter_counts_this_process_apart_from_others() -> None:
    meter = CpuMeter({"none": []})
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:
        pass
    meter.stop()
    assert meter.cores == {"none": 0.0}
    assert 0.0 <= meter.machine_busy <= 1.0
    assert meter.untracked >= 0.0
