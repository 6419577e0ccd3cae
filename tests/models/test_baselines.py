"""Rule baselines: each fires on what its rule says, with the size of the violation as score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import baselines
from models.features import FEATURES

HEALTHY = {
    "power_ratio_1d": 1.02,
    "power_factor_1d": 0.96,
    "voltage_out_share_1d": 0.0,
    "day_burning_min_1d": 0.0,
    "switch_cycles_1d": 1.0,
    "events_cycling_7d": 0.0,
    "component_age_days": 1000.0,
}


def lamps(**changes: dict[str, float]) -> pd.DataFrame:
    """One row per lamp: healthy values, with the given changes per lamp."""
    rows = {name: {**HEALTHY, **change} for name, change in changes.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    for name in FEATURES:
        if name not in frame:
            frame[name] = np.nan
    return frame


def test_a_healthy_lamp_fires_no_threshold_rule():
    frame = lamps(healthy={})
    for name, rule in baselines.THRESHOLD_RULES.items():
        assert rule(frame).tolist() == [0.0], name
    assert baselines.any_rule(frame).tolist() == [0.0]


@pytest.mark.parametrize(
    ("rule", "change", "score"),
    [
        ("power_tolerance", {"power_ratio_1d": 0.80}, 0.20),
        ("power_tolerance", {"power_ratio_1d": 1.10}, 0.0),  # within 15 %
        ("power_factor", {"power_factor_1d": 0.85}, 0.05),
        ("supply_voltage", {"voltage_out_share_1d": 0.25}, 0.25),
        ("day_burning", {"day_burning_min_1d": 45.0}, 45.0),
        ("day_burning", {"day_burning_min_1d": 5.0}, 0.0),  # a few minutes at dawn is no alarm
        ("cycling", {"switch_cycles_1d": 6.0}, 4.0),
        ("cycling", {"events_cycling_7d": 2.0}, 2.0),
    ],
)
def test_each_rule_scores_the_size_of_its_violation(rule, change, score):
    assert baselines.BASELINES[rule](lamps(lamp=change))[0] == pytest.approx(score)


def test_all_rules_counts_the_alarms_and_unknown_values_fire_nothing():
    frame = lamps(two={"power_factor_1d": 0.8, "switch_cycles_1d": 5.0}, silent={})
    frame.loc["silent", list(HEALTHY)] = np.nan
    assert baselines.any_rule(frame).tolist() == [2.0, 0.0]


def test_age_ranks_the_oldest_gear_first():
    frame = lamps(new={"component_age_days": 100.0}, old={"component_age_days": 4000.0})
    assert baselines.age(frame).tolist() == [100.0, 4000.0]
