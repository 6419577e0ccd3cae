"""Trailing windows over lamps x days arrays: the prediction features of the daily rows. Pure.

`window_features` computes every feature but the age ones from the grid that
`models.daily_grid` reads; the rolling helpers skip NaN and never look past a day's end.
"""

from __future__ import annotations

import numpy as np

# The longest window: a feature of day D reads the days D-29 .. D.
WINDOW_DAYS = 30
# Days between the two ends of the "over 10 days" comparisons (D-9 .. D).
CHANGE_DAYS = 10

# Event types whose counts are features (repairs feed the age features instead).
EVENT_FEATURES = (
    "lamp_failure",
    "day_burning",
    "cycling",
    "driver_fault",
    "supply_loss",
    "comm_loss",
    "other",
)

Features = dict[str, np.ndarray]


def window_features(daily: dict[str, np.ndarray], n_out: int) -> Features:
    """Every non-age feature for the last `n_out` days of the grid, as lamps x n_out arrays.

    `daily` holds each `daily_grid.DAILY_COLUMNS` entry as a lamps x grid-days float array
    (NaN where lamp_daily has no value), `present`, True where lamp_daily has a row, and
    `day_s`, the length of each grid day in seconds (23 or 25 hours when the clocks change).
    Windows are evaluated on the output days only.
    """
    grid = Grid(n_out)
    present = daily["present"]
    seen = np.maximum.accumulate(present, axis=1)  # on or after the lamp's first row in the grid
    readings = np.where(seen, np.nan_to_num(daily["readings"]), np.nan)
    f: Features = {}
    _power_features(f, grid, daily)
    _supply_features(f, grid, daily, seen, readings)

    grid.levels(f, "driver_temp_rise", daily["driver_temp_lit_c"] - daily["driver_temp_dark_c"], trend=True)
    grid.levels(f, "driver_temp_vs_circuit", daily["driver_temp_vs_circuit_c"], trend=True)
    f["driver_temp_max_1d"] = grid.day(daily["driver_temp_max_c"])

    cycles = daily["switch_cycles"]
    grid.levels(f, "switch_cycles", cycles, trend=True)
    f["switch_cycles_max_7d"] = grid.max(cycles, 7)

    _report_and_light_features(f, grid, daily, readings)
    _event_and_counter_features(f, grid, daily, readings)
    return f


def _power_features(f: Features, grid: Grid, daily: dict[str, np.ndarray]) -> None:
    """Power ratio and power factor: levels, 10-day changes, ripple, against the circuit."""
    ratio = daily["power_ratio_avg"]
    grid.levels(f, "power_ratio", ratio, trend=True)
    f["power_ratio_10d_ago"] = grid.earlier(ratio, CHANGE_DAYS - 1)
    f["power_ratio_change_10d"] = f["power_ratio_1d"] - f["power_ratio_10d_ago"]
    f["power_ratio_range_1d"] = grid.day(daily["power_ratio_max"] - daily["power_ratio_min"])
    grid.levels(f, "power_ratio_sd", daily["power_ratio_sd"])
    grid.levels(f, "power_ratio_vs_circuit", daily["power_ratio_vs_circuit"], windows=(1, 7))

    pf = daily["power_factor_avg"]
    grid.levels(f, "power_factor", pf, trend=True)
    f["power_factor_10d_ago"] = grid.earlier(pf, CHANGE_DAYS - 1)
    f["power_factor_change_10d"] = f["power_factor_1d"] - f["power_factor_10d_ago"]
    f["power_factor_min_1d"] = grid.day(daily["power_factor_min"])
    f["power_factor_min_over_avg_10d"] = grid.min(daily["power_factor_min"], CHANGE_DAYS) / grid.mean(pf, CHANGE_DAYS)
    grid.levels(f, "power_factor_sd", daily["power_factor_sd"], windows=(1, 7))
    grid.levels(f, "power_factor_vs_circuit", daily["power_factor_vs_circuit"], windows=(1, 7))


def _supply_features(
    f: Features, grid: Grid, daily: dict[str, np.ndarray], seen: np.ndarray, readings: np.ndarray
) -> None:
    """Supply voltage: levels, extremes, spread, and the shares out of range or lost."""
    grid.levels(f, "voltage", daily["voltage_avg_v"])
    f["voltage_min_1d"] = grid.day(daily["voltage_min_v"])
    f["voltage_min_7d"] = grid.min(daily["voltage_min_v"], 7)
    f["voltage_max_7d"] = grid.max(daily["voltage_max_v"], 7)
    grid.levels(f, "voltage_sd", daily["voltage_sd_v"], windows=(1, 7))
    out_of_range = np.where(seen, np.nan_to_num(daily["voltage_out_readings"]), np.nan)
    for k in (1, 7, 30):
        f[f"voltage_out_share_{k}d"] = _share(grid.sum(out_of_range, k), grid.sum(readings, k))
    lost = np.where(seen, np.nan_to_num(daily["supply_lost_readings"]), np.nan)
    f["supply_lost_readings_1d"] = grid.day(lost)
    f["supply_lost_readings_7d"] = grid.sum(lost, 7)


def _report_and_light_features(f: Features, grid: Grid, daily: dict[str, np.ndarray], readings: np.ndarray) -> None:
    """Missing reports and lit time, both counted in the lamp's usual report interval."""
    day_s = np.broadcast_to(daily["day_s"][None, :], readings.shape)
    # The usual report interval: a day's mean gap only grows with missing reports, so the
    # smallest of 30 days is the interval of a day that missed none.
    interval_s = rolling_min(daily["gap_mean_s"], WINDOW_DAYS)
    f["report_interval_s"] = grid.day(interval_s)
    expected = day_s / interval_s
    for k in (1, 7, 30):
        f[f"missing_share_{k}d"] = np.clip(1.0 - _share(grid.sum(readings, k), grid.sum(expected, k)), 0.0, 1.0)

    f["lit_min_1d"] = grid.day(daily["lit_readings"] * interval_s / 60.0)
    # lit share of the day's readings over the circuit's median, as minutes of the day
    grid.levels(f, "lit_min_vs_circuit", daily["lit_share_vs_circuit"] * day_s / 60.0, windows=(1, 7))
    grid.levels(f, "day_burning_min", daily["day_burning_readings"] * interval_s / 60.0)
    grid.levels(f, "lux_log_vs_circuit", daily["lux_log_vs_circuit"], windows=(1, 7))


def _event_and_counter_features(f: Features, grid: Grid, daily: dict[str, np.ndarray], readings: np.ndarray) -> None:
    all_events = np.zeros_like(readings)
    for name in EVENT_FEATURES:
        counts = np.nan_to_num(daily[f"ev_{name}"])
        all_events += counts
        f[f"events_{name}_7d"] = grid.sum(counts, 7)
        f[f"events_{name}_30d"] = grid.sum(counts, 30)
    f["events_1d"] = grid.day(all_events)

    f["burning_h_1d"] = grid.day(daily["burning_h"])
    f["burning_h_7d"] = grid.mean(daily["burning_h"], 7)
    f["burning_hours_total"] = grid.day(forward_fill(daily["burning_hours_last"]))
    f["switch_cycles_total"] = grid.day(forward_fill(daily["switch_cycles_last"]))


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, part / whole, np.nan)


class Grid:
    """Trailing windows over lamps x days arrays, kept for the last `n_out` days only."""

    def __init__(self, n_out: int) -> None:
        self.n_out = n_out

    def day(self, x: np.ndarray) -> np.ndarray:
        return x[:, x.shape[1] - self.n_out :]

    def earlier(self, x: np.ndarray, k: int) -> np.ndarray:
        return self.day(shift(x, k))

    def sum(self, x: np.ndarray, k: int) -> np.ndarray:
        return rolling_sum(x, k, out=self.n_out)

    def mean(self, x: np.ndarray, k: int) -> np.ndarray:
        return rolling_mean(x, k, out=self.n_out)

    def min(self, x: np.ndarray, k: int) -> np.ndarray:
        return rolling_min(x, k, out=self.n_out)

    def max(self, x: np.ndarray, k: int) -> np.ndarray:
        return rolling_max(x, k, out=self.n_out)

    def levels(
        self,
        f: dict[str, np.ndarray],
        name: str,
        x: np.ndarray,
        *,
        windows: tuple[int, ...] = (1, 7, 30),
        trend: bool = False,
    ) -> None:
        """`name_1d` (the day's value), `name_7d`, `name_30d` (means) and `name_trend` (7d - 30d)."""
        for k in windows:
            f[f"{name}_{k}d"] = self.day(x) if k == 1 else self.mean(x, k)
        if trend:
            f[f"{name}_trend"] = f[f"{name}_7d"] - f[f"{name}_30d"]


def _trailing_sums(x: np.ndarray, k: int, out: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the non-NaN values over the k days ending each of the last `out` days."""
    valid = ~np.isnan(x)
    zeros = np.zeros((x.shape[0], 1))
    total = np.concatenate([zeros, np.cumsum(np.where(valid, x, 0.0), axis=1)], axis=1)
    count = np.concatenate([zeros, np.cumsum(valid, axis=1)], axis=1)
    n_days = x.shape[1]
    upper = np.arange(n_days - (n_days if out is None else out) + 1, n_days + 1)
    lower = np.maximum(upper - k, 0)  # fewer days at the grid's start
    return total[:, upper] - total[:, lower], count[:, upper] - count[:, lower]


def rolling_sum(x: np.ndarray, k: int, *, out: int | None = None) -> np.ndarray:
    """Sum over the k days ending each day (the last `out` days), ignoring NaN; NaN where all k are NaN."""
    total, count = _trailing_sums(x, k, out)
    return np.where(count > 0, total, np.nan)


def rolling_mean(x: np.ndarray, k: int, *, out: int | None = None) -> np.ndarray:
    """Mean over the k days ending each day (the last `out` days), ignoring NaN; NaN where all k are NaN."""
    total, count = _trailing_sums(x, k, out)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _windows(x: np.ndarray, k: int, out: int | None) -> np.ndarray:
    """The k-day windows ending each of the last `out` days: lamps x out x k (NaN before the grid)."""
    n_days = x.shape[1]
    out = n_days if out is None else out
    first = n_days - out - (k - 1)
    padded = x[:, max(first, 0) :]
    if first < 0:
        padded = np.concatenate([np.full((x.shape[0], -first), np.nan), padded], axis=1)
    return np.lib.stride_tricks.sliding_window_view(padded, k, axis=1)


def _nan_extreme(x: np.ndarray, k: int, out: int | None, *, lowest: bool) -> np.ndarray:
    windows = _windows(x, k, out)
    missing = np.isnan(windows)
    filled = np.where(missing, np.inf if lowest else -np.inf, windows)
    extreme = filled.min(axis=2) if lowest else filled.max(axis=2)
    return np.where(missing.all(axis=2), np.nan, extreme)


def rolling_min(x: np.ndarray, k: int, *, out: int | None = None) -> np.ndarray:
    """Lowest value over the k days ending each day (the last `out` days); NaN where all k are NaN."""
    return _nan_extreme(x, k, out, lowest=True)


def rolling_max(x: np.ndarray, k: int, *, out: int | None = None) -> np.ndarray:
    """Highest value over the k days ending each day (the last `out` days); NaN where all k are NaN."""
    return _nan_extreme(x, k, out, lowest=False)


def shift(x: np.ndarray, k: int) -> np.ndarray:
    """The value k days earlier (NaN before the grid's start)."""
    shifted = np.full_like(x, np.nan)
    shifted[:, k:] = x[:, : x.shape[1] - k]
    return shifted


def forward_fill(x: np.ndarray) -> np.ndarray:
    """Each day's value, or the last known one before it."""
    idx = np.where(~np.isnan(x), np.arange(x.shape[1]), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return x[np.arange(x.shape[0])[:, None], idx]
