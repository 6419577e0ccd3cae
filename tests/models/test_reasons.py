"""Reasons in plain words: from the lamp's figures, strongest signal first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import reasons
from models.features import FEATURES


def reference(**medians: float) -> pd.DataFrame:
    frame = pd.DataFrame({"median": 0.0, "spread": 1.0}, index=list(FEATURES))
    for name, value in medians.items():
        frame.loc[name, "median"] = value
    return frame


def row(**values: float) -> pd.DataFrame:
    frame = pd.DataFrame([{name: 0.0 for name in FEATURES}], index=["L1"])
    for name, value in values.items():
        frame.loc["L1", name] = value
    return frame


def test_a_falling_power_factor_is_told_with_its_figures_in_both_languages():
    ref = reference(power_factor_1d=0.96, power_factor_10d_ago=0.96)
    said = reasons.describe(
        "power_factor", {"power_factor_10d_ago": 0.96, "power_factor_1d": 0.88}, ref["median"], ref["spread"]
    )
    assert said["text"] == "power factor fell from 0.96 to 0.88 over 10 days"
    assert said["text_fr"] == "le facteur de puissance a baissé de 0,96 à 0,88 en 10 jours"
    assert said["signal"] == "power_factor"


def test_only_the_signals_that_raise_the_risk_are_reasons_strongest_first():
    # A model whose risk grows with the switch-ons and, less, with the age of the gear.
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.clip(0.05 * frame["switch_cycles_7d"] + frame["component_age_days"] / 100_000, 0, 1).to_numpy()

    ref = reference(switch_cycles_7d=1.0, component_age_days=1000.0)
    lamp = row(switch_cycles_7d=6.0, component_age_days=3000.0)
    probability = predict(lamp)
    said = reasons.explain(predict, lamp, probability, ref, FEATURES)[0]
    assert [r["signal"] for r in said] == ["switch_cycles", "age"]
    assert said[0]["text"] == "6.0 switch-ons a night over 7 days (fleet typical 1.0)"
    assert said[0]["text_fr"] == "6,0 allumages par nuit sur 7 jours (habituel : 1,0)"
    assert said[0]["weight"] == round(0.05 * 5, 4)
    assert said[1]["weight"] == 0.02
    assert {"feature", "signal", "text", "text_fr", "weight"} <= set(said[0])


def test_a_typical_lamp_has_no_reason():
    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), 0.01)

    lamp = row()
    assert reasons.explain(predict, lamp, predict(lamp), reference(), FEATURES) == [[]]


def test_every_signal_has_words():
    ref = reference()
    for signal in sorted(set(reasons.FEATURE_SIGNALS.values())):
        values = {name: 1.0 for name, s in reasons.FEATURE_SIGNALS.items() if s == signal}
        said = reasons.describe(signal, values, ref["median"], ref["spread"])
        assert said["text"] and said["text_fr"] and said["signal"] == signal


def test_reference_is_the_fleet_median_with_a_robust_spread():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0], "b": [5.0] * 5})
    ref = reasons.reference_of(frame)
    assert ref.loc["a", "median"] == 3.0
    assert ref.loc["a", "spread"] == (4.0 - 2.0) / 1.349
    assert ref.loc["b", "spread"] == 1.0
