"""Rule baselines: the threshold alarms lighting systems raise today, and age-based replacement.

Each rule maps feature rows to a score >= 0: zero when it does not fire, the size of the
violation when it does, so that rules are ranked and judged like the model. The thresholds
are those operators use; docs/prediction.md ("Rule baselines") gives their sources.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

POWER_TOLERANCE = 0.15  # |measured / expected - 1|
POWER_FACTOR_MIN = 0.9
DAY_BURNING_MIN_PER_DAY = 10.0  # minutes lit while the sun is up
NORMAL_SWITCH_ONS_PER_NIGHT = 2.0  # one switch-on a night, and a restrike now and then

Rule = Callable[[pd.DataFrame], np.ndarray]


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=float)


def power_out_of_tolerance(frame: pd.DataFrame) -> np.ndarray:
    deviation = np.abs(_col(frame, "power_ratio_1d") - 1.0)
    return np.nan_to_num(np.where(deviation > POWER_TOLERANCE, deviation, 0.0))


def low_power_factor(frame: pd.DataFrame) -> np.ndarray:
    pf = _col(frame, "power_factor_1d")
    return np.nan_to_num(np.where(pf < POWER_FACTOR_MIN, POWER_FACTOR_MIN - pf, 0.0))


def supply_voltage_out_of_range(frame: pd.DataFrame) -> np.ndarray:
    """Share of the day's readings outside 210-250 V (a lost supply, 0 V, is another alarm)."""
    return np.nan_to_num(_col(frame, "voltage_out_share_1d"))


def day_burning(frame: pd.DataFrame) -> np.ndarray:
    minutes = _col(frame, "day_burning_min_1d")
    return np.nan_to_num(np.where(minutes >= DAY_BURNING_MIN_PER_DAY, minutes, 0.0))


def cycling(frame: pd.DataFrame) -> np.ndarray:
    extra = _col(frame, "switch_cycles_1d") - NORMAL_SWITCH_ONS_PER_NIGHT
    reported = np.nan_to_num(_col(frame, "events_cycling_7d"))
    return np.nan_to_num(np.maximum(extra, 0.0)) + reported


def age(frame: pd.DataFrame) -> np.ndarray:
    """Age-based replacement: the oldest gear first (days since installation or last repair)."""
    return np.nan_to_num(_col(frame, "component_age_days"))


THRESHOLD_RULES: dict[str, Rule] = {
    "power_tolerance": power_out_of_tolerance,
    "power_factor": low_power_factor,
    "supply_voltage": supply_voltage_out_of_range,
    "day_burning": day_burning,
    "cycling": cycling,
}


def any_rule(frame: pd.DataFrame) -> np.ndarray:
    """All threshold rules together, as an operator's alarm list: the more alarms, the higher."""
    return np.sum([rule(frame) > 0 for rule in THRESHOLD_RULES.values()], axis=0).astype(float)


BASELINES: dict[str, Rule] = {**THRESHOLD_RULES, "all_rules": any_rule, "age": age}
