"""Failure-prediction features: one row per lamp per local day, from windows over ``lamp_daily``.

``refresh_daily`` (models/daily.py) aggregates readings and events into one row per lamp
and day in SQL; ``build_features`` reads only those rows, for the days asked and the 29
before them, and computes levels (1, 7, 30 days), trends (7-day level minus 30-day level),
variability and circuit-relative differences with numpy on a dense lamps x days grid. The
feature row of day D uses nothing after the end of D (local time).

Memory is bounded by the lamps asked at once: the caller streams a large fleet by passing
`lamp_ids` in chunks (``iter_features`` does that), each chunk costing about
lamps x (days + 29) x 40 values while it is built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
from psycopg import postgres
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format

from core.settings import get_settings
from models.daily import EVENT_COLUMNS, ProgressCallback, local_midnight
from models.daily import refresh_daily as refresh_daily

log = logging.getLogger(__name__)

__all__ = ["FEATURES", "FEATURE_SIGNALS", "build_features", "iter_features", "lamp_id_chunks", "refresh_daily"]

# The longest window: a feature of day D reads the days D-29 .. D.
WINDOW_DAYS = 30
# Days between the two ends of the "over 10 days" comparisons (D-9 .. D).
CHANGE_DAYS = 10
# Lamps whose daily rows come in one result row (at 30 days, about 20 MB).
DAILY_BLOCK_LAMPS = 2_000

# lamp_daily columns read into the grid, in this order.
DAILY_COLUMNS = (
    "readings",
    "gap_mean_s",
    "lit_readings",
    "day_burning_readings",
    "power_ratio_avg",
    "power_ratio_min",
    "power_ratio_max",
    "power_ratio_sd",
    "power_factor_avg",
    "power_factor_min",
    "power_factor_sd",
    "voltage_avg_v",
    "voltage_min_v",
    "voltage_max_v",
    "voltage_sd_v",
    "voltage_out_readings",
    "supply_lost_readings",
    "driver_temp_lit_c",
    "driver_temp_dark_c",
    "driver_temp_max_c",
    "burning_h",
    "switch_cycles",
    "burning_hours_last",
    "switch_cycles_last",
    "power_ratio_vs_circuit",
    "power_factor_vs_circuit",
    "driver_temp_vs_circuit_c",
    "lit_share_vs_circuit",
    "lux_log_vs_circuit",
    *EVENT_COLUMNS.values(),
    "ev_other",
)

# Event types whose counts are features (repairs feed the age features instead).
_EVENT_FEATURES = (
    "lamp_failure",
    "day_burning",
    "cycling",
    "driver_fault",
    "supply_loss",
    "comm_loss",
    "other",
)

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
    **{f"events_{name}_7d": "events" for name in _EVENT_FEATURES},
    **{f"events_{name}_30d": "events" for name in _EVENT_FEATURES},
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
    lamps = _lamps(conn, lamp_ids)
    n_days = (end - start).days
    grid_first = start - timedelta(days=WINDOW_DAYS - 1)
    n_grid = n_days + WINDOW_DAYS - 1
    daily = _load_daily(conn, lamps["lamp_id"].tolist(), grid_first, end, n_grid)
    daily["day_s"] = _day_seconds(grid_first, n_grid, zone)
    days_with_rows = daily["present"][:, WINDOW_DAYS - 1 :].any(axis=0)
    if len(lamps) and not days_with_rows.all():
        empty = [str(start + timedelta(days=int(i))) for i in np.flatnonzero(~days_with_rows)]
        log.warning("lamp_daily has no row for %s: run refresh_daily for these days first", ", ".join(empty[:5]))
    columns = window_features(daily, n_days)
    days = pd.date_range(start, periods=n_days, freq="D")
    age = _age_features(conn, lamps, start, end, zone)
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


# --- Pure window computation ----------------------------------------------------------


def window_features(daily: dict[str, np.ndarray], n_out: int) -> dict[str, np.ndarray]:
    """Every non-age feature for the last `n_out` days of the grid, as lamps x n_out arrays.

    `daily` holds each DAILY_COLUMNS entry as a lamps x grid-days float array (NaN where
    lamp_daily has no value), `present`, True where lamp_daily has a row, and `day_s`, the
    length of each grid day in seconds (23 or 25 hours when the clocks change). Windows are
    evaluated on the output days only. Pure: no I/O.
    """
    grid = Grid(n_out)
    present = daily["present"]
    seen = np.maximum.accumulate(present, axis=1)  # on or after the lamp's first row in the grid
    readings = np.where(seen, np.nan_to_num(daily["readings"]), np.nan)
    day_s = np.broadcast_to(daily["day_s"][None, :], readings.shape)
    f: dict[str, np.ndarray] = {}

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

    grid.levels(f, "driver_temp_rise", daily["driver_temp_lit_c"] - daily["driver_temp_dark_c"], trend=True)
    grid.levels(f, "driver_temp_vs_circuit", daily["driver_temp_vs_circuit_c"], trend=True)
    f["driver_temp_max_1d"] = grid.day(daily["driver_temp_max_c"])

    cycles = daily["switch_cycles"]
    grid.levels(f, "switch_cycles", cycles, trend=True)
    f["switch_cycles_max_7d"] = grid.max(cycles, 7)

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

    all_events = np.zeros_like(readings)
    for name in _EVENT_FEATURES:
        counts = np.nan_to_num(daily[f"ev_{name}"])
        all_events += counts
        f[f"events_{name}_7d"] = grid.sum(counts, 7)
        f[f"events_{name}_30d"] = grid.sum(counts, 30)
    f["events_1d"] = grid.day(all_events)

    f["burning_h_1d"] = grid.day(daily["burning_h"])
    f["burning_h_7d"] = grid.mean(daily["burning_h"], 7)
    f["burning_hours_total"] = grid.day(forward_fill(daily["burning_hours_last"]))
    f["switch_cycles_total"] = grid.day(forward_fill(daily["switch_cycles_last"]))
    return f


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


# --- Reading the database -------------------------------------------------------------


def _day_seconds(first: date, n_days: int, zone: ZoneInfo) -> np.ndarray:
    # timestamps, not datetime differences: those ignore the offset change within one zone
    midnights = np.array([local_midnight(first + timedelta(days=k), zone).timestamp() for k in range(n_days + 1)])
    return np.diff(midnights)


def _lamps(conn: psycopg.Connection, lamp_ids: Sequence[str] | None) -> pd.DataFrame:
    cur = conn.cursor(binary=False)
    if lamp_ids is None:
        rows = cur.execute("SELECT lamp_id, install_date FROM lamps ORDER BY lamp_id").fetchall()
    else:
        wanted = list(dict.fromkeys(lamp_ids))
        rows = cur.execute(
            "SELECT lamp_id, install_date FROM lamps WHERE lamp_id = ANY(%s)", (wanted,)
        ).fetchall()
        found = {row[0]: row[1] for row in rows}
        unknown = [lamp_id for lamp_id in wanted if lamp_id not in found]
        if unknown:
            raise ValueError(f"unknown lamp ids: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}")
        rows = [(lamp_id, found[lamp_id]) for lamp_id in wanted]
    frame = pd.DataFrame(rows, columns=["lamp_id", "install_date"])
    frame["install_date"] = pd.to_datetime(frame["install_date"])
    return frame


# The daily rows of a block of lamps come as one row of arrays (lamp numbers, day offsets,
# then one float4 array per DAILY_COLUMNS entry, NULL sent as NaN): a result of a few rows,
# whose arrays numpy reads straight from their binary form, without a Python object per value.
_DAILY_ARRAYS = f"""
SELECT array_agg(k.lamp_no::int4), array_agg(d.day - %(first)s::date),
       {", ".join(f"array_agg(coalesce({c}::float4, 'NaN'::float4))" for c in DAILY_COLUMNS)}
FROM unnest(%(lamp_ids)s::text[]) WITH ORDINALITY AS k(lamp_id, lamp_no)
JOIN lamp_daily d ON d.lamp_id = k.lamp_id
WHERE d.day >= %(first)s AND d.day < %(end)s
GROUP BY k.lamp_no / {DAILY_BLOCK_LAMPS}
"""


_FLOAT4_ARRAY_OID = postgres.types["float4"].array_oid
_INT4_ARRAY_OID = postgres.types["int4"].array_oid


class _RawArrayLoader(Loader):
    """Keeps a one-dimensional int4[] or float4[] without NULLs as numpy values (binary format:
    a 20-byte header, then a 4-byte length before each 4-byte element)."""

    format = Format.BINARY
    element = ">f4"

    def load(self, data: Buffer) -> np.ndarray:
        if len(data) <= 12:  # an empty array has no dimension
            return np.empty(0, dtype=self.element)
        pairs = np.frombuffer(data, dtype=np.dtype([("length", ">i4"), ("value", self.element)]), offset=20)
        return pairs["value"]


class _RawIntArrayLoader(_RawArrayLoader):
    element = ">i4"


def _load_daily(
    conn: psycopg.Connection, lamp_ids: list[str], first: date, end: date, n_grid: int
) -> dict[str, np.ndarray]:
    """lamp_daily rows of these lamps in [first, end) as lamps x days float arrays (NaN where unknown)."""
    n_lamps = len(lamp_ids)
    arrays = {c: np.full((n_lamps, n_grid), np.nan) for c in DAILY_COLUMNS}
    present = np.zeros((n_lamps, n_grid), dtype=bool)
    cur = conn.cursor(binary=True)
    cur.adapters.register_loader(_FLOAT4_ARRAY_OID, _RawArrayLoader)
    cur.adapters.register_loader(_INT4_ARRAY_OID, _RawIntArrayLoader)
    with conn.transaction():
        # A plain read of many rows: compiling it (JIT) costs more than it saves.
        cur.execute("SET LOCAL jit = off")
        blocks = cur.execute(_DAILY_ARRAYS, {"first": first, "end": end, "lamp_ids": lamp_ids}).fetchall()
    for lamp_no, day, *values in blocks:
        row = lamp_no.astype(np.int64) - 1
        col = day.astype(np.int64)
        present[row, col] = True
        for c, column_values in zip(DAILY_COLUMNS, values):
            arrays[c][row, col] = column_values
    arrays["present"] = present
    return arrays


def _age_features(
    conn: psycopg.Connection, lamps: pd.DataFrame, start: date, end: date, zone: ZoneInfo
) -> dict[str, np.ndarray]:
    """Days since install and since the last repair event (up to each day's end), lamps x days."""
    n_days = (end - start).days
    days = np.datetime64(start, "D") + np.arange(n_days)
    installed = lamps["install_date"].to_numpy(dtype="datetime64[D]")
    age = (days[None, :] - installed[:, None]).astype("timedelta64[D]").astype(float)
    age[np.isnat(installed)] = np.nan
    rows = (
        conn.cursor(binary=False)
        .execute(
            """SELECT DISTINCT lamp_id, (ts AT TIME ZONE %(tz)s)::date
               FROM events
               WHERE type = 'repaired' AND lamp_id = ANY(%(lamp_ids)s) AND ts < %(end)s""",
            {"tz": zone.key, "lamp_ids": lamps["lamp_id"].tolist(), "end": local_midnight(end, zone)},
        )
        .fetchall()
    )
    since = np.full((len(lamps), n_days), np.nan)
    if rows:
        position = pd.Index(lamps["lamp_id"]).get_indexer([r[0] for r in rows])
        repair_day = np.array([r[1] for r in rows], dtype="datetime64[D]")
        order = np.lexsort((repair_day, position))
        position, repair_day = position[order], repair_day[order]
        for lamp in np.unique(position):
            lamp_days = repair_day[position == lamp]
            last = np.searchsorted(lamp_days, days, side="right") - 1
            known = last >= 0
            since[lamp, known] = (days[known] - lamp_days[last[known]]).astype(float)
    component = np.where(np.isnan(since), age, np.fmin(since, age))
    return {"age_days": age, "days_since_repair": since, "component_age_days": component}
