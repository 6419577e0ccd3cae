"""Measured consumption per group and period, computed in the database from the lamps' energy counters.

Why counters and not power: each reading carries `energy_wh`, the controller's
cumulative active energy. The difference between two successive readings of a
lamp is what it drew in between, however long the gap: a lost report or an hour
of silence loses nothing, where integrating `power_w` samples would have to guess
the power during the gap (and misses every switch between two samples).

- Counter reset (a replaced controller, a firmware update): a reading lower than
  the one before means the counter restarted from zero, so the energy since then is
  the new reading itself; what was drawn between the last report and the reset is
  not known and is not counted.
- Gaps: a difference spanning several periods (a lamp silent across the turn of a
  month) is shared out between them in proportion to the time in each.
- Readings without `energy_wh` are skipped; the first reading of a lamp opens its
  series. Differences reaching back up to `LOOKBACK` before the range are counted
  for their part inside it.

Periods are local calendar days (`date_bin`, 1 day, in the town's zone) or local
calendar months (`date_trunc`: `date_bin` takes no month-long width, months not
being of one length). The same query runs on plain PostgreSQL and TimescaleDB, and
only one row per group and period leaves the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import tuple_row

from dimming import energy, store

LOOKBACK = timedelta(days=7)
Period = Literal["day", "month"]

# The period containing a local timestamp, and the step to the next: fixed fragments, never user input.
_PERIODS: dict[str, tuple[str, str]] = {
    "day": ("date_bin(interval '1 day', {value}, TIMESTAMP '2000-01-01')", "interval '1 day'"),
    "month": ("date_trunc('month', {value})", "interval '1 month'"),
}

_TEMPLATE = """
WITH counted AS (
    SELECT r.lamp_id, l.group_name, r.ts, r.energy_wh,
           lag(r.ts) OVER per_lamp AS prev_ts,
           lag(r.energy_wh) OVER per_lamp AS prev_wh
    FROM readings r
    JOIN lamps l USING (lamp_id)
    WHERE r.energy_wh IS NOT NULL
      AND r.ts >= %(start)s - %(lookback)s AND r.ts < %(end)s
      AND (%(group_name)s::text IS NULL OR l.group_name = %(group_name)s)
    WINDOW per_lamp AS (PARTITION BY r.lamp_id ORDER BY r.ts)
),
deltas AS (
    SELECT lamp_id, group_name, prev_ts, ts,
           CASE WHEN energy_wh >= prev_wh THEN energy_wh - prev_wh ELSE energy_wh END AS wh
    FROM counted
    WHERE prev_ts IS NOT NULL AND ts > %(start)s
),
shared AS (
    SELECT d.lamp_id, d.group_name, p.local_start,
           CASE WHEN p.single THEN d.wh
                ELSE d.wh * extract(epoch FROM least(d.ts, p.ends) - greatest(d.prev_ts, p.starts))
                          / extract(epoch FROM d.ts - d.prev_ts)
           END AS wh,
           p.starts
    FROM deltas d
    CROSS JOIN LATERAL (
        SELECT s AS local_start,
               s AT TIME ZONE %(zone)s AS starts,
               (s + {step}) AT TIME ZONE %(zone)s AS ends,
               {first} = {last} AS single
        FROM generate_series({first}, {last}, {step}) AS s
    ) p
)
SELECT group_name, local_start::date AS period, sum(wh) / 1000.0 AS measured_kwh, count(DISTINCT lamp_id) AS lamps
FROM shared
WHERE starts >= %(start)s AND starts < %(end)s
GROUP BY group_name, local_start
ORDER BY group_name, local_start
"""


def _query(period: str) -> str:
    bucket, step = _PERIODS[period]
    return _TEMPLATE.format(
        first=bucket.format(value="(d.prev_ts AT TIME ZONE %(zone)s)"),
        last=bucket.format(value="(d.ts AT TIME ZONE %(zone)s)"),
        step=step,
    )


_QUERIES = {period: _query(period) for period in _PERIODS}


@dataclass(frozen=True, slots=True)
class Measured:
    group_name: str
    period: date  # first local day of the day or month
    measured_kwh: float
    lamps: int  # lamps whose counters contributed


def measured_consumption(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    time_zone: str,
    period: Period = "month",
    group_name: str | None = None,
) -> list[Measured]:
    """Measured kWh per group and period starting in [start, end), where `start` and `end` are period bounds.

    One row per group and period with at least one counter difference; `group_name`
    limits it to one group ("" is the lamps in no group).
    """
    if period not in _QUERIES:
        raise ValueError(f"period must be day or month, not {period!r}")
    rows = _tuples(
        conn,
        _QUERIES[period],
        {"start": start, "end": end, "lookback": LOOKBACK, "zone": time_zone, "group_name": group_name},
    )
    return [Measured(group, day, float(kwh), int(lamps)) for group, day, kwh, lamps in rows]


def _tuples(conn: psycopg.Connection, query: str, params: dict) -> list[tuple]:
    """Rows as tuples, whatever row factory the connection has."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


@dataclass(frozen=True, slots=True)
class RatedLamp:
    lamp_id: str
    group_name: str
    rated_power_w: float | None


def rated_lamps(conn: psycopg.Connection, group_name: str | None = None) -> list[RatedLamp]:
    """In-service lamps with their group and rated power (None when the inventory does not say)."""
    rows = _tuples(
        conn,
        """SELECT lamp_id, group_name, rated_power_w::float8 FROM lamps
           WHERE state <> 'retired' AND (%(group_name)s::text IS NULL OR group_name = %(group_name)s)
           ORDER BY lamp_id""",
        {"group_name": group_name},
    )
    return [RatedLamp(*row) for row in rows]


def group_names(conn: psycopg.Connection) -> list[str]:
    """Groups that have lamps not retired, in name order ("" for the lamps in no group)."""
    rows = _tuples(conn, "SELECT DISTINCT group_name FROM lamps WHERE state <> 'retired' ORDER BY group_name", {})
    return [name for (name,) in rows]


def group_place(conn: psycopg.Connection, group_name: str | None) -> tuple[float, float] | None:
    """Mean position of a group's lamps (all lamps when None), or None when none has coordinates."""
    [(lat, lon, count)] = _tuples(
        conn,
        """SELECT avg(lat)::float8, avg(lon)::float8, count(lat) FROM lamps
           WHERE state <> 'retired' AND lat IS NOT NULL AND lon IS NOT NULL
             AND (%(group_name)s::text IS NULL OR group_name = %(group_name)s)""",
        {"group_name": group_name},
    )
    return None if not count else (lat, lon)


# --- measured against estimated -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupMonthConsumption:
    """A group's month: estimated from its schedules and measured by its counters, in kWh, with the saving."""

    group: str  # "" for the lamps in no group
    month: str  # YYYY-MM, town time
    lamps: int  # lamps with a place and a rated power, counted in the estimate
    lamps_reporting: int  # lamps whose energy counters reported in the month
    full_kwh: float  # every lamp at rated power from sunset to sunrise
    estimated_kwh: float  # following the lamps' schedules as they stand today
    measured_kwh: float | None  # None when no counter reported
    saved_kwh: float | None  # full_kwh - measured_kwh; None without a measurement
    cost_saved_eur: float | None
    co2_saved_kg: float | None


def consumption_by_group_month(
    conn: psycopg.Connection,
    months: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    group_name: str | None,
    *,
    price_eur_per_kwh: float,
    emission_g_co2_per_kwh: float,
) -> list[GroupMonthConsumption]:
    """Each group's months (one group's with `group_name`), by group then month, rounded as people read them.

    A group and month appear when they have an estimate or a measurement; a saving
    needs both.
    """
    start = energy.month_bounds(*months[0], tz)[0]
    end = energy.month_bounds(*months[-1], tz)[1]
    lamps = [lamp for lamp in store.load_lamps(conn) if group_name is None or lamp.group_name == group_name]
    powers = {lamp.lamp_id: lamp.rated_power_w for lamp in rated_lamps(conn, group_name) if lamp.rated_power_w}
    lamps = [lamp for lamp in lamps if lamp.lamp_id in powers]
    config = store.load_config(conn, datetime.now(UTC))
    estimated = energy.estimate_by_group(config, lamps, powers, months, tz)
    measured = {
        (row.group_name, (row.period.year, row.period.month)): row
        for row in measured_consumption(conn, start, end, time_zone=str(tz), group_name=group_name)
    }
    rows = []
    for name in sorted({g for g, _ in estimated} | {g for g, _ in measured}):
        for year, month in months:
            figures = estimated.get((name, (year, month)))
            found = measured.get((name, (year, month)))
            if figures is None and found is None:
                continue
            full = figures.full_kwh if figures else 0.0
            measured_kwh = found.measured_kwh if found else None
            saved = full - measured_kwh if measured_kwh is not None and figures else None
            worth = (
                energy.rounded_savings(
                    saved, price_eur_per_kwh=price_eur_per_kwh, emission_g_co2_per_kwh=emission_g_co2_per_kwh
                )
                if saved is not None
                else None
            )
            rows.append(
                GroupMonthConsumption(
                    group=name,
                    month=f"{year:04d}-{month:02d}",
                    lamps=figures.lamps if figures else 0,
                    lamps_reporting=found.lamps if found else 0,
                    full_kwh=round(full, 4),
                    estimated_kwh=round(figures.estimated_kwh, 4) if figures else 0.0,
                    measured_kwh=round(measured_kwh, 4) if measured_kwh is not None else None,
                    saved_kwh=round(saved, 4) if saved is not None else None,
                    cost_saved_eur=worth.cost_eur if worth else None,
                    co2_saved_kg=worth.co2_kg if worth else None,
                )
            )
    return rows
