"""Failure-prediction features: one row per lamp per local day, from windows over ``lamp_daily``.

``build_features`` reads the daily rows (``refresh_daily``, models/daily.py) of the days asked
and the 29 before them (``daily_grid``) and computes the windows with numpy
(``feature_windows``). The row of day D uses nothing after the end of D, local time. A large
fleet is streamed a chunk of lamps at a time (``iter_features``); docs/prediction.md has more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg

from core.settings import get_settings
from models.daily import ProgressCallback
from models.daily import refresh_daily as refresh_daily
from models.daily_grid import age_features, day_seconds, lamps_frame, load_daily
from models.feature_windows import EVENT_FEATURES, WINDOW_DAYS, window_features

log = logging.getLogger(__name__)

__all__ = ["FEATURES", "FEATURE_SIGNALS", "build_features", "iter_features", "lamp_id_chunks", "refresh_daily"]

# Each feature and the signal it is about (the `signal` of a prediction's reasons).
FEATURE_SIGNALS: dict[str, str] = {
    # measured power over rated_power_w x dim_level / 100
    "power_ratio_1d": "power_w",
    "power_ratio_7d": "power_w",
    "power_ratio_30d": "power_w",
    "power_ratio_trend": "power_w",
    "power_ratio_10d_ago": "power_w",
    "power_ratio_change_10d": "power_w",
    "power_ratio_range_1d": "power_w",
    "power_ratio_sd_1d": "power_w",
    "power_ratio_sd_7d": "power_w",
    "power_ratio_sd_30d": "power_w",
    "power_ratio_vs_circuit_1d": "power_w",
    "power_ratio_vs_circuit_7d": "power_w",
    # power factor while lit
    "power_factor_1d": "power_factor",
    "power_factor_7d": "power_factor",
    "power_factor_30d": "power_factor",
    "power_factor_trend": "power_factor",
    "power_factor_10d_ago": "power_factor",
    "power_factor_change_10d": "power_factor",
    "power_factor_min_1d": "power_factor",
    "power_factor_min_over_avg_10d": "power_factor",
    "power_factor_sd_1d": "power_factor",
    "power_factor_sd_7d": "power_factor",
    "power_factor_vs_circuit_1d": "power_factor",
    "power_factor_vs_circuit_7d": "power_factor",
    # supply voltage
    "voltage_1d": "voltage_v",
    "voltage_7d": "voltage_v",
    "voltage_30d": "voltage_v",
    "voltage_min_1d": "voltage_v",
    "voltage_min_7d": "voltage_v",
    "voltage_max_7d": "voltage_v",
    "voltage_sd_1d": "voltage_v",
    "voltage_sd_7d": "voltage_v",
    "voltage_out_share_1d": "voltage_v",
    "voltage_out_share_7d": "voltage_v",
    "voltage_out_share_30d": "voltage_v",
    "supply_lost_readings_1d": "voltage_v",
    "supply_lost_readings_7d": "voltage_v",
    # driver temperature: rise over the lamp's own dark temperature, and over its circuit
    "driver_temp_rise_1d": "driver_temp_c",
    "driver_temp_rise_7d": "driver_temp_c",
    "driver_temp_rise_30d": "driver_temp_c",
    "driver_temp_rise_trend": "driver_temp_c",
    "driver_temp_vs_circuit_1d": "driver_temp_c",
    "driver_temp_vs_circuit_7d": "driver_temp_c",
    "driver_temp_vs_circuit_30d": "driver_temp_c",
    "driver_temp_vs_circuit_trend": "driver_temp_c",
    "driver_temp_max_1d": "driver_temp_c",
    # switching and lit time (the photocell decides when a lamp lights)
    "switch_cycles_1d": "switch_cycles",
    "switch_cycles_7d": "switch_cycles",
    "switch_cycles_30d": "switch_cycles",
    "switch_cycles_max_7d": "switch_cycles",
    "switch_cycles_trend": "switch_cycles",
    "lit_min_1d": "dim_level",
    "lit_min_vs_circuit_1d": "dim_level",
    "lit_min_vs_circuit_7d": "dim_level",
    "day_burning_min_1d": "dim_level",
    "day_burning_min_7d": "dim_level",
    "day_burning_min_30d": "dim_level",
    "lux_log_vs_circuit_1d": "dim_level",
    "lux_log_vs_circuit_7d": "dim_level",
    # reports
    "missing_share_1d": "reports",
    "missing_share_7d": "reports",
    "missing_share_30d": "reports",
    "report_interval_s": "reports",
    # events
    **{f"events_{name}_7d": "events" for name in EVENT_FEATURES},
    **{f"events_{name}_30d": "events" for name in EVENT_FEATURES},
    "events_1d": "events",
    # counters and age
    "burning_h_1d": "burning_hours",
    "burning_h_7d": "burning_hours",
    "burning_hours_total": "burning_hours",
    "switch_cycles_total": "switch_cycles",
    "age_days": "age",
    "days_since_repair": "age",
    "component_age_days": "age",
}

FEATURES: tuple[str, ...] = tuple(FEATURE_SIGNALS)


def build_features(
    conn: psycopg.Connection,
    start: date,
    end: date,
    *,
    lamp_ids: Sequence[str] | None = None,
    time_zone: str | None = None,
) -> pd.DataFrame:
    """Feature rows for the local days [start, end) of the lamps asked (default: every lamp).

    Index (lamp_id, day), `day` a tz-naive pandas Timestamp at midnight; columns FEATURES,
    float64, NaN where unknown. A lamp has rows only from its install_date on. Reads
    ``lamp_daily`` (run ``refresh_daily`` for these days and the 29 before first), the
    lamps' install dates and their repair events, never raw readings.

    For a large fleet, call it once per chunk of lamp ids (``lamp_id_chunks``, or
    ``iter_features``): memory then grows with the chunk, not with the fleet.
    """
    if end <= start:
        raise ValueError(f"build_features needs start < end, got {start} to {end}")
    zone = ZoneInfo(time_zone or get_settings().town_timezone)
    lamps = lamps_frame(conn, lamp_ids)
    n_days = (end - start).days
    grid_first = start - timedelta(days=WINDOW_DAYS - 1)
    n_grid = n_days + WINDOW_DAYS - 1
    daily = load_daily(conn, lamps["lamp_id"].tolist(), grid_first, end, n_grid)
    daily["day_s"] = day_seconds(grid_first, n_grid, zone)
    days_with_rows = daily["present"][:, WINDOW_DAYS - 1 :].any(axis=0)
    if len(lamps) and not days_with_rows.all():
        empty = [str(start + timedelta(days=int(i))) for i in np.flatnonzero(~days_with_rows)]
        log.warning("lamp_daily has no row for %s: run refresh_daily for these days first", ", ".join(empty[:5]))
    columns = window_features(daily, n_days)
    days = pd.date_range(start, periods=n_days, freq="D")
    age = age_features(conn, lamps, start, end, zone)
    columns.update(age)

    n_lamps = len(lamps)
    values = np.empty((n_lamps * n_days, len(FEATURES)))
    for j, name in enumerate(FEATURES):
        values[:, j] = columns[name].reshape(-1)
    index = pd.MultiIndex.from_product([lamps["lamp_id"].to_numpy(), days], names=["lamp_id", "day"])
    frame = pd.DataFrame(values, index=index, columns=list(FEATURES))
    installed = lamps["install_date"].to_numpy(dtype="datetime64[ns]")
    keep = ~(np.repeat(installed, n_days) > np.tile(days.to_numpy(), n_lamps))
    return frame[keep] if not keep.all() else frame


def lamp_id_chunks(conn: psycopg.Connection, size: int = 10_000) -> Iterator[list[str]]:
    """Every lamp id, in order, `size` at a time (for streaming a fleet through build_features)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    ids = [row[0] for row in conn.cursor(binary=False).execute("SELECT lamp_id FROM lamps ORDER BY lamp_id")]
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def iter_features(
    conn: psycopg.Connection,
    start: date,
    end: date,
    *,
    chunk_lamps: int = 10_000,
    time_zone: str | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[pd.DataFrame]:
    """build_features for the whole fleet, one chunk of lamps at a time.

    `progress(lamps_done, lamps_total)` is called after each chunk.
    """
    chunks = list(lamp_id_chunks(conn, chunk_lamps))
    total = sum(len(c) for c in chunks)
    done = 0
    for chunk in chunks:
        yield build_features(conn, start, end, lamp_ids=chunk, time_zone=time_zone)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
