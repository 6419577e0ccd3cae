"""Training on synthetic lamp-days: the time split, the fit, calibration, refusals."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from models import metrics, train
from models.features import FEATURES


def synthetic(n_lamps: int = 80, n_days: int = 120, seed: int = 3) -> pd.DataFrame:
    """Lamp-days where a low power factor comes before a failure, and nothing else does."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2026-01-01", periods=n_days, freq="D")
    index = pd.MultiIndex.from_product([[f"L{i:03d}" for i in range(n_lamps)], days], names=["lamp_id", "day"])
    frame = pd.DataFrame(rng.normal(size=(len(index), len(FEATURES))), index=index, columns=list(FEATURES))
    frame = frame.astype(np.float32)
    failing = rng.random(len(index)) < 0.06
    frame["power_factor_1d"] = np.where(failing, rng.normal(0.85, 0.02, len(index)), rng.normal(0.96, 0.02, len(index)))
    frame["label"] = failing.astype(int)
    frame["failure_ts"] = pd.NaT
    frame["usable"] = True
    frame["false_alarm"] = False
    return frame


def test_the_split_runs_in_time_order_with_a_horizon_between_slices():
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=14)
    # 120 days - 2 gaps of 14 = 92: 46 train, 14 calibration, the rest test
    assert split.train == (date(2026, 1, 1), date(2026, 2, 16))
    assert split.calibration == (date(2026, 3, 2), date(2026, 3, 16))
    assert split.test == (date(2026, 3, 30), date(2026, 5, 1))


def test_too_short_a_history_is_refused_with_the_days_needed():
    with pytest.raises(train.TrainingError, match="at least 49 days"):
        train.time_split(date(2026, 1, 1), date(2026, 2, 1), horizon_days=14)


def test_the_fitted_model_ranks_and_gives_calibrated_probabilities():
    frame = synthetic()
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=7)
    bundle = train.fit(frame, split, FEATURES, horizon_days=7)
    test = train._slice(frame, split.test)
    probability = bundle.predict(test)
    assert ((probability >= 0) & (probability <= 1)).all()
    scores = test.loc[:, ["label"]].assign(score=probability)
    assert metrics.pr_auc(scores) > 0.9
    # calibrated: the mean probability is close to the share of failures
    assert abs(probability.mean() - test["label"].mean()) < 0.02
    assert bundle.features == FEATURES and bundle.horizon_days == 7
    assert bundle.reference.loc["power_factor_1d", "median"] == pytest.approx(0.96, abs=0.01)


def test_a_slice_without_enough_failures_is_refused():
    frame = synthetic()
    frame["label"] = 0
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=7)
    with pytest.raises(train.TrainingError, match="holds 0 lamp-days before a failure"):
        train.fit(frame, split, FEATURES, horizon_days=7)


def test_lamp_days_that_are_not_usable_are_left_out():
    frame = synthetic(n_lamps=4, n_days=30)
    frame.loc[("L000", slice(None)), "usable"] = False
    part = train._slice(frame, (date(2026, 1, 1), date(2026, 1, 11)))
    assert sorted(set(part.index.get_level_values("lamp_id"))) == ["L001", "L002", "L003"]
    assert len(part) == 3 * 10


def test_judging_gives_the_model_and_every_baseline_the_same_days():
    frame = synthetic()
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=7)
    bundle = train.fit(frame, split, FEATURES, horizon_days=7)
    test = train._slice(frame, split.test)
    failures = pd.DataFrame({"lamp_id": ["L001"], "day": [split.test[0] + timedelta(days=5)], "had_precursor": [True]})
    results = train.judge(bundle, test, failures, k=5, lead_days=3)
    assert set(results) == {
        "model",
        "power_tolerance",
        "power_factor",
        "supply_voltage",
        "day_burning",
        "cycling",
        "all_rules",
        "age",
    }
    assert {m.lamp_days for m in results.values()} == {len(test)}
    assert results["model"].pr_auc > results["age"].pr_auc


def circuit_days(positive_days: list[pd.Timestamp]) -> pd.DataFrame:
    """Two circuits over 120 days; C1 sags hard on `positive_days`, which are labelled 1."""
    days = pd.date_range("2026-01-01", periods=120, freq="D")
    index = pd.MultiIndex.from_product([["C1", "C2"], days], names=["circuit", "day"])
    frame = pd.DataFrame(
        0.0,
        index=index,
        columns=["out_share_1d", "out_share_3d", "out_share_7d", "out_share_30d", "sag_days_7d", "out_share_rise"],
    )
    frame["lamps"] = 20
    frame["label"] = 0
    for day in positive_days:
        frame.loc[("C1", day), ["out_share_1d", "out_share_3d", "sag_days_7d", "label"]] = (0.3, 0.2, 5, 1)
    return frame


def test_circuit_warnings_learn_from_the_train_and_calibration_slices_only():
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=14)
    in_test = list(pd.date_range(pd.Timestamp(split.test[0]), periods=10, freq="D"))
    model, why = train.fit_circuits(circuit_days(in_test), split)
    assert model is None and why.startswith("0 circuit-days before a supply loss")

    before = list(pd.date_range(pd.Timestamp(split.train[0]) + pd.Timedelta(days=20), periods=6, freq="D"))
    model, why = train.fit_circuits(circuit_days(before + in_test), split)
    assert why is None and (model.trained_days, model.trained_positive_days) == (2 * 74, 6)


def test_the_model_row_counts_a_circuit_as_one_visit_and_the_lamps_only_row_stays():
    frame = synthetic()
    split = train.time_split(date(2026, 1, 1), date(2026, 5, 1), horizon_days=7)
    bundle = train.fit(frame, split, FEATURES, horizon_days=7)
    test = train._slice(frame, split.test)
    first = pd.Timestamp(split.test[0])
    circuits_frame = circuit_days(list(pd.date_range(first, periods=5, freq="D")))
    bundle.circuit, _ = train.fit_circuits(
        circuit_days(list(pd.date_range(pd.Timestamp(split.train[0]), periods=8, freq="D"))), split
    )
    visits = train.circuit_visits(bundle, train._days_in(circuits_frame, split.test), {"C1": ["L000", "L001"]})
    no_failures = pd.DataFrame({"lamp_id": [], "day": [], "had_precursor": []})
    results = train.judge(bundle, test, no_failures, k=10, lead_days=3, visits=visits)
    assert results["model"].circuit_visits == 5  # C1 on each of its five sagging days, C2 never
    assert results["model"].flagged == results[train.LAMPS_ONLY].flagged  # a circuit takes a lamp's place
    assert results[train.LAMPS_ONLY].circuit_visits == 0
    document = train.metrics_document(results, split, train.TrainOptions(split.train[0], split.test[1]), test)
    assert document["model"]["circuit_visits"] == 5 and train.LAMPS_ONLY in document
    assert train.LAMPS_ONLY not in document["baselines"]
