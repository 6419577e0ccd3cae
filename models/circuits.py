"""Supply warnings per circuit: will this lighting circuit lose its supply within the horizon?

A failing cable, joint or cabinet sags a whole circuit's voltage for days, then cuts every
lamp beyond the fault at once, and a crew puts them right with one visit: so circuits are
scored on their own, one row per circuit and local day, from ``lamp_daily``. The features
(shares of readings out of range, sag days, their rise), the label and the logistic
regression are described in docs/prediction.md ("Circuit supply warnings").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from models.daily import VOLTAGE_HIGH_V, VOLTAGE_LOW_V
from models.labels import events_within_horizon

CIRCUIT_FEATURES = (
    "out_share_1d",
    "out_share_3d",
    "out_share_7d",
    "out_share_30d",
    "sag_days_7d",
    "out_share_rise",
)
WINDOW_DAYS = 30
# A day counts as a sag day when at least this share of the circuit's reporting lamps read a sag.
SAG_DAY_LAMP_SHARE = 0.5
# Fewer circuit-days before a supply loss than this and no circuit model is fitted.
MIN_POSITIVE_DAYS = 5
# Added to the shares before their logarithm (a circuit without a sag has a share of 0).
SHARE_FLOOR = 1e-3
REGULARISATION_C = 1.0
SUPPLY_LOSS = "supply_loss"

_DAILY = """
SELECT l.circuit, d.day,
       count(*) AS lamps,
       sum(d.readings) AS readings,
       sum(d.voltage_out_readings) AS out_readings,
       count(*) FILTER (WHERE d.voltage_out_readings > 0) AS sagging_lamps,
       sum(d.supply_lost_readings) AS lost_readings
FROM lamp_daily d
JOIN lamps l USING (lamp_id)
WHERE l.circuit <> '' AND l.state <> 'retired' AND d.readings > 0 AND d.day >= %s AND d.day < %s
  AND (%s::text[] IS NULL OR l.circuit = ANY(%s))
GROUP BY l.circuit, d.day
"""


class CircuitModelError(Exception):
    """No circuit model can be fitted (no supply loss to learn from)."""


def _log_share(values: np.ndarray) -> np.ndarray:
    """The model's view of the features: log10 of the shares, the day count as it is."""
    out = np.asarray(values, dtype=float).copy()
    shares = [
        i for i, name in enumerate(CIRCUIT_FEATURES) if name.startswith("out_share_") and name != "out_share_rise"
    ]
    out[:, shares] = np.log10(out[:, shares] + SHARE_FLOOR)
    return out


@dataclass(slots=True)
class CircuitModel:
    """What is stored in the model bundle for circuits."""

    pipeline: Pipeline
    features: tuple[str, ...] = CIRCUIT_FEATURES
    # Per feature, the median over the training circuit-days: what reasons compare with.
    reference: dict[str, float] = field(default_factory=dict)
    trained_days: int = 0
    trained_positive_days: int = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.zeros(0)
        return self.pipeline.predict_proba(frame.loc[:, list(self.features)].to_numpy(dtype=float))[:, 1]


def make_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("log_shares", FunctionTransformer(_log_share)),
            ("scale", StandardScaler()),
            ("classifier", LogisticRegression(C=REGULARISATION_C, max_iter=1000)),
        ]
    )


def load_circuit_daily(
    conn: psycopg.Connection, first: date, end: date, circuits: list[str] | None = None
) -> pd.DataFrame:
    """Per circuit and local day in [first, end): lamps that reported, readings, out-of-range
    readings, lamps with a sag, readings at 0 V."""
    rows = conn.cursor(binary=False).execute(_DAILY, (first, end, circuits, circuits)).fetchall()
    frame = pd.DataFrame(
        rows, columns=["circuit", "day", "lamps", "readings", "out_readings", "sagging_lamps", "lost_readings"]
    )
    return frame.astype(
        {
            "circuit": "str",
            "lamps": "int64",
            "readings": "float64",
            "out_readings": "float64",
            "sagging_lamps": "int64",
            "lost_readings": "float64",
        }
    )


def _window_sum(grid: np.ndarray, days: int) -> np.ndarray:
    """Sum over the last `days` days (the day itself included) along axis 1."""
    cumulative = np.cumsum(grid, axis=1)
    shifted = np.zeros_like(cumulative)
    shifted[:, days:] = cumulative[:, :-days]
    return cumulative - shifted


def features_from_daily(daily: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Feature rows (circuit, day) for days [start, end) from `load_circuit_daily` rows of
    [start - 29 days, end). Pure. A circuit-day without readings has no row.

    Columns: CIRCUIT_FEATURES, `lamps` (lamps that reported that day) and `supplied`
    (no lamp read 0 V that day).
    """
    first = start - timedelta(days=WINDOW_DAYS - 1)
    n_grid = (end - first).days
    columns = [*CIRCUIT_FEATURES, "lamps", "supplied"]
    if daily.empty or n_grid <= 0:
        empty_index = pd.MultiIndex.from_arrays([[], pd.DatetimeIndex([])], names=["circuit", "day"])
        return pd.DataFrame(columns=columns, index=empty_index, dtype=float)
    circuits = np.array(sorted(daily["circuit"].unique()))
    row = np.searchsorted(circuits, daily["circuit"].to_numpy())
    col = (pd.to_datetime(daily["day"]).to_numpy(dtype="datetime64[D]") - np.datetime64(first, "D")).astype(np.int64)
    inside = (col >= 0) & (col < n_grid)
    row, col, daily = row[inside], col[inside], daily[inside]

    def grid(values) -> np.ndarray:
        out = np.zeros((len(circuits), n_grid))
        out[row, col] = np.asarray(values, dtype=float)
        return out

    readings = grid(daily["readings"])
    out_readings = grid(daily["out_readings"])
    lamps = grid(daily["lamps"])
    sag_day = grid(daily["sagging_lamps"] >= SAG_DAY_LAMP_SHARE * daily["lamps"])
    lost = grid(daily["lost_readings"])

    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {n: _window_sum(out_readings, n) / _window_sum(readings, n) for n in (1, 3, 7, 30)}
    values = {
        "out_share_1d": shares[1],
        "out_share_3d": shares[3],
        "out_share_7d": shares[7],
        "out_share_30d": shares[30],
        "sag_days_7d": _window_sum(sag_day, 7),
        "out_share_rise": shares[3] - shares[30],
        "lamps": lamps,
        "supplied": (lost == 0).astype(float),
    }
    keep = np.s_[:, WINDOW_DAYS - 1 :]
    present = readings[keep] > 0
    circuit_index, day_index = np.nonzero(present)
    day_values = pd.Timestamp(start) + pd.to_timedelta(day_index, unit="D")
    index = pd.MultiIndex.from_arrays([circuits[circuit_index], day_values], names=["circuit", "day"])
    frame = pd.DataFrame({name: values[name][keep][present] for name in columns}, index=index)
    frame["supplied"] = frame["supplied"].astype(bool)
    return frame


def build_circuit_features(
    conn: psycopg.Connection, start: date, end: date, circuits: list[str] | None = None
) -> pd.DataFrame:
    """Feature rows (circuit, day) for the local days [start, end), from ``lamp_daily``."""
    if end <= start:
        raise ValueError(f"build_circuit_features needs start < end, got {start} to {end}")
    daily = load_circuit_daily(conn, start - timedelta(days=WINDOW_DAYS - 1), end, circuits)
    return features_from_daily(daily, start, end)


def lamps_by_circuit(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Circuit -> its lamps (not retired)."""
    rows = (
        conn.cursor(binary=False)
        .execute(
            "SELECT circuit, array_agg(lamp_id ORDER BY lamp_id) FROM lamps"
            " WHERE circuit <> '' AND state <> 'retired' GROUP BY circuit"
        )
        .fetchall()
    )
    return {circuit: list(lamp_ids) for circuit, lamp_ids in rows}


def supply_losses(conn: psycopg.Connection) -> pd.DataFrame:
    """Every recorded supply loss: circuit and time (UTC)."""
    rows = (
        conn.cursor(binary=False)
        .execute(
            """SELECT l.circuit, e.ts FROM events e JOIN lamps l USING (lamp_id)
           WHERE e.type = %s AND l.circuit <> ''""",
            (SUPPLY_LOSS,),
        )
        .fetchall()
    )
    return pd.DataFrame(rows, columns=["circuit", "ts"]).astype({"circuit": "str"})


def label_circuit_days(index: pd.MultiIndex, losses: pd.DataFrame, horizon_days: int, time_zone: str) -> np.ndarray:
    """1 where the circuit loses its supply in (end of day, end of day + horizon]. Pure.

    `losses`: columns circuit, ts (a supply loss of one of its lamps, any time zone).
    """
    return events_within_horizon(index, losses, horizon_days, time_zone)


def supplied_circuit_days(conn: psycopg.Connection, start: date, end: date) -> pd.DataFrame:
    """The circuit-days of [start, end) on which no lamp read 0 V: those worth scoring."""
    frame = build_circuit_features(conn, start, end)
    return frame[frame["supplied"].to_numpy(dtype=bool)]


def build_circuit_dataset(
    conn: psycopg.Connection, start: date, end: date, horizon_days: int, time_zone: str
) -> pd.DataFrame:
    """Circuit features for [start, end) with `label`; only circuit-days with their supply."""
    frame = supplied_circuit_days(conn, start, end)
    frame["label"] = label_circuit_days(frame.index, supply_losses(conn), horizon_days, time_zone)
    return frame


def fit_circuit_model(frame: pd.DataFrame) -> CircuitModel:
    """Fit on labelled, supplied circuit-days (the rows of `build_circuit_dataset`)."""
    positives = int(frame["label"].sum()) if len(frame) else 0
    if positives < MIN_POSITIVE_DAYS:
        raise CircuitModelError(
            f"{positives} circuit-days before a supply loss in the training days; at least {MIN_POSITIVE_DAYS}"
            " are needed to learn circuit supply warnings"
        )
    x = frame.loc[:, list(CIRCUIT_FEATURES)].fillna(0.0)
    pipeline = make_pipeline()
    pipeline.fit(x.to_numpy(dtype=float), frame["label"].to_numpy(dtype=int))
    reference = {name: float(x[name].median()) for name in CIRCUIT_FEATURES}
    return CircuitModel(pipeline, CIRCUIT_FEATURES, reference, len(frame), positives)


def _percent(value: float, lang: str) -> str:
    text = f"{100 * value:.1f}" if value < 0.1 else f"{100 * value:.0f}"
    return (text.replace(".", ",") + "\u00a0%") if lang == "fr" else text + " %"


def explain_circuits(model: CircuitModel, frame: pd.DataFrame, *, top: int = 3) -> list[list[dict]]:
    """Plain-word reasons for each row's score, strongest first (same shape as lamp reasons).

    A weight is the feature's share of the regression's push above the reference circuit
    (coefficient x distance from the training median, in the model's own scale). Computed for
    the whole frame at once: a city has thousands of circuits."""
    if frame.empty:
        return []
    classifier = model.pipeline.named_steps["classifier"]
    scaler = model.pipeline.named_steps["scale"]
    x = frame.loc[:, list(model.features)].to_numpy(dtype=float)
    x = np.where(np.isnan(x), 0.0, x)
    ref = np.array([[model.reference.get(name, 0.0) for name in model.features]])
    z = (_log_share(x) - scaler.mean_) / scaler.scale_
    z_ref = (_log_share(ref) - scaler.mean_) / scaler.scale_
    push = classifier.coef_[0] * (z - z_ref)
    totals = np.where(push > 0, push, 0.0).sum(axis=1)
    columns = {name: frame[name].to_numpy(dtype=float) for name in (*model.features, "lamps") if name in frame}
    out: list[list[dict]] = []
    for i in range(len(frame)):
        if totals[i] <= 0:
            out.append([])
            continue
        row = {name: (0.0 if np.isnan(values[i]) else float(values[i])) for name, values in columns.items()}
        texts = _reason_texts(row, model.reference)
        reasons, seen = [], set()
        for j in np.argsort(-push[i]):
            name = model.features[j]
            if push[i, j] <= 0 or name not in texts or texts[name][0] in seen:
                continue  # the same fact said twice (the 3-day share and its rise) is said once
            seen.add(texts[name][0])
            text, text_fr = texts[name]
            reasons.append(
                {
                    "feature": name,
                    "text": text,
                    "text_fr": text_fr,
                    "signal": "voltage_v",
                    "weight": round(float(push[i, j] / totals[i]), 3),
                }
            )
        out.append(reasons[:top])
    return out


def _reason_texts(row: dict[str, float], reference: dict[str, float]) -> dict[str, tuple[str, str]]:
    band = f"{VOLTAGE_LOW_V:.0f}-{VOLTAGE_HIGH_V:.0f} V"
    lamps = int(row.get("lamps", 0))
    texts: dict[str, tuple[str, str]] = {}
    for days, name in ((1, "out_share_1d"), (3, "out_share_3d"), (7, "out_share_7d")):
        share = row.get(name, 0.0)
        usual = row.get("out_share_30d", 0.0)
        texts[name] = (
            f"supply voltage outside {band} in {_percent(share, 'en')} of the circuit's readings over"
            f" {days} day{'s' if days > 1 else ''} ({_percent(usual, 'en')} over 30 days), {lamps} lamps",
            f"tension d'alimentation hors {band.replace('-', '–')} sur {_percent(share, 'fr')} des relevés du circuit"
            f" en {days} jour{'s' if days > 1 else ''} ({_percent(usual, 'fr')} sur 30 jours), {lamps} lampes",
        )
    texts["out_share_rise"] = texts["out_share_3d"]
    sag_days = int(row.get("sag_days_7d", 0))
    texts["sag_days_7d"] = (
        f"voltage sags across the circuit on {sag_days} of the last 7 days",
        f"creux de tension sur tout le circuit {sag_days} des 7 derniers jours",
    )
    share_30 = row.get("out_share_30d", 0.0)
    texts["out_share_30d"] = (
        f"supply voltage outside {band} in {_percent(share_30, 'en')} of the circuit's readings over 30 days"
        f" (usual {_percent(reference.get('out_share_30d', 0.0), 'en')})",
        f"tension d'alimentation hors {band.replace('-', '–')} sur {_percent(share_30, 'fr')} des relevés du circuit"
        f" en 30 jours (habituellement {_percent(reference.get('out_share_30d', 0.0), 'fr')})",
    )
    return texts
