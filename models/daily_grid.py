"""The daily rows a feature window reads, as lamps x days numpy arrays (from ``lamp_daily``).

Also the lamps' install dates and the age features, which come from the inventory and the
repair events rather than from the daily rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
from psycopg import postgres
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format

from models.daily import EVENT_COLUMNS, local_midnight

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


def day_seconds(first: date, n_days: int, zone: ZoneInfo) -> np.ndarray:
    # timestamps, not datetime differences: those ignore the offset change within one zone
    midnights = np.array([local_midnight(first + timedelta(days=k), zone).timestamp() for k in range(n_days + 1)])
    return np.diff(midnights)


def lamps_frame(conn: psycopg.Connection, lamp_ids: Sequence[str] | None) -> pd.DataFrame:
    cur = conn.cursor(binary=False)
    if lamp_ids is None:
        rows = cur.execute("SELECT lamp_id, install_date FROM lamps ORDER BY lamp_id").fetchall()
    else:
        wanted = list(dict.fromkeys(lamp_ids))
        rows = cur.execute("SELECT lamp_id, install_date FROM lamps WHERE lamp_id = ANY(%s)", (wanted,)).fetchall()
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


def load_daily(
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
        for c, column_values in zip(DAILY_COLUMNS, values, strict=True):
            arrays[c][row, col] = column_values
    arrays["present"] = present
    return arrays


def age_features(
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
