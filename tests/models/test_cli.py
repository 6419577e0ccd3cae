"""`streetlight model ...` as a user runs it: clear one-line errors, the listing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import psycopg

from models import registry
from tests.helpers import REPO_ROOT
from tests.models.test_score import power_factor_model


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("STREETLIGHT_") or k.startswith("STREETLIGHT_TEST")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "streetlight", *args],
        env=full,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_a_database_each_command_says_so():
    for args in (["model", "train"], ["model", "score"], ["model", "list"]):
        result = run(args)
        assert result.returncode == 2, args
        assert "STREETLIGHT_DATABASE_URL is not set" in result.stderr and "Traceback" not in result.stderr


def test_an_empty_database_gets_advice_not_a_traceback(timescale_url, tmp_path):
    result = run(["model", "train"], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "streetlight: no readings in the database: nothing to learn from"
    result = run(["model", "score", "--day", "2026-06-01"], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 2 and "no trained model yet: run `streetlight model train`" in result.stderr
    result = run(["model", "list"], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 0 and "no models yet" in result.stdout
    result = run(["model", "evaluate", "--truth", str(tmp_path / "none.csv")], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 2 and f"no such file: {tmp_path / 'none.csv'}" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("lamp_id,when\nL1,2026-01-01\n")
    result = run(["model", "evaluate", "--truth", str(bad)], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 2 and "not a ground-truth file, it lacks the column(s) mode, failed_at" in result.stderr


def test_bad_options_are_named():
    result = run(["model", "train", "--k", "0"], STREETLIGHT_DATABASE_URL="postgresql://x@127.0.0.1:1/y")
    assert result.returncode == 2 and "--k must be at least 1, not 0" in result.stderr
    result = run(["model", "score", "--day", "yesterday"])
    assert result.returncode == 2 and "'yesterday' is not a day (YYYY-MM-DD)" in result.stderr


def test_list_shows_ready_and_failed_versions(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        metrics = {"model": {"pr_auc": 0.42, "precision_at_k": 0.55, "recall_all": 0.7}, "pr_auc_vs_best_baseline": 2.5}
        version = registry.save_model(
            conn, power_factor_model(), trained_from=date(2026, 1, 1), trained_to=date(2026, 6, 30), metrics=metrics
        )
        failed = registry.record_failure(
            conn,
            error="TrainingError: too few failures",
            horizon_days=14,
            features=("a",),
            trained_from=None,
            trained_to=None,
        )
    result = run(["model", "list"], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:2] == [failed, "failed"] and lines[1].endswith("TrainingError: too few failures")
    assert lines[2].split() == [
        version,
        "ready",
        "2026-01-01..2026-06-30",
        "14",
        "0.420",
        "2.50",
        "55.0",
        "%",
        "70.0",
        "%",
    ]


def test_the_simulator_failure_mix_is_checked():
    result = run(
        ["simulate", "history", "--days", "1", "--failure-mix", "gremlins=2"], STREETLIGHT_MQTT_URL="mqtt://127.0.0.1:1"
    )
    assert result.returncode == 2 and "unknown failure mode(s) gremlins" in result.stderr
    result = run(
        ["simulate", "history", "--days", "1", "--failure-mix", "cycling"], STREETLIGHT_MQTT_URL="mqtt://127.0.0.1:1"
    )
    assert result.returncode == 2 and "'cycling' is not MODE=WEIGHT" in result.stderr
