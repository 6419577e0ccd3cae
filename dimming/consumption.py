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

`consumption_by_group_month`, the energy page's figures, adds up the per-lamp, per-day
rows of dimming.energy_daily instead: measured energy beside full power and the plan
for the same lamps and hours, with the share of the month that was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import tuple_row

from dimming import energy

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


# --- measured against full power and the plan, for the same hours ----------------------------------

# A month counts as wholly measured from this share of its lamp-hours on: the first and last
# report intervals of a month may fall a few minutes short.
COMPLETE_SHARE = 0.99
SECONDS_PER_HOUR = 3600.0

_BY_GROUP_MONTH = """
SELECT l.group_name, date_trunc('month', e.day)::date AS month, count(DISTINCT e.lamp_id) AS reporting,
       sum(e.measured_s) AS measured_s, sum(e.measured_wh) AS measured_wh,
       sum(e.full_wh) AS full_wh, sum(e.planned_wh) AS planned_wh
FROM energy_daily e
JOIN lamps l USING (lamp_id)
WHERE e.day >= %(first)s AND e.day < %(last)s
  AND (%(group_name)s::text IS NULL OR l.group_name = %(group_name)s)
GROUP BY 1, 2
"""

# The lamps the comparison counts: those that get a plan (dimming.store.load_lamps) and have a power.
_LAMPS_PER_GROUP = """
SELECT group_name, count(*) FROM lamps
WHERE state IN ('in_service', 'faulty', 'under_repair') AND lat IS NOT NULL AND lon IS NOT NULL
  AND rated_power_w IS NOT NULL AND (%(group_name)s::text IS NULL OR group_name = %(group_name)s)
GROUP BY 1
"""


@dataclass(frozen=True, slots=True)
class Coverage:
    """What was measured of a period: lamp-hours covered by counter differences against the lamp-hours in it."""

    lamps: int  # lamps counted (with a place and a rated power)
    lamps_reporting: int  # lamps whose counters covered some of the period
    lamp_hours: float  # lamps x hours of the period (up to now)
    measured_lamp_hours: float

    @property
    def share(self) -> float:
        return min(self.measured_lamp_hours / self.lamp_hours, 1.0) if self.lamp_hours > 0 else 0.0

    @property
    def partial(self) -> bool:
        return self.share < COMPLETE_SHARE


@dataclass(frozen=True, slots=True)
class GroupMonthConsumption:
    """A group's month (or the town's), measured, and for the same lamps and hours at full power and as planned."""

    group: str | None  # "" for the lamps in no group; None for the whole town
    month: str  # YYYY-MM, town time
    coverage: Coverage
    full_kwh: float  # the lamps measured, at rated power through the night hours measured
    estimated_kwh: float  # the same lamps and hours at their schedule's levels
    measured_kwh: float | None  # None when no counter reported
    saved_kwh: float | None  # full_kwh - measured_kwh; None without a measurement
    cost_saved_eur: float | None
    co2_saved_kg: float | None


@dataclass(frozen=True, slots=True)
class ConsumptionReport:
    rows: list[GroupMonthConsumption]  # by group, then month
    months: list[GroupMonthConsumption]  # the rows added up per month (group None)
    total: GroupMonthConsumption  # everything added up (group None, month "from/to")


@dataclass
class _Sums:
    lamps: int = 0
    reporting: int = 0
    lamp_hours: float = 0.0
    measured_s: float = 0.0
    measured_wh: float | None = None
    full_wh: float = 0.0
    planned_wh: float = 0.0

    def add(self, other: _Sums) -> None:
        self.lamps += other.lamps
        self.reporting += other.reporting
        self.lamp_hours += other.lamp_hours
        self.measured_s += other.measured_s
        if other.measured_wh is not None:
            self.measured_wh = (self.measured_wh or 0.0) + other.measured_wh
        self.full_wh += other.full_wh
        self.planned_wh += other.planned_wh


def _month_hours(year: int, month: int, tz: ZoneInfo, now: datetime) -> float:
    """Hours of a local month that have passed by `now`."""
    start, end = energy.month_bounds(year, month, tz)
    return max((min(end, now) - start).total_seconds(), 0.0) / SECONDS_PER_HOUR


def _row(group: str | None, month: str, sums: _Sums, price: float, emission: float) -> GroupMonthConsumption:
    measured = sums.measured_wh / energy.WH_PER_KWH if sums.measured_wh is not None else None
    full = sums.full_wh / energy.WH_PER_KWH
    saved = full - measured if measured is not None else None
    worth = (
        energy.rounded_savings(saved, price_eur_per_kwh=price, emission_g_co2_per_kwh=emission)
        if saved is not None
        else None
    )
    return GroupMonthConsumption(
        group=group,
        month=month,
        coverage=Coverage(sums.lamps, sums.reporting, sums.lamp_hours, sums.measured_s / SECONDS_PER_HOUR),
        full_kwh=round(full, 4),
        estimated_kwh=round(sums.planned_wh / energy.WH_PER_KWH, 4),
        measured_kwh=round(measured, 4) if measured is not None else None,
        saved_kwh=round(saved, 4) if saved is not None else None,
        cost_saved_eur=worth.cost_eur if worth else None,
        co2_saved_kg=worth.co2_kg if worth else None,
    )


def consumption_by_group_month(
    conn: psycopg.Connection,
    months: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    group_name: str | None,
    *,
    price_eur_per_kwh: float,
    emission_g_co2_per_kwh: float,
    now: datetime | None = None,
) -> ConsumptionReport:
    """Each group's months (one group's with `group_name`), added up per month and over the period.

    Every figure of a row is for the same lamps and hours: those its counters measured
    (see dimming.energy_daily). A group has a row for every month begun by `now`; its
    coverage says how much of the month was measured. Nothing is counted here: the rows
    are what the background count (dimming.energy_jobs) has written so far.
    """
    now = now or datetime.now(UTC)
    first = date(*months[0], 1)
    last = energy.month_bounds(*months[-1], tz)[1].date()
    params = {"first": first, "last": last, "group_name": group_name}
    found = {
        (name, (month.year, month.month)): _Sums(0, int(reporting), 0.0, float(measured_s), float(wh), full, planned)
        for name, month, reporting, measured_s, wh, full, planned in _tuples(conn, _BY_GROUP_MONTH, params)
    }
    lamps = {name: int(count) for name, count in _tuples(conn, _LAMPS_PER_GROUP, params)}
    begun = [(year, month) for year, month in months if _month_hours(year, month, tz, now) > 0]
    price, emission = price_eur_per_kwh, emission_g_co2_per_kwh
    rows: list[GroupMonthConsumption] = []
    per_month = {key: _Sums() for key in begun}
    total = _Sums()
    for name in sorted(set(lamps) | {g for g, _ in found}):
        for year, month in begun:
            sums = found.get((name, (year, month))) or _Sums()
            sums.lamps = lamps.get(name, 0)
            sums.lamp_hours = sums.lamps * _month_hours(year, month, tz, now)
            rows.append(_row(name, f"{year:04d}-{month:02d}", sums, price, emission))
            per_month[(year, month)].add(sums)
    months_out = []
    for (year, month), sums in per_month.items():
        months_out.append(_row(None, f"{year:04d}-{month:02d}", sums, price, emission))
        total.add(sums)
    # Over a period, a lamp is counted once (the most lamps in any month), as is a reporting lamp.
    total.lamps = max((s.lamps for s in per_month.values()), default=0)
    total.reporting = max((s.reporting for s in per_month.values()), default=0)
    span = f"{months[0][0]:04d}-{months[0][1]:02d}/{months[-1][0]:04d}-{months[-1][1]:02d}"
    return ConsumptionReport(rows, months_out, _row(None, span, total, price, emission))
