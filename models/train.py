"""Training: a time-based split, a gradient-boosting pipeline, calibrated probabilities.

The days of the window are cut in time order, never shuffled, into
train | gap | calibration | gap | test, each gap one horizon long. The classifier learns on
the train slice, a sigmoid calibration is fitted on the calibration slice with the
classifier frozen, and the test slice judges the model and the rule baselines alike; the
stored model is the one judged (docs/prediction.md, "Model").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from models import baselines, circuits, dataset, metrics, registry
from models import features as feature_table
from models.reasons import reference_of

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

# Train, calibration and test shares of the days left once the two gaps are taken out.
SPLIT_SHARES = (0.5, 0.15, 0.35)
MIN_SLICE_DAYS = 7
MIN_POSITIVES = 10
# A lamp-day whose lamp a technician found sound within the horizon (work order closed as
# false alarm) weighs this much more than an ordinary negative: the feedback is scarce.
FALSE_ALARM_WEIGHT = 3.0
# The model's figures without circuit visits, beside its own row.
LAMPS_ONLY = "model_lamps_only"
MODEL_ROWS = ("model", LAMPS_ONLY)


class TrainingError(Exception):
    """Training cannot go on (too little history, no failures to learn from...)."""


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[date, date]  # [first day, end) of each slice
    calibration: tuple[date, date]
    test: tuple[date, date]

    def as_dict(self) -> dict[str, list[str]]:
        return {name: [str(a), str(b)] for name, (a, b) in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class TrainOptions:
    start: date  # first feature day
    end: date  # last feature day + 1; days whose horizon runs past the data are dropped
    horizon_days: int = 14
    k: int = 20
    lead_days: int = 3
    chunk_lamps: int = 500
    seed: int = 0


@dataclass(slots=True)
class TrainResult:
    bundle: registry.ModelBundle
    split: Split
    metrics: dict
    version: str | None = None


def time_split(start: date, end: date, horizon_days: int, shares: tuple[float, float, float] = SPLIT_SHARES) -> Split:
    """Cut [start, end) in train | gap | calibration | gap | test, in time order."""
    total = (end - start).days
    usable = total - 2 * horizon_days
    if usable < 3 * MIN_SLICE_DAYS:
        raise TrainingError(
            f"{total} days from {start} to {end - timedelta(days=1)} are too few: a {horizon_days}-day horizon needs"
            f" at least {3 * MIN_SLICE_DAYS + 2 * horizon_days} days of labelled history"
        )
    n_train = max(MIN_SLICE_DAYS, round(usable * shares[0]))
    n_calibration = max(MIN_SLICE_DAYS, round(usable * shares[1]))
    train_end = start + timedelta(days=n_train)
    calibration_start = train_end + timedelta(days=horizon_days)
    calibration_end = calibration_start + timedelta(days=n_calibration)
    test_start = calibration_end + timedelta(days=horizon_days)
    if (end - test_start).days < MIN_SLICE_DAYS:
        raise TrainingError(f"the test slice from {test_start} would be shorter than {MIN_SLICE_DAYS} days")
    return Split((start, train_end), (calibration_start, calibration_end), (test_start, end))


def make_pipeline(seed: int = 0) -> Pipeline:
    """The classifier: gradient-boosted trees, which take missing values (a silent lamp) as they come."""
    return Pipeline(
        [
            (
                "classifier",
                HistGradientBoostingClassifier(
                    learning_rate=0.08,
                    max_iter=200,
                    max_leaf_nodes=15,
                    min_samples_leaf=40,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=seed,
                ),
            )
        ]
    )


def _slice(frame: pd.DataFrame, bounds: tuple[date, date]) -> pd.DataFrame:
    """The usable lamp-days of a slice."""
    part = _days_in(frame, bounds)
    return part[part["usable"].astype(bool)]


def _check_positives(part: pd.DataFrame, name: str, bounds: tuple[date, date]) -> None:
    positives = int(part["label"].sum())
    if positives < MIN_POSITIVES:
        raise TrainingError(
            f"the {name} slice ({bounds[0]} to {bounds[1] - timedelta(days=1)}) holds {positives} lamp-days"
            f" before a failure; at least {MIN_POSITIVES} are needed to learn from"
        )


def fit(
    frame: pd.DataFrame,
    split: Split,
    feature_names: tuple[str, ...],
    horizon_days: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> registry.ModelBundle:
    """Fit the classifier on the train slice and calibrate it on the calibration slice."""
    train = _slice(frame, split.train)
    calibration = _slice(frame, split.calibration)
    _check_positives(train, "train", split.train)
    _check_positives(calibration, "calibration", split.calibration)
    weights = np.where(train["false_alarm"].astype(bool) & (train["label"] == 0), FALSE_ALARM_WEIGHT, 1.0)
    if progress:
        progress(f"fitting on {len(train)} lamp-days ({int(train['label'].sum())} before a failure)")
    x_train = train.loc[:, list(feature_names)]
    empty = x_train.columns[x_train.isna().all()]
    if len(empty):  # a feature never known in the window (no such gear, no such event) carries nothing
        x_train = x_train.fillna({name: 0.0 for name in empty})
    pipeline = make_pipeline(seed)
    with threadpool_limits(registry.MODEL_THREADS, user_api="openmp"):
        pipeline.fit(x_train, train["label"].astype(int), classifier__sample_weight=weights)
        if progress:
            progress(
                f"calibrating on {len(calibration)} lamp-days ({int(calibration['label'].sum())} before a failure)"
            )
        calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
        calibrated.fit(calibration.loc[:, list(feature_names)], calibration["label"].astype(int))
    return registry.ModelBundle(
        pipeline=calibrated,
        features=tuple(feature_names),
        horizon_days=horizon_days,
        reference=reference_of(train.loc[:, list(feature_names)]),
    )


def fit_circuits(
    frame: pd.DataFrame, split: Split, progress: Progress | None = None
) -> tuple[circuits.CircuitModel | None, str | None]:
    """The circuit model, fitted on the train and calibration slices' circuit-days (the
    regression needs no separate calibration), or None and why."""
    learn = _days_in(frame, (split.train[0], split.calibration[1]))
    try:
        model = circuits.fit_circuit_model(learn)
    except circuits.CircuitModelError as exc:
        if progress:
            progress(f"no circuit supply warnings: {exc}")
        return None, str(exc)
    if progress:
        progress(
            f"circuit supply warnings: fitted on {model.trained_days} circuit-days"
            f" ({model.trained_positive_days} before a supply loss)"
        )
    return model, None


def _days_in(frame: pd.DataFrame, bounds: tuple[date, date]) -> pd.DataFrame:
    days = pd.DatetimeIndex(frame.index.get_level_values("day"))
    return frame[np.asarray((days >= pd.Timestamp(bounds[0])) & (days < pd.Timestamp(bounds[1])))]


def circuit_visits(
    bundle: registry.ModelBundle, frame: pd.DataFrame, lamps: dict[str, list[str]]
) -> metrics.CircuitVisits | None:
    """The circuit-days of `frame` (labelled, supplied) scored by the bundle's circuit model."""
    model = bundle.circuit_model
    if model is None:
        return None
    scored = frame.loc[:, ["label"]].assign(score=model.predict(frame))
    return metrics.CircuitVisits(scored, lamps)


def judge(
    bundle: registry.ModelBundle,
    test: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    k: int,
    lead_days: int,
    visits: metrics.CircuitVisits | None = None,
) -> dict[str, metrics.Metrics]:
    """The model's and every baseline's metrics on the same test lamp-days. With `visits`,
    the model's row ranks circuit visits beside its lamps, and `model_lamps_only` gives the
    lamps alone."""
    base = test.loc[:, ["label"]].copy()
    results = {}
    scored = base.assign(score=bundle.predict(test))
    results["model"] = metrics.evaluate(
        scored, failures, k=k, horizon_days=bundle.horizon_days, lead_days=lead_days, circuits=visits
    )
    if visits is not None:
        results[LAMPS_ONLY] = metrics.evaluate(
            scored, failures, k=k, horizon_days=bundle.horizon_days, lead_days=lead_days
        )
    for name, rule in baselines.BASELINES.items():
        scored = base.assign(score=rule(test))
        results[name] = metrics.evaluate(scored, failures, k=k, horizon_days=bundle.horizon_days, lead_days=lead_days)
    return results


def metrics_document(
    results: dict[str, metrics.Metrics],
    split: Split,
    options: TrainOptions,
    test: pd.DataFrame,
    circuit_note: str | None = None,
) -> dict:
    best = max(
        (m.pr_auc for name, m in results.items() if name not in MODEL_ROWS and not math.isnan(m.pr_auc)),
        default=math.nan,
    )
    model = results["model"]
    extra = {LAMPS_ONLY: results[LAMPS_ONLY].as_dict()} if LAMPS_ONLY in results else {}
    return extra | {
        "circuit_supply_warnings": circuit_note or "fitted",
        "split": split.as_dict(),
        "k": options.k,
        "lead_days": options.lead_days,
        "test_lamp_days": len(test),
        "test_failures": model.failures,
        "model": model.as_dict(),
        "baselines": {name: m.as_dict() for name, m in results.items() if name not in MODEL_ROWS},
        "best_baseline_pr_auc": None if math.isnan(best) else best,
        "pr_auc_vs_best_baseline": None if math.isnan(best) or best == 0 else model.pr_auc / best,
    }


def labelled_end(conn, end: date, horizon_days: int) -> date:
    """Feature days after this one have a horizon that runs past the data: their labels are unknown."""
    days = dataset.data_days(conn)
    if days is None:
        raise TrainingError("the daily aggregate table is empty: no readings to learn from")
    return min(end, days[1] + timedelta(days=1) - timedelta(days=horizon_days))


def train(conn, options: TrainOptions, timezone_name: str, progress: Progress | None = None) -> TrainResult:
    """Build the data set, split it in time, fit, calibrate and judge. Stores nothing."""
    end = labelled_end(conn, options.end, options.horizon_days)
    split = time_split(options.start, end, options.horizon_days)
    if progress:
        one_day = timedelta(days=1)
        progress(
            f"split: train {split.train[0]} to {split.train[1] - one_day},"
            f" calibration {split.calibration[0]} to {split.calibration[1] - one_day},"
            f" test {split.test[0]} to {split.test[1] - one_day}"
        )
    frame = dataset.build_dataset(
        conn, options.start, end, options.horizon_days, chunk_lamps=options.chunk_lamps, progress=progress
    )
    if frame.empty:
        raise TrainingError(f"no lamp-days from {options.start} to {end}")
    names = tuple(feature_table.FEATURES)
    bundle = fit(frame, split, names, options.horizon_days, options.seed, progress)
    circuit_frame = circuits.build_circuit_dataset(conn, options.start, end, options.horizon_days, timezone_name)
    bundle.circuit, circuit_note = fit_circuits(circuit_frame, split, progress)
    visits = circuit_visits(bundle, _days_in(circuit_frame, split.test), circuits.lamps_by_circuit(conn))
    test = _slice(frame, split.test)
    failures = metrics.failures_in_window(
        dataset.failures_from_events(
            conn, split.test[0], split.test[1] + timedelta(days=options.lead_days), timezone_name
        ),
        split.test[0],
        split.test[1] - timedelta(days=1),
        options.lead_days,
    )
    results = judge(bundle, test, failures, k=options.k, lead_days=options.lead_days, visits=visits)
    if progress:
        progress("test slice:\n" + metrics.format_table(results, options.k))
    return TrainResult(bundle, split, metrics_document(results, split, options, test, circuit_note))


def train_and_register(
    conn, options: TrainOptions, timezone_name: str, progress: Progress | None = None
) -> TrainResult:
    """Train and store the model; a failure is recorded as a 'failed' version and raised again."""
    try:
        result = train(conn, options, timezone_name, progress)
    except Exception as exc:
        version = registry.record_failure(
            conn,
            error=f"{type(exc).__name__}: {exc}",
            horizon_days=options.horizon_days,
            features=feature_table.FEATURES,
            trained_from=options.start,
            trained_to=options.end,
        )
        log.warning("training %s failed: %s; the last good model stays in use", version, exc)
        raise
    result.version = registry.save_model(
        conn,
        result.bundle,
        trained_from=result.split.train[0],
        trained_to=result.split.test[1] - timedelta(days=1),
        metrics=result.metrics,
    )
    return result
