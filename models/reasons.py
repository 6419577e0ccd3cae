"""Why a lamp is at risk, in plain words (English and French).

For each signal (power, power factor, voltage, driver temperature...), the lamp's features
of that signal are set to the fleet's typical values (their medians over the training days)
and the lamp is scored again: the drop in probability is that signal's weight. The
signals that raise the lamp's risk most are its reasons, strongest first, each told from
the lamp's own figures ("power factor fell from 0.96 to 0.88 over 10 days").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

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


def _ok(*values: float) -> bool:
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


def describe(
    signal: str, values: Mapping[str, float], medians: Mapping[str, float], spreads: Mapping[str, float]
) -> dict:
    """One reason: {"feature", "signal", "text", "text_fr"} from the lamp's figures."""
    feature = _strongest(values, medians, spreads)
    v = values.get
    m = lambda name: float(medians.get(name, math.nan))  # noqa: E731
    en = fr = None
    if signal == "power_factor":
        a, b = v("power_factor_10d_ago"), v("power_factor_1d")
        if _ok(a, b) and abs(a - b) >= 0.01:
            verb_en, verb_fr = ("fell", "baissé") if b < a else ("rose", "augmenté")
            en = f"power factor {verb_en} from {a:.2f} to {b:.2f} over 10 days"
            fr = _fr(f"le facteur de puissance a {verb_fr} de {a:.2f} à {b:.2f} en 10 jours")
        elif _ok(v("power_factor_min_1d")):
            x = v("power_factor_min_1d")
            en = f"power factor down to {x:.2f} last night (fleet typical {m('power_factor_min_1d'):.2f})"
            fr = _fr(f"facteur de puissance descendu à {x:.2f} la nuit dernière (habituel : {m('power_factor_min_1d'):.2f})")
    elif signal == "power_w":
        if feature.startswith("power_ratio_sd") or feature == "power_ratio_range_1d":
            name = feature if feature.startswith("power_ratio_sd") else "power_ratio_sd_7d"
            x = v(name)
            if _ok(x):
                en = f"power fluctuates by {100 * x:.1f} % while lit (fleet typical {100 * m(name):.1f} %)"
                fr = _fr(f"la puissance fluctue de {100 * x:.1f} % quand la lampe est allumée (habituel : {100 * m(name):.1f} %)")
        elif feature.startswith("power_ratio_vs_circuit"):
            x = v(feature)
            if _ok(x):
                en = f"power {100 * x:+.0f} % against the other lamps of its circuit"
                fr = _fr(f"puissance {100 * x:+.0f} % par rapport aux autres lampes de son circuit")
        if en is None:
            a, b = v("power_ratio_10d_ago"), v("power_ratio_1d")
            if _ok(a, b):
                verb_en, verb_fr = ("rose", "augmenté") if b > a else ("fell", "baissé")
                en = f"power {verb_en} from {100 * a:.0f} % to {100 * b:.0f} % of what its dim level draws over 10 days"
                fr = _fr(
                    f"la puissance a {verb_fr} de {100 * a:.0f} % à {100 * b:.0f} % de celle attendue à son niveau"
                    " de gradation en 10 jours"
                )
    elif signal == "driver_temp_c":
        if feature.startswith("driver_temp_vs_circuit") and _ok(v(feature)):
            x = v(feature)
            en = f"driver runs {x:+.1f} °C against the other lamps of its circuit"
            fr = _fr(f"driver à {x:+.1f} °C par rapport aux autres lampes de son circuit")
        elif _ok(v("driver_temp_rise_7d"), v("driver_temp_rise_30d")):
            a, b = v("driver_temp_rise_30d"), v("driver_temp_rise_7d")
            en = f"driver heats {b:.1f} °C above the air this week, against {a:.1f} °C over 30 days"
            fr = _fr(f"le driver chauffe de {b:.1f} °C au-dessus de l'air cette semaine, contre {a:.1f} °C sur 30 jours")
    elif signal == "switch_cycles":
        x = v("switch_cycles_7d")
        if _ok(x):
            en = f"{x:.1f} switch-ons a night over 7 days (fleet typical {m('switch_cycles_7d'):.1f})"
            fr = _fr(f"{x:.1f} allumages par nuit sur 7 jours (habituel : {m('switch_cycles_7d'):.1f})")
    elif signal == "voltage_v":
        share, low = v("voltage_out_share_7d"), v("voltage_min_7d")
        if _ok(share) and share > 0:
            en = f"supply voltage outside 210-250 V in {100 * share:.1f} % of readings over 7 days"
            fr = _fr(f"tension hors de 210-250 V dans {100 * share:.1f} % des mesures sur 7 jours")
        elif _ok(low):
            en = f"supply voltage down to {low:.0f} V in the last 7 days (fleet typical {m('voltage_min_7d'):.0f} V)"
            fr = _fr(f"tension descendue à {low:.0f} V sur les 7 derniers jours (habituel : {m('voltage_min_7d'):.0f} V)")
    elif signal == "dim_level":
        burn, lux = v("day_burning_min_7d"), v("lux_log_vs_circuit_7d")
        if feature.startswith("lux_log") and _ok(lux):
            en = f"its light sensor reads {100 * 10 ** lux:.0f} % of the daylight its circuit's sensors see"
            fr = _fr(f"son capteur de lumière lit {100 * 10 ** lux:.0f} % de la lumière du jour vue sur son circuit")
        elif _ok(burn) and burn > 0:
            en = f"lit {burn:.0f} min a day in daylight over 7 days"
            fr = f"allumée {burn:.0f} min par jour en plein jour sur 7 jours"
        elif _ok(v("lit_min_vs_circuit_7d")):
            x = v("lit_min_vs_circuit_7d")
            en = f"lit {x:+.0f} min a day against the other lamps of its circuit"
            fr = f"allumée {x:+.0f} min par jour par rapport aux autres lampes de son circuit"
    elif signal == "reports":
        x = v("missing_share_7d")
        if _ok(x):
            en = f"{100 * x:.0f} % of its reports missing over 7 days"
            fr = _fr(f"{100 * x:.0f} % de ses relevés manquants sur 7 jours")
    elif signal == "events":
        counts = {n: v(n) for n in values if n.startswith("events_") and n != "events_1d" and _ok(v(n))}
        if counts:
            name = max(counts, key=lambda n: (counts[n], n.endswith("_7d")))
            kind, window = name[len("events_") :].rsplit("_", 1)
            label_en, label_fr = EVENT_NAMES.get(kind, (kind, kind))
            days = window.rstrip("d")
            en = f"{counts[name]:.0f} {label_en} event(s) in the last {days} days"
            fr = f"{counts[name]:.0f} événement(s) « {label_fr} » sur les {days} derniers jours"
    elif signal == "burning_hours":
        x = v("burning_hours_total")
        if _ok(x):
            en = f"{x:,.0f} burning hours (fleet typical {m('burning_hours_total'):,.0f})"
            fr = f"{x:,.0f} heures de fonctionnement (habituel : {m('burning_hours_total'):,.0f})".replace(",", "\u202f")
    elif signal == "age":
        x = v("component_age_days")
        if _ok(x):
            en = f"its gear is {x / 365.25:.1f} years old (fleet typical {m('component_age_days') / 365.25:.1f})"
            fr = _fr(f"son appareillage a {x / 365.25:.1f} ans (habituel : {m('component_age_days') / 365.25:.1f})")
    if en is None:
        x = v(feature)
        shown = "unknown" if not _ok(x) else f"{x:.3g}"
        en = f"{feature.replace('_', ' ')} is {shown} (fleet typical {m(feature):.3g})"
        fr = _fr(f"{feature.replace('_', ' ')} vaut {'inconnu' if not _ok(x) else f'{x:.3g}'} (habituel : {m(feature):.3g})")
    return {"feature": feature, "signal": signal, "text": en, "text_fr": fr}
