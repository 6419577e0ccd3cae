"""Judging a stored model against the simulator's ground truth (`streetlight model evaluate`).

The truth file (`streetlight simulate history --truth FILE`) is read here only, to label
lamp-days and count precursors: the model still scores features from the service's own
database, and it and every rule baseline are judged with the metrics of training.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from models import baselines, circuits, dataset, metrics
from models import features as feature_table
from models import labels as label_table
from models.registry import LoadedModel
from models.train import LAMPS_ONLY, MODEL_ROWS, circuit_visits

Progress = Callable[[str], None]
TRUTH_REQUIRED = ("lamp_id", "mode", "failed_at", "had_precursor", "outcome")


class TruthFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Evaluation:
    start: date
    end: date
    k: int
    lead_days: int
    results: dict[str, metrics.Metrics]
    by_mode: dict[str, tuple[int, int]]  # mode -> (caught at least lead_days ahead, failures)
    # Failures whose precursor began at least lead_days before them: (caught, failures). A
    # shorter precursor cannot be flagged lead_days ahead by any method.
    long_precursor: tuple[int, int] = (0, 0)

    def describe(self) -> str:
        lines = [
            f"days {self.start} to {self.end - timedelta(days=1)}, k = {self.k}",
            metrics.format_table(self.results, self.k),
            "",
            "model, failures caught by mode:",
        ]
        for mode, (caught, n) in sorted(self.by_mode.items()):
            lines.append(f"  {mode:<18} {caught:>4}/{n:<4} {100 * caught / n:5.1f} %" if n else f"  {mode:<18} 0/0")
        caught, n = self.long_precursor
        if n:
            lines.append(
                f"model, failures whose precursor began at least {self.lead_days} days before:"
                f" {caught}/{n} {100 * caught / n:5.1f} %"
            )
        model = self.results["model"]
        best = max(
            (m.pr_auc for name, m in self.results.items() if name not in MODEL_ROWS and not math.isnan(m.pr_auc)),
            default=math.nan,
        )
        if not math.isnan(best) and best > 0:
            lines.append(f"PR-AUC model / best baseline: {model.pr_auc:.3f} / {best:.3f} = {model.pr_auc / best:.2f}")
        return "\n".join(lines)


def read_truth(path: Path, timezone_name: str, modes: Sequence[str] | None = None) -> pd.DataFrame:
    """Failures of the truth file (outcome 'failed'): lamp_id, mode, failed_at (UTC), day (local), had_precursor,
    precursor_days (from the precursor's start to the failure; NaN without one, or in a file without the column)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in TRUTH_REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise TruthFileError(f"{path}: not a ground-truth file, it lacks the column(s) {', '.join(missing)}")
            rows = [row for row in reader if row["outcome"] == "failed"]
    except FileNotFoundError:
        raise TruthFileError(f"no such file: {path}") from None
    zone = ZoneInfo(timezone_name)
    records = []
    for row in rows:
        try:
            failed_at = datetime.fromisoformat(row["failed_at"])
        except ValueError:
            raise TruthFileError(f"{path}: failed_at {row['failed_at']!r} is not a time") from None
        started = (row.get("precursor_started_at") or "").strip()
        try:
            precursor_days = (
                (failed_at - datetime.fromisoformat(started)).total_seconds() / 86_400 if started else math.nan
            )
        except ValueError:
            raise TruthFileError(f"{path}: precursor_started_at {started!r} is not a time") from None
        records.append(
            (
                row["lamp_id"],
                row["mode"],
                failed_at,
                failed_at.astimezone(zone).date(),
                row["had_precursor"].strip().lower() == "true",
                precursor_days,
            )
        )
    frame = pd.DataFrame(records, columns=["lamp_id", "mode", "failed_at", "day", "had_precursor", "precursor_days"])
    if modes:
        unknown = sorted(set(modes) - set(frame["mode"]))
        frame = frame[frame["mode"].isin(list(modes))]
        if unknown and frame.empty:
            raise TruthFileError(f"{path}: no failure of mode(s) {', '.join(unknown)}")
    return frame.reset_index(drop=True)


def truth_labels(index: pd.MultiIndex, truth: pd.DataFrame, horizon_days: int, timezone_name: str) -> np.ndarray:
    """1 where the lamp fails (per the truth) in (end of day, end of day + horizon]."""
    failures = truth.loc[:, ["lamp_id", "failed_at"]].rename(columns={"failed_at": "ts"})
    return label_table.events_within_horizon(index, failures, horizon_days, timezone_name)


def truth_circuit_days(
    conn,
    truth: pd.DataFrame,
    start: date,
    end: date,
    horizon_days: int,
    timezone_name: str,
    lamps: dict[str, list[str]],
) -> pd.DataFrame:
    """Supplied circuit-days of [start, end) with their features, labelled from the truth
    file: 1 when a lamp of the circuit fails of a supply loss within the horizon."""
    frame = circuits.supplied_circuit_days(conn, start, end)
    circuit_of = {lamp: circuit for circuit, ids in lamps.items() for lamp in ids}
    supply = truth[truth["mode"] == circuits.SUPPLY_LOSS]
    losses = pd.DataFrame({"circuit": supply["lamp_id"].map(circuit_of), "ts": supply["failed_at"]}).dropna()
    return frame.assign(label=circuits.label_circuit_days(frame.index, losses, horizon_days, timezone_name))


def evaluate_model(
    conn,
    model: LoadedModel,
    truth: pd.DataFrame,
    start: date,
    end: date,
    *,
    k: int,
    timezone_name: str,
    lead_days: int = 3,
    chunk_lamps: int = 1_000,
    progress: Progress | None = None,
) -> Evaluation:
    bundle = model.bundle
    horizon = bundle.horizon_days
    parts = []
    ids = dataset.lamp_ids(conn)
    done = 0
    for chunk in dataset.chunked(ids, chunk_lamps):
        frame = feature_table.build_features(conn, start, end, lamp_ids=list(chunk), time_zone=timezone_name)
        frame = frame.loc[:, list(bundle.features)]
        usable = label_table.build_labels(conn, frame.index, horizon, time_zone=timezone_name)["usable"].to_numpy(bool)
        frame = frame[usable]
        scores = pd.DataFrame({"label": truth_labels(frame.index, truth, horizon, timezone_name)}, index=frame.index)
        scores["model"] = bundle.predict(frame)
        for name, rule in baselines.BASELINES.items():
            scores[name] = rule(frame)
        parts.append(scores)
        done += len(chunk)
        if progress:
            progress(f"scored {done}/{len(ids)} lamps over {(end - start).days} days")
    scores = pd.concat(parts)
    failures = metrics.failures_in_window(truth, start, end - timedelta(days=1), lead_days)
    lamps = circuits.lamps_by_circuit(conn)
    visits = circuit_visits(bundle, truth_circuit_days(conn, truth, start, end, horizon, timezone_name, lamps), lamps)
    results = {}
    for name in ["model", *baselines.BASELINES]:
        results[name] = metrics.evaluate(
            scores.loc[:, ["label"]].assign(score=scores[name]),
            failures,
            k=k,
            horizon_days=horizon,
            lead_days=lead_days,
            circuits=visits if name == "model" else None,
        )
    model_scores = scores.loc[:, ["label"]].assign(score=scores["model"])
    if visits is None:
        flagged = metrics.flag_top_k(model_scores, k)
    else:
        results[LAMPS_ONLY] = metrics.evaluate(model_scores, failures, k=k, horizon_days=horizon, lead_days=lead_days)
        flagged = metrics.lamp_flags_of_visits(*metrics.flag_visits(model_scores, visits, k), visits)
    leads = metrics.lead_days_of_failures(flagged, failures, horizon)
    by_mode = {}
    for mode, group in failures.groupby("mode"):
        by_mode[str(mode)] = (int((leads[group.index] >= lead_days).sum()), len(group))
    long = failures[failures["had_precursor"].astype(bool) & (failures["precursor_days"] >= lead_days)]
    long_precursor = (int((leads[long.index] >= lead_days).sum()), len(long))
    return Evaluation(start, end, k, lead_days, results, by_mode, long_precursor)
