"""Metrics against cases worked out by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from models import metrics

D1, D2 = pd.Timestamp("2026-06-01"), pd.Timestamp("2026-06-02")


def scores_frame(rows: list[tuple[str, pd.Timestamp, float, int]]) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples([(lamp, day) for lamp, day, _, _ in rows], names=["lamp_id", "day"])
    return pd.DataFrame({"score": [r[2] for r in rows], "label": [r[3] for r in rows]}, index=index)


@pytest.fixture
def scores() -> pd.DataFrame:
    return scores_frame(
        [
            ("A", D1, 0.9, 1),
            ("B", D1, 0.8, 0),
            ("C", D1, 0.3, 1),
            ("D", D1, 0.1, 0),
            ("A", D2, 0.2, 1),
            ("B", D2, 0.7, 0),
            ("C", D2, 0.6, 1),
            ("D", D2, 0.0, 0),
        ]
    )


@pytest.fixture
def failures() -> pd.DataFrame:
    day1 = D1.date()
    return pd.DataFrame(
        {
            "lamp_id": ["A", "C", "D"],
            "day": [day1 + timedelta(days=5), day1 + timedelta(days=3), day1 + timedelta(days=4)],
            "had_precursor": [True, True, False],
        }
    )


def test_the_days_k_highest_scores_are_flagged(scores):
    flagged = metrics.flag_top_k(scores, 2)
    assert sorted(flagged[flagged].index) == [("A", D1), ("B", D1), ("B", D2), ("C", D2)]


def test_precision_at_k_counts_flagged_lamp_days_that_fail_within_the_horizon(scores):
    flagged = metrics.flag_top_k(scores, 2)
    assert metrics.precision_at_k(scores, flagged) == pytest.approx(2 / 4)


def test_pr_auc_is_the_average_precision(scores):
    # ranked labels 1 0 0 1 1 1 0 0: precision at each positive 1/1, 2/4, 3/5, 4/6
    assert metrics.pr_auc(scores) == pytest.approx((1 + 2 / 4 + 3 / 5 + 4 / 6) / 4)


def test_recall_and_lead_time(scores, failures):
    m = metrics.evaluate(scores, failures, k=2, horizon_days=14, lead_days=3)
    # A: flagged on D1, fails 5 days later: caught. C: first flagged on D2, fails 2 days
    # later: too late. D: never flagged.
    assert (m.caught, m.failures) == (1, 3)
    assert m.recall_all == pytest.approx(1 / 3)
    assert m.recall_precursor == pytest.approx(1 / 2)
    assert (m.caught_precursor, m.precursor_failures) == (1, 2)
    assert m.median_lead_days == pytest.approx((5 + 2) / 2)
    assert m.flagged == 4 and m.lamp_days == 8
    assert m.positive_rate == pytest.approx(0.5)


def test_a_flag_older_than_the_horizon_does_not_count(scores, failures):
    late = failures.assign(day=[D1.date() + timedelta(days=20)] * 3)
    m = metrics.evaluate(scores, late, k=2, horizon_days=14, lead_days=3)
    assert m.caught == 0 and math.isnan(m.median_lead_days)


def test_a_rule_that_fires_on_no_lamp_flags_nothing_and_ties_are_cut_at_k():
    silent = scores_frame([(lamp, D1, 0.0, 0) for lamp in "ABCDE"])
    assert not metrics.flag_top_k(silent, 3).any()
    assert math.isnan(metrics.precision_at_k(silent, metrics.flag_top_k(silent, 3)))
    tied = scores_frame([(lamp, day, 1.0, 0) for lamp in "ABCDE" for day in (D1, D2)])
    flagged = metrics.flag_top_k(tied, 3)
    assert flagged.groupby(level="day").sum().tolist() == [3, 3]


def test_without_known_precursors_the_precursor_recall_is_unknown(scores, failures):
    m = metrics.evaluate(scores, failures.drop(columns="had_precursor"), k=2, horizon_days=14)
    assert math.isnan(m.recall_precursor) and m.recall_all == pytest.approx(1 / 3)
    assert m.as_dict()["recall_precursor"] is None


def test_failures_in_window_keeps_those_a_scored_day_can_catch_in_time(failures):
    # a flag on June 1 is 3 days ahead of a failure on June 4
    first = date(2026, 6, 1)
    assert metrics.failures_in_window(failures, first, date(2026, 6, 1), 3)["lamp_id"].tolist() == ["C"]
    assert metrics.failures_in_window(failures, first, date(2026, 6, 2), 3)["lamp_id"].tolist() == ["C", "D"]
    assert metrics.failures_in_window(failures, first, date(2026, 6, 3), 3)["lamp_id"].tolist() == ["A", "C", "D"]
    later = date(2026, 6, 2)
    assert metrics.failures_in_window(failures, later, date(2026, 6, 3), 3)["lamp_id"].tolist() == ["A", "D"]


def test_k_must_be_positive(scores):
    with pytest.raises(ValueError, match="k must be at least 1"):
        metrics.flag_top_k(scores, 0)


def circuit_visits(rows: list[tuple[str, pd.Timestamp, float, int]], lamps: dict[str, list[str]]):
    index = pd.MultiIndex.from_tuples([(c, day) for c, day, _, _ in rows], names=["circuit", "day"])
    frame = pd.DataFrame({"score": [r[2] for r in rows], "label": [r[3] for r in rows]}, index=index)
    return metrics.CircuitVisits(frame, lamps)


def test_a_circuit_is_one_visit_among_the_k_and_flags_every_lamp_on_it(scores, failures):
    # circuit X holds C and D; on D1 it outranks B, on D2 it is below the day's two best
    circuits = circuit_visits([("X", D1, 0.85, 1), ("X", D2, 0.1, 1)], {"X": ["C", "D"]})
    m = metrics.evaluate(scores, failures, k=2, horizon_days=14, lead_days=3, circuits=circuits)
    # visits: D1 A and X, D2 B and C; right: A, X, C
    assert (m.flagged, m.circuit_visits) == (4, 1)
    assert m.precision_at_k == pytest.approx(3 / 4)
    # C and D are flagged on D1 through X: C 3 days and D 4 days ahead; A 5 days ahead
    assert (m.caught, m.failures) == (3, 3)
    assert (m.caught_precursor, m.precursor_failures) == (2, 2)
    assert m.median_lead_days == pytest.approx(4)
    # the ranking of lamp-days (PR-AUC) is the lamps' own
    assert m.pr_auc == pytest.approx(metrics.pr_auc(scores))


def test_without_circuit_visits_the_figures_are_the_lamps_alone(scores, failures):
    quiet = circuit_visits([("X", D1, 0.0, 0), ("X", D2, 0.0, 0)], {"X": ["C", "D"]})
    with_quiet = metrics.evaluate(scores, failures, k=2, horizon_days=14, lead_days=3, circuits=quiet)
    alone = metrics.evaluate(scores, failures, k=2, horizon_days=14, lead_days=3)
    assert with_quiet == alone
