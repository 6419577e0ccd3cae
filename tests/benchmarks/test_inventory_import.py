"""The inventory import benchmark, on a small town: every step runs and writes what it should."""

from __future__ import annotations

import pytest

from benchmarks import inventory_import


def test_each_step_writes_only_what_changed(admin_urls: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    steps = inventory_import.run_city(admin_urls["timescale"], 300, seed=2)

    assert [step.lamps for step in steps] == [300, 300, 300, 300]
    assert [(step.lamps_written, step.lamps_locked, step.statuses_touched) for step in steps[1:]] == [
        (300, 0, 300),  # every lamp created, with its status placeholder
        (0, 0, 0),
        (3, 0, 0),
    ]
    assert [step.report for step in steps[1:]] == [
        "300 added, 0 updated, 0 unchanged",
        "0 added, 0 updated, 300 unchanged",
        "0 added, 3 updated, 297 unchanged",
    ]
    table = inventory_import.format_steps(steps).splitlines()
    assert table[0].split()[:3] == ["step", "lamps", "parse"]
    assert table[2].startswith("floor: COPY into a plain table") and table[5].startswith("3 lamps changed")
    assert capsys.readouterr().out.startswith("generating a town of 300 lamps (seed 2)\n")
