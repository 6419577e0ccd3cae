"""How good a ranking of lamps is: pure functions over scores, labels and failures.

Every scorer (the model, each rule baseline) is judged the same way on the same days: a
lamp is flagged when it is among the day's `k` highest positive scores, and a failure is
caught when its lamp was flagged from `horizon_days` to `lead_days` days before it. With
circuit supply warnings, circuits compete with lamps for the `k` visits. docs/prediction.md
("Metrics") says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

TIE_BREAK_SEED = 20261125


@dataclass(frozen=True, slots=True)
class Metrics:
    pr_auc: float  # average precision over every usable lamp-day (NaN without positives)
    precision_at_k: float  # flagged lamp-days that fail within the horizon / flagged lamp-days
    recall_precursor: float  # precursor failures caught at least lead_days ahead (NaN if unknown)
    recall_all: float  # every failure caught at least lead_days ahead
    median_lead_days: float  # days from the first flag (within the horizon) to the failure
    positive_rate: float  # share of usable lamp-days labelled 1 (the PR-AUC of a random ranking)
    lamp_days: int
    flagged: int
    failures: int
    precursor_failures: int
    caught: int
    caught_precursor: int
    circuit_visits: int = 0  # of the `flagged` visits, those to a circuit rather than a lamp

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def flag_top_k(scores: pd.DataFrame, k: int, *, seed: int = TIE_BREAK_SEED) -> pd.Series:
    """Boolean series (same index as `scores`): the day's `k` highest positive scores.

    Ties are broken at random with a fixed seed, so a rule that gives many lamps the same
    score neither wins nor loses by the order of the lamp ids.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if scores.empty:
        return pd.Series(False, index=scores.index, dtype=bool)
    days = scores.index.get_level_values("day")
    tie = np.random.default_rng(seed).random(len(scores))
    order = np.lexsort((tie, -scores["score"].to_numpy(dtype=float), days.to_numpy()))
    ranked_days = days.to_numpy()[order]
    # rank within each day = position - position of the day's first row
    starts = np.r_[0, np.flatnonzero(ranked_days[1:] != ranked_days[:-1]) + 1]
    first_of_day = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first_of_day
    flagged = (rank < k) & (scores["score"].to_numpy(dtype=float) > 0)
    return pd.Series(flagged, index=scores.index, dtype=bool)


@dataclass(frozen=True, slots=True)
class CircuitVisits:
    """Circuit scores to rank beside the lamps' (see the module's docstring)."""

    scores: pd.DataFrame  # index (circuit, day), columns `score` and `label` (supply loss within the horizon)
    lamps: Mapping[str, Sequence[str]]  # circuit -> the lamp ids on it


def flag_visits(
    scores: pd.DataFrame, circuits: CircuitVisits, k: int, *, seed: int = TIE_BREAK_SEED
) -> tuple[pd.Series, pd.Series]:
    """The day's `k` highest positive scores among lamps and circuits together.

    Returns the flags of the lamp rows (same index as `scores`) and of the circuit rows
    (same index as `circuits.scores`)."""
    lamp_rows = scores.loc[:, ["score"]].copy()
    lamp_rows.index = pd.MultiIndex.from_arrays(
        [
            "L" + pd.Index(scores.index.get_level_values("lamp_id")).astype(str),
            pd.DatetimeIndex(scores.index.get_level_values("day")),
        ],
        names=["visit", "day"],
    )
    circuit_rows = circuits.scores.loc[:, ["score"]].copy()
    circuit_rows.index = pd.MultiIndex.from_arrays(
        [
            "C" + pd.Index(circuits.scores.index.get_level_values("circuit")).astype(str),
            pd.DatetimeIndex(circuits.scores.index.get_level_values("day")),
        ],
        names=["visit", "day"],
    )
    both = pd.concat([lamp_rows, circuit_rows])
    flagged = flag_top_k(both, k, seed=seed).to_numpy()
    n = len(lamp_rows)
    return (
        pd.Series(flagged[:n], index=scores.index, dtype=bool),
        pd.Series(flagged[n:], index=circuits.scores.index, dtype=bool),
    )


def lamp_flags_of_visits(lamp_flags: pd.Series, circuit_flags: pd.Series, circuits: CircuitVisits) -> pd.Series:
    """Every (lamp_id, day) flagged: by its own visit or by a visit to its circuit (True only)."""
    pairs = [(lamp, day) for lamp, day in lamp_flags[lamp_flags.to_numpy()].index]
    for circuit, day in circuit_flags[circuit_flags.to_numpy()].index:
        pairs.extend((lamp, day) for lamp in circuits.lamps.get(circuit, ()))
    index = (
        pd.MultiIndex.from_tuples(pairs, names=["lamp_id", "day"])
        if pairs
        else pd.MultiIndex.from_arrays([[], []], names=["lamp_id", "day"])
    )
    return pd.Series(True, index=index, dtype=bool)


def _right_of(scores: pd.DataFrame, flagged: pd.Series) -> tuple[float, int]:
    """Flagged rows followed by a failure (their labels' sum), and flagged rows."""
    return float(scores.loc[flagged.to_numpy(), "label"].sum()), int(flagged.sum())


def precision_at_k(scores: pd.DataFrame, flagged: pd.Series) -> float:
    right, n = _right_of(scores, flagged)
    return right / n if n else math.nan


def pr_auc(scores: pd.DataFrame) -> float:
    labels = scores["label"].to_numpy(dtype=int)
    if labels.sum() == 0:
        return math.nan
    return float(average_precision_score(labels, scores["score"].to_numpy(dtype=float)))


def lead_days_of_failures(flagged: pd.Series, failures: pd.DataFrame, horizon_days: int) -> pd.Series:
    """For each failure (same index as `failures`), days between its lamp's first flag in the
    `horizon_days` before the failure and the failure; NaN when it was not flagged then."""
    flag_days: dict[str, np.ndarray] = {}
    hits = flagged[flagged.to_numpy()]
    if not hits.empty:
        frame = hits.index.to_frame(index=False)
        for lamp_id, group in frame.groupby("lamp_id", sort=False):
            flag_days[lamp_id] = np.sort(group["day"].to_numpy(dtype="datetime64[D]"))
    leads = []
    for lamp_id, day in zip(failures["lamp_id"], failures["day"], strict=True):
        days = flag_days.get(lamp_id)
        lead = math.nan
        if days is not None:
            failure_day = np.datetime64(day, "D")
            window = days[(days >= failure_day - np.timedelta64(horizon_days, "D")) & (days < failure_day)]
            if window.size:
                lead = float((failure_day - window[0]).astype(int))
        leads.append(lead)
    return pd.Series(leads, index=failures.index, dtype=float)


def failures_in_window(failures: pd.DataFrame, first_day, last_day, lead_days: int) -> pd.DataFrame:
    """The failures that a flag on a scored day [first_day, last_day] could catch `lead_days` ahead."""
    start = first_day + timedelta(days=lead_days)
    end = last_day + timedelta(days=lead_days)
    days = pd.to_datetime(failures["day"]).dt.date
    return failures[(days >= start) & (days <= end)]


def evaluate(
    scores: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    k: int,
    horizon_days: int,
    lead_days: int = 3,
    circuits: CircuitVisits | None = None,
) -> Metrics:
    """All the figures for one scorer.

    `scores`: one row per usable lamp-day, index (lamp_id, day), columns `score` (higher
    means more at risk) and `label` (1 if the lamp fails within the horizon after the day);
    lamp-days on which the lamp is already out are left out by the caller. `failures`: one
    row per failure, columns `lamp_id`, `day` (the town's local date of the failure) and
    `had_precursor` (NaN when unknown), already limited to the window the scored days can
    catch (`failures_in_window`). With `circuits`, a day's `k` visits are chosen among lamps
    and circuits together: a circuit is one visit, flags every lamp on it, and is right when
    it loses its supply within the horizon.
    """
    if circuits is None:
        flagged = flag_top_k(scores, k)
        lamp_flags = flagged
        right, visits = _right_of(scores, flagged)
        circuit_visits = 0
    else:
        flagged, circuit_flagged = flag_visits(scores, circuits, k)
        lamp_flags = lamp_flags_of_visits(flagged, circuit_flagged, circuits)
        right_lamps, lamp_visits = _right_of(scores, flagged)
        right_circuits, circuit_visits = _right_of(circuits.scores, circuit_flagged)
        right, visits = right_lamps + right_circuits, lamp_visits + circuit_visits
    leads = lead_days_of_failures(lamp_flags, failures, horizon_days)
    caught = leads >= lead_days
    precursor = failures["had_precursor"] if "had_precursor" in failures else pd.Series(np.nan, index=failures.index)
    known = precursor.notna()
    has_precursor = precursor[known].astype(bool)
    n_precursor = int(has_precursor.sum())
    caught_precursor = int((caught[known] & has_precursor).sum())
    return Metrics(
        pr_auc=pr_auc(scores),
        precision_at_k=right / visits if visits else math.nan,
        recall_precursor=caught_precursor / n_precursor if n_precursor else math.nan,
        recall_all=float(caught.mean()) if len(failures) else math.nan,
        median_lead_days=float(leads.median()) if leads.notna().any() else math.nan,
        positive_rate=float(scores["label"].mean()) if len(scores) else math.nan,
        lamp_days=len(scores),
        flagged=visits,
        failures=len(failures),
        precursor_failures=n_precursor,
        caught=int(caught.sum()),
        caught_precursor=caught_precursor,
        circuit_visits=circuit_visits,
    )


def format_table(rows: dict[str, Metrics], k: int) -> str:
    """A plain-text table of several scorers' figures, best PR-AUC first."""
    header = (
        f"{'scorer':<18} {'PR-AUC':>7} {f'prec@{k}':>8} {'recall(precursor)':>18} {'recall(all)':>12}"
        f" {'median lead':>12} {'caught':>9}"
    )
    lines = [header, "-" * len(header)]

    def fmt(value: float, pct: bool = False) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{100 * value:.1f} %" if pct else f"{value:.3f}"

    for name, m in sorted(rows.items(), key=lambda item: -(item[1].pr_auc if not math.isnan(item[1].pr_auc) else -1)):
        lead = "-" if math.isnan(m.median_lead_days) else f"{m.median_lead_days:.0f} d"
        lines.append(
            f"{name:<18} {fmt(m.pr_auc):>7} {fmt(m.precision_at_k, True):>8} {fmt(m.recall_precursor, True):>18}"
            f" {fmt(m.recall_all, True):>12} {lead:>12} {m.caught:>4}/{m.failures:<4}"
        )
    return "\n".join(lines)
