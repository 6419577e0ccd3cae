"""The figures of a run: its check, the median of repeated attempts, the comparison, the options."""

from __future__ import annotations

import pytest

from benchmarks.ingest.options import FULL, QUICK, parse_args
from benchmarks.ingest.report import TARGET_NAIVE_RATIO, comparison_rows, print_results
from benchmarks.ingest.results import DISTURBED_ABOVE, RunResult, ingester_stats, median_attempt


def run(name: str = "single-x1", rate: float | None = 30_000.0, stored: int | None = 1000, **fields) -> RunResult:
    return RunResult(name, "1 ingester process", 1, 1000, 1000, stored_per_s=rate, stored=stored, **fields)


@pytest.mark.parametrize(
    ("stored", "error", "check"),
    [(1000, None, "OK"), (998, None, "LOST 2"), (1001, None, "DOUBLED 1"), (None, None, "-"), (1000, "boom", "FAILED")],
)
def test_own_check(stored: int | None, error: str | None, check: str) -> None:
    assert run(stored=stored, error=error).own_check == check


def test_a_loss_in_any_attempt_shows_in_the_check() -> None:
    chosen, lossy = run(), run(stored=990)
    chosen.attempts = [chosen, lossy]
    assert chosen.own_check == "OK"
    assert chosen.check == "LOST 10"


def test_the_median_leaves_out_failed_and_disturbed_attempts() -> None:
    attempts = [
        run(rate=10_000.0, untracked=DISTURBED_ABOVE + 0.5),
        run(rate=30_000.0),
        run(rate=None, stored=None, error="timed out"),
        run(rate=20_000.0),
        run(rate=40_000.0),
        run(rate=50_000.0, restarted=["broker"]),
    ]
    chosen = median_attempt(attempts)
    assert chosen.stored_per_s == 30_000.0  # the median of 20k, 30k, 40k
    assert chosen.attempts == attempts


def test_the_median_falls_back_to_every_attempt() -> None:
    disturbed = [run(rate=r, untracked=1.0) for r in (1.0, 3.0, 2.0)]
    assert median_attempt(disturbed).stored_per_s == 2.0
    failed = [run(error="a"), run(error="b")]
    assert median_attempt(failed) is failed[0]


def test_ingester_stats_reads_the_last_counters_logged() -> None:
    log = "x INFO ingester stopped: {'readings_duplicate': 1}\nnoise\ny INFO ingester stopped: {'readings_duplicate': 4}\n"
    assert ingester_stats(log) == {"readings_duplicate": 4}
    assert ingester_stats("ingester stopped: not a dict") == {}


def test_comparison_against_the_targets() -> None:
    results = [
        run("broker", rate=45_000.0, stored=None),
        run("naive", rate=1_500.0),
        run("single-x1", rate=30_000.0),
        run("single-x2", rate=35_000.0, stored=999),  # lost a reading: not the best
    ]
    rows = {row[0]: row for row in comparison_rows(results)}
    assert rows["ingester, nothing lost (best)"][1:] == (
        "30,000 readings/s",
        "1 ingester process",
        ">= 20,000/s",
        "MET",
    )
    assert rows["ingester / naive"][1] == "20.0x"
    assert rows["ingester / naive"][3:] == (f">= {TARGET_NAIVE_RATIO:g}x", "MET")
    assert rows["ingester / broker ceiling"][1] == "67%"


def test_comparison_without_a_clean_run() -> None:
    rows = comparison_rows([run("single-x1", stored=10)])
    assert rows == [("ingester, nothing lost (best)", "-", "no run stored every reading", ">= 20,000/s", "MISSED")]
    assert comparison_rows([run("naive")]) == []


def test_the_report_prints_every_run(capsys: pytest.CaptureFixture[str]) -> None:
    options = parse_args(["--quick"])
    print_results([run("single-x1"), run("naive", rate=1_000.0)], [("date", "today")], options)
    out = capsys.readouterr().out
    assert "Ingest benchmark: MQTT (QoS 1) -> ingester -> TimescaleDB, 1,000 lamps registered" in out
    assert "single-x1" in out and "naive" in out
    assert "ingester / naive" in out


def test_quick_sizes_unless_given() -> None:
    quick = parse_args(["--quick", "--messages", "500"])
    assert (quick.messages, quick.lamps, quick.repeat) == (500, QUICK["lamps"], 1)
    full = parse_args([])
    assert (full.messages, full.repeat, full.ingesters) == (FULL["messages"], 3, [1, 2])
    assert parse_args(["--ingesters", "1,3", "--skip", "broker, naive"]).skip == {"broker", "naive"}


@pytest.mark.parametrize("argv", [["--skip", "nothing"], ["--ingesters", "0"], ["--ingesters", "x"], ["--lamps", "0"]])
def test_bad_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
