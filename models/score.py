"""Scoring: every lamp's failure probability for a day, with its reasons, kept as history.

The fleet is scored a chunk of lamps at a time (features of one day read from the daily
aggregate table, probabilities, reasons, then one COPY into `lamp_predictions`), so memory
stays bounded whatever the fleet's size. All rows of a run share one `scored_at`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from models import circuits, dataset
from models import features as feature_table
from models.reasons import explain
from models.registry import LoadedModel

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
DEFAULT_CHUNK_LAMPS = 5_000


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    day: date
    scored_at: datetime
    model_version: str
    lamps: int
    mean_probability: float
    top: list[tuple[str, float]]  # the highest-risk lamps, highest first
    circuits: int = 0  # circuits scored for supply warnings (0 when the model has no circuit model)
    top_circuits: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        top = ", ".join(f"{lamp} {p:.2f}" for lamp, p in self.top[:5]) or "none"
        text = (
            f"scored {self.lamps} lamps on the features of {self.day} with model {self.model_version}"
            f" (horizon {self.day + timedelta(days=1)} onwards); mean probability {self.mean_probability:.3f};"
            f" highest: {top}"
        )
        if self.circuits:
            worst = ", ".join(f"{c} {p:.2f}" for c, p in self.top_circuits[:3])
            text += f"; {self.circuits} circuits scored for supply loss, highest: {worst}"
        return text


def score_day(
    conn,
    model: LoadedModel,
    day: date,
    *,
    chunk_lamps: int = DEFAULT_CHUNK_LAMPS,
    scored_at: datetime | None = None,
    progress: Progress | None = None,
    time_zone: str | None = None,
) -> ScoreSummary:
    """Score every lamp on the features of local day `day` and store the rows."""
    scored_at = scored_at or datetime.now(UTC)
    bundle = model.bundle
    ids = dataset.lamp_ids(conn)
    total = 0
    prob_sum = 0.0
    top: list[tuple[str, float]] = []
    for chunk in dataset.chunked(ids, chunk_lamps):
        frame = feature_table.build_features(
            conn, day, day + timedelta(days=1), lamp_ids=list(chunk), time_zone=time_zone
        )
        if frame.empty:
            continue
        frame = frame.loc[:, list(bundle.features)]
        probability = bundle.predict(frame)
        reasons = explain(bundle.predict, frame, probability, bundle.reference, bundle.features)
        lamp_ids = frame.index.get_level_values("lamp_id")
        _store(conn, lamp_ids, probability, reasons, scored_at=scored_at, day=day, model=model)
        total += len(frame)
        prob_sum += float(probability.sum())
        best = np.argsort(-probability)[:10]
        top = sorted(top + [(lamp_ids[i], float(probability[i])) for i in best], key=lambda t: -t[1])[:10]
        if progress:
            progress(f"scored {total}/{len(ids)} lamps")
    circuit_top = score_circuits(conn, model, day, scored_at=scored_at)
    conn.commit()
    return ScoreSummary(
        day,
        scored_at,
        model.version,
        total,
        prob_sum / total if total else math.nan,
        top,
        len(circuit_top),
        tuple(circuit_top[:10]),
    )


def score_circuits(conn, model: LoadedModel, day: date, *, scored_at: datetime) -> list[tuple[str, float]]:
    """Score every supplied circuit on the features of `day` into `circuit_predictions`
    (nothing when the model has no circuit model). Returns (circuit, probability), highest first."""
    circuit_model = model.bundle.circuit_model
    if circuit_model is None:
        return []
    frame = circuits.supplied_circuit_days(conn, day, day + timedelta(days=1))
    if frame.empty:
        return []
    probability = np.clip(circuit_model.predict(frame), 0.0, 1.0)
    names = frame.index.get_level_values("circuit")
    reasons = circuits.explain_circuits(circuit_model, frame)
    lamps = frame["lamps"].to_numpy(dtype=np.int64)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY circuit_predictions (circuit, scored_at, feature_day, probability, horizon_days, model_version,"
            " lamps, reasons) FROM STDIN"
        ) as copy:
            for name, p, n, why in zip(names, probability, lamps, reasons, strict=True):
                copy.write_row(
                    (
                        name,
                        scored_at,
                        day,
                        float(p),
                        model.bundle.horizon_days,
                        model.version,
                        int(n),
                        json.dumps(why, ensure_ascii=False),
                    )
                )
    return sorted(zip(names, probability.astype(float), strict=True), key=lambda t: -t[1])


def _store(conn, lamp_ids, probability: np.ndarray, reasons: list[list[dict]], *, scored_at, day, model) -> None:
    with conn.cursor() as cur:
        with cur.copy(
            "COPY lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days, model_version, reasons)"
            " FROM STDIN"
        ) as copy:
            for lamp_id, p, why in zip(lamp_ids, probability, reasons, strict=True):
                copy.write_row(
                    (
                        lamp_id,
                        scored_at,
                        day,
                        float(np.clip(p, 0.0, 1.0)),
                        model.bundle.horizon_days,
                        model.version,
                        json.dumps(why, ensure_ascii=False),
                    )
                )
