"""Judging against a simulator truth file: which lamp-days are positives, which failures count."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from models import evaluate

TRUTH = """lamp_id,mode,failed_at,detected_at,had_precursor,precursor_started_at,repaired_at,outcome
L1,capacitor_ageing,2026-06-05T21:30:00+00:00,2026-06-05T21:30:00+00:00,true,2026-05-20T00:00:00+00:00,,failed
L2,sudden,2026-06-03T22:30:00+00:00,2026-06-03T22:30:00+00:00,false,,,failed
L3,photocell,2026-06-09T10:00:00+00:00,,true,2026-06-01T00:00:00+00:00,,averted
"""


def test_the_truth_file_gives_failed_lamps_on_the_towns_local_days(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text(TRUTH)
    truth = evaluate.read_truth(path, "Europe/Paris")
    # 21:30 UTC on 5 June is 23:30 in Paris; 22:30 UTC on 3 June is already 4 June there
    assert truth[["lamp_id", "mode", "day", "had_precursor"]].values.tolist() == [
        ["L1", "capacitor_ageing", date(2026, 6, 5), True],
        ["L2", "sudden", date(2026, 6, 4), False],
    ]
    # L1's precursor began 16 days 21.5 hours before it failed; L2 had none
    assert truth["precursor_days"].iloc[0] == pytest.approx(16 + 21.5 / 24)
    assert pd.isna(truth["precursor_days"].iloc[1])
    only = evaluate.read_truth(path, "Europe/Paris", modes=["sudden"])
    assert only["lamp_id"].tolist() == ["L2"]


def test_a_lamp_day_is_positive_when_the_lamp_fails_within_the_horizon_after_it(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text(TRUTH)
    truth = evaluate.read_truth(path, "Europe/Paris")
    days = pd.date_range("2026-06-01", "2026-06-06", freq="D")
    index = pd.MultiIndex.from_product([["L1", "L2", "L3"], days], names=["lamp_id", "day"])
    labels = pd.Series(evaluate.truth_labels(index, truth, 2, "Europe/Paris"), index=index)
    # L1 fails late on 5 June: days 3 and 4 June are within 2 days before; 5 June itself is not
    assert labels["L1"].tolist() == [0, 0, 1, 1, 0, 0]
    # L2 fails just after midnight starting 4 June (local): 2 and 3 June
    assert labels["L2"].tolist() == [0, 1, 1, 0, 0, 0]
    assert labels["L3"].tolist() == [0] * 6  # averted: it never failed


def test_a_file_that_is_not_a_truth_file_is_named(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("lamp_id,ts\nL1,2026-06-01\n")
    with pytest.raises(evaluate.TruthFileError, match="lacks the column"):
        evaluate.read_truth(path, "Europe/Paris")
