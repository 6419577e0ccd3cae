"""Why a lamp is at risk, in plain words (English and French).

For each signal (power, power factor, voltage, driver temperature...), the lamp's features
of that signal are set to the fleet's typical values (their medians over the training days)
and the lamp is scored again: the drop in probability is that signal's weight. The
signals that raise the lamp's risk most are its reasons, strongest first, each told from
the lamp's own figures ("power factor fell from 0.96 to 0.88 over 10 days").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from models.features import FEATURE_SIGNALS

MAX_REASONS = 3
# A signal is a reason when it adds at least this much probability (absolute), and at
# least this share of the lamp's probability.
MIN_WEIGHT = 0.005
MIN_SHARE = 0.05

EVENT_NAMES = {
    "lamp_failure": ("lamp failure", "panne de lampe"),
    "day_burning": ("day burning", "allumage de jour"),
    "cycling": ("cycling", "clignotement"),
    "driver_fault": ("driver fault", "défaut de driver"),
    "supply_loss": ("supply loss", "perte d'alimentation"),
    "comm_loss": ("communication loss", "perte de communication"),
    "other": ("other", "autre"),
}


def reference_of(frame: pd.DataFrame) -> pd.DataFrame:
    """Per feature: the fleet's median and a robust spread (IQR / 1.349, else the sd, else 1)."""
    values = frame.to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q25, median, q75 = np.nanpercentile(values, [25, 50, 75], axis=0)
            sd = np.nanstd(values, axis=0)
    spread = (q75 - q25) / 1.349
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, np.where(np.isfinite(sd) & (sd > 0), sd, 1.0))
    return pd.DataFrame({"median": median, "spread": spread}, index=list(frame.columns))


def signal_groups(features: tuple[str, ...]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for j, name in enumerate(features):
        groups.setdefault(FEATURE_SIGNALS.get(name, "events"), []).append(j)
    return groups


def signal_weights(
    predict: Callable[[pd.DataFrame], np.ndarray],
    frame: pd.DataFrame,
    probability: np.ndarray,
    reference: pd.DataFrame,
    features: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Per signal: how much probability each lamp loses when that signal looks typical.

    A lamp whose probability is under MIN_WEIGHT cannot have a reason (no signal can take
    more than all of it away): it is not scored again, and its weights are 0.
    """
    medians = reference.loc[list(features), "median"].to_numpy(dtype=float)
    rows = np.flatnonzero(np.asarray(probability) >= MIN_WEIGHT)
    base = frame.loc[:, list(features)].to_numpy(dtype=float)[rows]
    weights = {}
    for signal, columns in signal_groups(features).items():
        weight = np.zeros(len(frame))
        if len(rows):
            typical = base.copy()
            typical[:, columns] = medians[columns]
            again = predict(pd.DataFrame(typical, columns=list(features), index=frame.index[rows]))
            weight[rows] = np.asarray(probability)[rows] - again
        weights[signal] = weight
    return weights


def explain(
    predict: Callable[[pd.DataFrame], np.ndarray],
    frame: pd.DataFrame,
    probability: np.ndarray,
    reference: pd.DataFrame,
    features: tuple[str, ...],
    *,
    top: int = MAX_REASONS,
) -> list[list[dict]]:
    """The reasons of each row of `frame` (a list per lamp, strongest first)."""
    weights = signal_weights(predict, frame, probability, reference, features)
    signals = list(weights)
    matrix = np.column_stack([weights[s] for s in signals]) if signals else np.zeros((len(frame), 0))
    # plain dicts: a reason looks up a few of them, for thousands of lamps
    medians = reference["median"].to_dict()
    spreads = reference["spread"].to_dict()
    groups = signal_groups(features)
    out: list[list[dict]] = []
    rows = frame.loc[:, list(features)].to_numpy(dtype=float)
    for i in range(len(frame)):
        threshold = max(MIN_WEIGHT, MIN_SHARE * float(probability[i]))
        order = np.argsort(-matrix[i])
        reasons = []
        for j in order[:top]:
            weight = float(matrix[i, j])
            if not weight >= threshold:
                break
            signal = signals[j]
            values = {features[c]: rows[i, c] for c in groups[signal]}
            reasons.append(describe(signal, values, medians, spreads) | {"weight": round(weight, 4)})
        out.append(reasons)
    return out


# --- words ------------------------------------------------------------------------------


def _fr(text: str) -> str:
    """French number style: decimal comma, narrow space before the per cent sign."""
    return text.replace(".", ",").replace(" %", "\u202f%")


def _ok(*values: object) -> bool:
    return all(v is not None and isinstance(v, float | int) and math.isfinite(v) for v in values)


def _strongest(values: Mapping[str, float], medians: Mapping[str, float], spreads: Mapping[str, float]) -> str:
    """The feature of the signal furthest from the fleet's typical value (in robust units)."""
    best, best_z = next(iter(values)), -1.0
    for name, value in values.items():
        if not _ok(value):
            continue
        z = abs(value - float(medians.get(name, 0.0))) / float(spreads.get(name, 1.0) or 1.0)
        if z > best_z:
            best, best_z = name, z
    return best


# A lamp's value of a feature, or None when it is missing or not finite.
Value = Callable[[str], float | None]
# The fleet's median of a feature (NaN when unknown).
Median = Callable[[str], float]
# English and French texts of a reason, or None when the lamp's figures cannot tell it.
Words = tuple[str, str] | None


def _power_factor_words(feature: str, v: Value, m: Median) -> Words:
    a, b = v("power_factor_10d_ago"), v("power_factor_1d")
    if a is not None and b is not None and abs(a - b) >= 0.01:
        verb_en, verb_fr = ("fell", "baissé") if b < a else ("rose", "augmenté")
        return (
            f"power factor {verb_en} from {a:.2f} to {b:.2f} over 10 days",
            _fr(f"le facteur de puissance a {verb_fr} de {a:.2f} à {b:.2f} en 10 jours"),
        )
    x = v("power_factor_min_1d")
    if x is not None:
        typical = m("power_factor_min_1d")
        return (
            f"power factor down to {x:.2f} last night (fleet typical {typical:.2f})",
            _fr(f"facteur de puissance descendu à {x:.2f} la nuit dernière (habituel : {typical:.2f})"),
        )
    return None


def _power_words(feature: str, v: Value, m: Median) -> Words:
    if feature.startswith("power_ratio_sd") or feature == "power_ratio_range_1d":
        name = feature if feature.startswith("power_ratio_sd") else "power_ratio_sd_7d"
        x = v(name)
        if x is not None:
            return (
                f"power fluctuates by {100 * x:.1f} % while lit (fleet typical {100 * m(name):.1f} %)",
                _fr(
                    f"la puissance fluctue de {100 * x:.1f} % quand la lampe est allumée"
                    f" (habituel : {100 * m(name):.1f} %)"
                ),
            )
    elif feature.startswith("power_ratio_vs_circuit"):
        x = v(feature)
        if x is not None:
            return (
                f"power {100 * x:+.0f} % against the other lamps of its circuit",
                _fr(f"puissance {100 * x:+.0f} % par rapport aux autres lampes de son circuit"),
            )
    a, b = v("power_ratio_10d_ago"), v("power_ratio_1d")
    if a is not None and b is not None:
        verb_en, verb_fr = ("rose", "augmenté") if b > a else ("fell", "baissé")
        return (
            f"power {verb_en} from {100 * a:.0f} % to {100 * b:.0f} % of what its dim level draws over 10 days",
            _fr(
                f"la puissance a {verb_fr} de {100 * a:.0f} % à {100 * b:.0f} % de celle attendue à son niveau"
                " de gradation en 10 jours"
            ),
        )
    return None


def _driver_temp_words(feature: str, v: Value, m: Median) -> Words:
    x = v(feature) if feature.startswith("driver_temp_vs_circuit") else None
    if x is not None:
        return (
            f"driver runs {x:+.1f} °C against the other lamps of its circuit",
            _fr(f"driver à {x:+.1f} °C par rapport aux autres lampes de son circuit"),
        )
    a, b = v("driver_temp_rise_30d"), v("driver_temp_rise_7d")
    if a is not None and b is not None:
        return (
            f"driver heats {b:.1f} °C above the air this week, against {a:.1f} °C over 30 days",
            _fr(f"le driver chauffe de {b:.1f} °C au-dessus de l'air cette semaine, contre {a:.1f} °C sur 30 jours"),
        )
    return None


def _switch_cycles_words(feature: str, v: Value, m: Median) -> Words:
    x = v("switch_cycles_7d")
    if x is None:
        return None
    typical = m("switch_cycles_7d")
    return (
        f"{x:.1f} switch-ons a night over 7 days (fleet typical {typical:.1f})",
        _fr(f"{x:.1f} allumages par nuit sur 7 jours (habituel : {typical:.1f})"),
    )


def _voltage_words(feature: str, v: Value, m: Median) -> Words:
    share, low = v("voltage_out_share_7d"), v("voltage_min_7d")
    if share is not None and share > 0:
        return (
            f"supply voltage outside 210-250 V in {100 * share:.1f} % of readings over 7 days",
            _fr(f"tension hors de 210-250 V dans {100 * share:.1f} % des mesures sur 7 jours"),
        )
    if low is not None:
        typical = m("voltage_min_7d")
        return (
            f"supply voltage down to {low:.0f} V in the last 7 days (fleet typical {typical:.0f} V)",
            _fr(f"tension descendue à {low:.0f} V sur les 7 derniers jours (habituel : {typical:.0f} V)"),
        )
    return None


def _light_words(feature: str, v: Value, m: Median) -> Words:
    burn, lux = v("day_burning_min_7d"), v("lux_log_vs_circuit_7d")
    if feature.startswith("lux_log") and lux is not None:
        return (
            f"its light sensor reads {100 * 10**lux:.0f} % of the daylight its circuit's sensors see",
            _fr(f"son capteur de lumière lit {100 * 10**lux:.0f} % de la lumière du jour vue sur son circuit"),
        )
    if burn is not None and burn > 0:
        return (
            f"lit {burn:.0f} min a day in daylight over 7 days",
            f"allumée {burn:.0f} min par jour en plein jour sur 7 jours",
        )
    x = v("lit_min_vs_circuit_7d")
    if x is not None:
        return (
            f"lit {x:+.0f} min a day against the other lamps of its circuit",
            f"allumée {x:+.0f} min par jour par rapport aux autres lampes de son circuit",
        )
    return None


def _reports_words(feature: str, v: Value, m: Median) -> Words:
    x = v("missing_share_7d")
    if x is None:
        return None
    return (
        f"{100 * x:.0f} % of its reports missing over 7 days",
        _fr(f"{100 * x:.0f} % de ses relevés manquants sur 7 jours"),
    )


def _events_words(names: Iterable[str], v: Value) -> Words:
    counts: dict[str, float] = {}
    for name in names:
        count = v(name) if name.startswith("events_") and name != "events_1d" else None
        if count is not None:
            counts[name] = count
    if not counts:
        return None
    name = max(counts, key=lambda n: (counts[n], n.endswith("_7d")))
    kind, window = name[len("events_") :].rsplit("_", 1)
    label_en, label_fr = EVENT_NAMES.get(kind, (kind, kind))
    days = window.rstrip("d")
    return (
        f"{counts[name]:.0f} {label_en} event(s) in the last {days} days",
        f"{counts[name]:.0f} événement(s) « {label_fr} » sur les {days} derniers jours",
    )


def _burning_hours_words(feature: str, v: Value, m: Median) -> Words:
    x = v("burning_hours_total")
    if x is None:
        return None
    typical = m("burning_hours_total")
    return (
        f"{x:,.0f} burning hours (fleet typical {typical:,.0f})",
        f"{x:,.0f} heures de fonctionnement (habituel : {typical:,.0f})".replace(",", "\u202f"),
    )


def _age_words(feature: str, v: Value, m: Median) -> Words:
    x = v("component_age_days")
    if x is None:
        return None
    typical = m("component_age_days") / 365.25
    return (
        f"its gear is {x / 365.25:.1f} years old (fleet typical {typical:.1f})",
        _fr(f"son appareillage a {x / 365.25:.1f} ans (habituel : {typical:.1f})"),
    )


def _any_feature_words(feature: str, x: float | None, typical: float) -> tuple[str, str]:
    """The words of last resort: the feature's name and value beside the fleet's."""
    shown_en = "unknown" if x is None else f"{x:.3g}"
    shown_fr = "inconnu" if x is None else f"{x:.3g}"
    name = feature.replace("_", " ")
    return (
        f"{name} is {shown_en} (fleet typical {typical:.3g})",
        _fr(f"{name} vaut {shown_fr} (habituel : {typical:.3g})"),
    )


_SIGNAL_WORDS: dict[str, Callable[[str, Value, Median], Words]] = {
    "power_factor": _power_factor_words,
    "power_w": _power_words,
    "driver_temp_c": _driver_temp_words,
    "switch_cycles": _switch_cycles_words,
    "voltage_v": _voltage_words,
    "dim_level": _light_words,
    "reports": _reports_words,
    "burning_hours": _burning_hours_words,
    "age": _age_words,
}


def describe(
    signal: str, values: Mapping[str, float], medians: Mapping[str, float], spreads: Mapping[str, float]
) -> dict:
    """One reason: {"feature", "signal", "text", "text_fr"} from the lamp's figures."""
    feature = _strongest(values, medians, spreads)

    def value(name: str) -> float | None:
        x = values.get(name)
        return x if _ok(x) else None

    def median(name: str) -> float:
        return float(medians.get(name, math.nan))

    if signal == "events":
        words = _events_words(values, value)
    else:
        signal_words = _SIGNAL_WORDS.get(signal)
        words = signal_words(feature, value, median) if signal_words else None
    en, fr = words if words is not None else _any_feature_words(feature, value(feature), median(feature))
    return {"feature": feature, "signal": signal, "text": en, "text_fr": fr}
