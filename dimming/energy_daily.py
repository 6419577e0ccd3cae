"""Energy per lamp and local day (table ``energy_daily``): measured, and for the same hours full power and the plan.

Like with like. A lamp's counter difference between two successive readings is what it
drew over that interval, however long. For exactly those intervals (the hours measured),
the same statement computes what the lamp would have drawn at full power through the
night hours (sunset to sunrise at its place) and at its schedule's levels (the power
model of dimming.energy). An interval across midnight is split between the two days, the
counter's difference in proportion to the time on each side. An interval over which the
counter went backwards (a replaced controller) is left out of all three: what was drawn
before the restart is unknown. Hours not covered by any interval are not measured, and
the figures say so (their `measured_s` falls short of the day).

How. Python resolves the schedules (dimming.resolve) once per batch of days for lamps
sharing rules and place, and turns each distinct curve into cumulative arrays:
`night_cum[k]` is the night seconds from the batch's start to `at[k]`, `night_rate[k]` is
1 in the night from `at[k]` on, and `plan_cum`/`plan_rate` likewise in full-power
seconds. Any instant's value is then `cum[k] + rate[k] * (t - at[k])` with
`k = width_bucket(t, at)`, so one statement over the batch's readings values every
interval without a per-lamp loop. The same SQL runs on plain PostgreSQL and TimescaleDB.

When. A day is aggregated when it is first asked for; a day aggregated before it was
over (plus `SETTLE` for late reports) is aggregated again when asked for, at most every
`STALE`. `refresh_energy_days` redoes a range on demand (after a backfill of history).
The schedules are taken as they stand when a day is aggregated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import tuple_row

from dimming import store
from dimming.energy import PLACE_DECIMALS, power_fraction
from dimming.resolve import DimmingConfig, Lamp, resolve_plans
from dimming.sun import twilight_times

# Reports that arrive this long after a day is over still count in it.
SETTLE = timedelta(hours=1)
# A day not yet settled is aggregated again when asked for, at most this often.
STALE = timedelta(minutes=15)
# How far before and after a batch a lamp's neighbouring reading is looked for.
LOOKBACK = timedelta(days=7)
# Lamp-days per statement: bounds the memory of one aggregation.
BATCH_LAMP_DAYS = 400_000
MAX_BATCH_DAYS = 31
# Serialises aggregations (two pages asked at once do the work once).
_LOCK_KEY = 0x454E4552  # "ENER"

_REFRESH = """
WITH lamp_set AS (
    SELECT m.lamp_id, m.class_id, l.rated_power_w::float8 AS power_w
    FROM energy_lamp_class m
    JOIN lamps l USING (lamp_id)
    WHERE l.rated_power_w IS NOT NULL
),
series AS (
    SELECT r.lamp_id, r.ts, r.energy_wh
    FROM readings r
    WHERE r.ts >= %(start)s AND r.ts < %(end)s AND r.energy_wh IS NOT NULL
    UNION ALL
    SELECT s.lamp_id, b.ts, b.energy_wh
    FROM lamp_set s
    CROSS JOIN LATERAL (
        SELECT r.ts, r.energy_wh FROM readings r
        WHERE r.lamp_id = s.lamp_id AND r.ts < %(start)s AND r.ts >= %(start)s - %(lookback)s
          AND r.energy_wh IS NOT NULL
        ORDER BY r.ts DESC LIMIT 1
    ) b
    UNION ALL
    SELECT s.lamp_id, a.ts, a.energy_wh
    FROM lamp_set s
    CROSS JOIN LATERAL (
        SELECT r.ts, r.energy_wh FROM readings r
        WHERE r.lamp_id = s.lamp_id AND r.ts >= %(end)s AND r.ts < %(end)s + %(lookback)s
          AND r.energy_wh IS NOT NULL
        ORDER BY r.ts LIMIT 1
    ) a
),
steps AS (
    SELECT lamp_id, lag(ts) OVER w AS a, ts AS b, energy_wh - lag(energy_wh) OVER w AS wh
    FROM series
    WINDOW w AS (PARTITION BY lamp_id ORDER BY ts)
),
parts AS (
    -- each interval's part in each local day of the batch
    SELECT s.lamp_id, d.day_no, s.a, s.b, s.wh,
           greatest(s.a, (%(midnights)s::timestamptz[])[d.day_no]) AS p,
           least(s.b, (%(midnights)s::timestamptz[])[d.day_no + 1]) AS q
    FROM steps s
    CROSS JOIN LATERAL generate_series(
        greatest(width_bucket(s.a, %(midnights)s::timestamptz[]), 1),
        least(width_bucket(s.b, %(midnights)s::timestamptz[]), %(days)s)
    ) AS d(day_no)
    WHERE s.a IS NOT NULL AND s.wh >= 0 AND s.b > %(start)s AND s.a < %(end)s
),
valued AS (
    SELECT p.lamp_id, p.day_no, l.power_w, c.at, c.night_cum, c.night_rate, c.plan_cum, c.plan_rate, p.p, p.q,
           extract(epoch FROM p.q - p.p)::float8 AS span_s,
           p.wh * extract(epoch FROM p.q - p.p)::float8 / extract(epoch FROM p.b - p.a)::float8 AS wh,
           width_bucket(p.p, c.at) AS kp,
           width_bucket(p.q, c.at) AS kq
    FROM parts p
    JOIN lamp_set l USING (lamp_id)
    JOIN energy_curve c USING (class_id)
    WHERE p.q > p.p
)
INSERT INTO energy_daily (lamp_id, day, measured_s, measured_wh, full_wh, planned_wh)
SELECT lamp_id, %(first_day)s::date + day_no - 1, sum(span_s), sum(wh),
       sum(power_w * (night_cum[kq] + night_rate[kq] * extract(epoch FROM q - at[kq])::float8
                      - night_cum[kp] - night_rate[kp] * extract(epoch FROM p - at[kp])::float8)) / 3600.0,
       sum(power_w * (plan_cum[kq] + plan_rate[kq] * extract(epoch FROM q - at[kq])::float8
                      - plan_cum[kp] - plan_rate[kp] * extract(epoch FROM p - at[kp])::float8)) / 3600.0
FROM valued
GROUP BY lamp_id, day_no
"""


@dataclass(frozen=True, slots=True)
class Curve:
    """One class of lamps' night and schedule over a batch, as cumulative arrays (see the module's doc)."""

    at: list[datetime]
    night_cum_s: list[float]
    night_rate: list[float]
    plan_cum_s: list[float]
    plan_rate: list[float]


def _level_at(points: Sequence[tuple[datetime, int]], instant: datetime) -> int:
    level = 0
    for at, value in points:
        if at > instant:
            break
        level = value
    return level


def _in_night(nights: Sequence[tuple[datetime, datetime]], instant: datetime) -> bool:
    return any(dusk <= instant < dawn for dusk, dawn in nights)


def nights_between(
    lat: float, lon: float, start: datetime, end: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """(sunset, sunrise) of every night touching [start, end) at a place, clipped to it."""
    found = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        sun = twilight_times(lat, lon, day, tz, "sunset")
        if sun.dusk is not None and sun.dawn is not None:
            dusk, dawn = max(sun.dusk, start), min(sun.dawn, end)
            if dusk < dawn:
                found.append((dusk, dawn))
        day += timedelta(days=1)
    return found


def curve(
    points: Sequence[tuple[datetime, int]], nights: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime
) -> Curve:
    """The cumulative arrays of a schedule (switch points) and nights over [start, end)."""
    moments = {start, end}
    moments.update(at for at, _ in points if start < at < end)
    for dusk, dawn in nights:
        moments.update((dusk, dawn))
    at = sorted(moments)
    night_rate = [1.0 if _in_night(nights, t) else 0.0 for t in at[:-1]] + [0.0]
    plan_rate = [power_fraction(_level_at(points, t)) for t in at[:-1]] + [0.0]
    night_cum, plan_cum = [0.0], [0.0]
    for k in range(1, len(at)):
        seconds = (at[k] - at[k - 1]).total_seconds()
        night_cum.append(night_cum[-1] + night_rate[k - 1] * seconds)
        plan_cum.append(plan_cum[-1] + plan_rate[k - 1] * seconds)
    return Curve(at, night_cum, night_rate, plan_cum, plan_rate)


def lamp_curves(
    config: DimmingConfig, lamps: Iterable[Lamp], start: datetime, end: datetime, tz: ZoneInfo
) -> tuple[list[Curve], list[tuple[str, int]]]:
    """The distinct curves over [start, end), and each lamp's (lamp_id, index of its curve)."""
    lamps = list(lamps)
    hours = math.ceil((end - start).total_seconds() / 3600.0)
    plans = resolve_plans(config, lamps, start, hours, tz)
    curves: list[Curve] = []
    index: dict[tuple, int] = {}
    nights: dict[tuple[float, float], list[tuple[datetime, datetime]]] = {}
    # Lamps of one class share their plan's point objects: one key per first point.
    key_of_first: dict[tuple[int, tuple[float, float]], tuple] = {}
    classes: list[tuple[str, int]] = []
    for lamp in lamps:
        plan = plans.get(lamp.lamp_id, [])
        place = (round(lamp.lat, PLACE_DECIMALS), round(lamp.lon, PLACE_DECIMALS))
        short = (id(plan[0]) if plan else 0, place)
        key = key_of_first.get(short)
        if key is None:
            key = key_of_first[short] = (tuple((p.at, p.level) for p in plan), place)
        found = index.get(key)
        if found is None:
            if place not in nights:
                nights[place] = nights_between(place[0], place[1], start, end, tz)
            found = index[key] = len(curves)
            curves.append(curve(key[0], nights[place], start, end))
        classes.append((lamp.lamp_id, found))
    return curves, classes


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _aggregate_batch(
    conn: psycopg.Connection, first: date, last: date, tz: ZoneInfo, config: DimmingConfig, now: datetime
) -> int:
    """(Re)write energy_daily for the local days [first, last) as of `now`; the caller holds a transaction."""
    days = (last - first).days
    midnights = [_midnight(first + timedelta(days=k), tz) for k in range(days + 1)]
    start, end = midnights[0], midnights[-1]
    curves, classes = lamp_curves(config, store.load_lamps(conn), start, end, tz)
    conn.execute("DELETE FROM energy_daily WHERE day >= %s AND day < %s", (first, last))
    conn.execute(
        """CREATE TEMP TABLE energy_curve (class_id int PRIMARY KEY, at timestamptz[], night_cum float8[],
           night_rate float8[], plan_cum float8[], plan_rate float8[]) ON COMMIT DROP"""
    )
    conn.execute("CREATE TEMP TABLE energy_lamp_class (lamp_id text PRIMARY KEY, class_id int) ON COMMIT DROP")
    with conn.cursor() as cur:
        with cur.copy("COPY energy_curve FROM STDIN") as copy:
            for number, found in enumerate(curves):
                copy.write_row(
                    (number, found.at, found.night_cum_s, found.night_rate, found.plan_cum_s, found.plan_rate)
                )
        with cur.copy("COPY energy_lamp_class FROM STDIN") as copy:
            for row in classes:
                copy.write_row(row)
    conn.execute("ANALYZE energy_lamp_class")
    cur = conn.execute(
        _REFRESH,
        {
            "start": start,
            "end": end,
            "lookback": LOOKBACK,
            "midnights": midnights,
            "days": days,
            "first_day": first,
        },
    )
    conn.execute("DROP TABLE energy_curve, energy_lamp_class")
    conn.execute(
        """INSERT INTO energy_days (day, refreshed_at)
           SELECT d::date, %s FROM generate_series(%s::date, %s::date - 1, interval '1 day') AS d
           ON CONFLICT (day) DO UPDATE SET refreshed_at = excluded.refreshed_at""",
        (now, first, last),
    )
    return cur.rowcount


def _runs(days: Sequence[date], batch_days: int) -> list[tuple[date, date]]:
    """Consecutive days as [first, last) ranges of at most `batch_days`."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day and (day - runs[-1][0]).days < batch_days:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def _batch_days(conn: psycopg.Connection) -> int:
    [(lamps,)] = _tuples(conn, "SELECT count(*) FROM lamps WHERE state <> 'retired'", {})
    return max(1, min(MAX_BATCH_DAYS, BATCH_LAMP_DAYS // max(int(lamps), 1)))


def _tuples(conn: psycopg.Connection, query: str, params: dict) -> list[tuple]:
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


def refresh_energy_days(conn: psycopg.Connection, first: date, last: date, tz: ZoneInfo) -> int:
    """Aggregate the local days [first, last) again, whatever was done before; returns the rows written."""
    written = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        now = datetime.now(UTC)
        config = store.load_config(conn, now)
        for batch_first, batch_last in _runs(
            [first + timedelta(days=k) for k in range((last - first).days)], _batch_days(conn)
        ):
            written += _aggregate_batch(conn, batch_first, batch_last, tz, config, now)
    return written


def days_to_aggregate(conn: psycopg.Connection, first: date, last: date, tz: ZoneInfo, now: datetime) -> list[date]:
    """Local days of [first, last) with readings that were never aggregated, or not since they settled.

    Days before the first reading or after the last are left out: they have nothing to count.
    """
    [(oldest, newest)] = _tuples(conn, "SELECT min(ts), max(ts) FROM readings", {})
    if oldest is None:
        return []
    first = max(first, oldest.astimezone(tz).date())
    last = min(last, newest.astimezone(tz).date() + timedelta(days=1), now.astimezone(tz).date() + timedelta(days=1))
    if last <= first:
        return []
    done = dict(
        _tuples(
            conn,
            "SELECT day, refreshed_at FROM energy_days WHERE day >= %(first)s AND day < %(last)s",
            {
                "first": first,
                "last": last,
            },
        )
    )
    wanted = []
    for k in range((last - first).days):
        day = first + timedelta(days=k)
        refreshed = done.get(day)
        settled = _midnight(day + timedelta(days=1), tz) + SETTLE
        if refreshed is None or (refreshed < settled and (now >= settled or refreshed < now - STALE)):
            wanted.append(day)
    return wanted


def ensure_energy_days(conn: psycopg.Connection, first: date, last: date, tz: ZoneInfo, now: datetime) -> int:
    """Aggregate the days of [first, last) that need it (see `days_to_aggregate`); returns the rows written."""
    if not days_to_aggregate(conn, first, last, tz, now):
        return 0
    written = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        wanted = days_to_aggregate(conn, first, last, tz, now)  # another request may have done them meanwhile
        if wanted:
            config = store.load_config(conn, now)
            for batch_first, batch_last in _runs(wanted, _batch_days(conn)):
                written += _aggregate_batch(conn, batch_first, batch_last, tz, config, now)
    return written
