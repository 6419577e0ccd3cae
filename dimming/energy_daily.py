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

When. Never inside a request: the service's background job (dimming.energy_jobs) adds,
every few minutes, the intervals from each lamp's last reading counted (its mark, table
`energy_marks`) through the readings received since (`add_fresh_readings`), counts again
the days of a lamp that got a late reading, and counts yesterday again once it has settled
(`SETTLE` after midnight). `refresh_energy_days` counts a range again on demand (after a
backfill of history). The schedules are taken as they stand when an interval is counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from dimming import store
from dimming.energy import PLACE_DECIMALS, power_fraction
from dimming.resolve import DimmingConfig, Lamp, resolve_plans
from dimming.sun import twilight_times

# Reports that arrive this long after a day is over still count in it.
SETTLE = timedelta(hours=1)
# How far before and after a batch a lamp's neighbouring reading is looked for.
LOOKBACK = timedelta(days=7)
# Lamp-days per statement: bounds the memory of one aggregation.
BATCH_LAMP_DAYS = 400_000
MAX_BATCH_DAYS = 31
# Serialises counts (the background job, a refresh after a backfill).
_LOCK_KEY = 0x454E4552  # "ENER"

# Every reading interval of the lamps in energy_lamp_class over [start, end), with the
# neighbouring readings before and after: a day counted again from scratch.
_RECOUNT_STEPS = """
WITH lamp_set AS (
    SELECT m.lamp_id, m.class_id, l.rated_power_w::float8 AS power_w
    FROM energy_lamp_class m
    JOIN lamps l USING (lamp_id)
    WHERE l.rated_power_w IS NOT NULL
),
series AS (
    SELECT r.lamp_id, r.ts, r.energy_wh
    FROM readings r
    JOIN lamp_set s USING (lamp_id)
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
"""

# The intervals from each lamp's mark through the readings received since (energy_fresh):
# what the background count adds.
_FRESH_STEPS = """
WITH lamp_set AS (
    SELECT m.lamp_id, m.class_id, l.rated_power_w::float8 AS power_w
    FROM energy_lamp_class m
    JOIN lamps l USING (lamp_id)
    WHERE l.rated_power_w IS NOT NULL
),
series AS (
    SELECT lamp_id, ts, energy_wh FROM energy_fresh
    UNION ALL
    SELECT m.lamp_id, m.ts, m.energy_wh FROM energy_marks m JOIN lamp_set s USING (lamp_id)
),
"""

# Values each interval (a, b] of `series` against the curves and adds it to its days' rows.
_ADD_INTERVALS = """
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
INSERT INTO energy_daily AS e (lamp_id, day, measured_s, measured_wh, full_wh, planned_wh)
SELECT lamp_id, %(first_day)s::date + day_no - 1, sum(span_s), sum(wh),
       sum(power_w * (night_cum[kq] + night_rate[kq] * extract(epoch FROM q - at[kq])::float8
                      - night_cum[kp] - night_rate[kp] * extract(epoch FROM p - at[kp])::float8)) / 3600.0,
       sum(power_w * (plan_cum[kq] + plan_rate[kq] * extract(epoch FROM q - at[kq])::float8
                      - plan_cum[kp] - plan_rate[kp] * extract(epoch FROM p - at[kp])::float8)) / 3600.0
FROM valued
GROUP BY lamp_id, day_no
ON CONFLICT (day, lamp_id) DO UPDATE SET
    measured_s = e.measured_s + excluded.measured_s,
    measured_wh = e.measured_wh + excluded.measured_wh,
    full_wh = e.full_wh + excluded.full_wh,
    planned_wh = e.planned_wh + excluded.planned_wh
"""

RECOUNT = _RECOUNT_STEPS + _ADD_INTERVALS
ADD_FRESH = _FRESH_STEPS + _ADD_INTERVALS


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


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


@contextmanager
def counting_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """One count at a time (a session lock), and all of it in one snapshot of the readings.

    One snapshot, so that the intervals counted and the marks moved past them are the same
    readings. `conn` must have no transaction open.
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("counting needs a connection with no transaction open")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    if not conn.autocommit:
        conn.commit()
    previous = conn.isolation_level
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            yield
    finally:
        if conn.info.transaction_status == TransactionStatus.INERROR:
            conn.rollback()
        conn.isolation_level = previous
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            if not conn.autocommit:
                conn.commit()


def _load_classes(
    conn: psycopg.Connection, config: DimmingConfig, lamps: list[Lamp], start: datetime, end: datetime, tz: ZoneInfo
) -> None:
    """The temporary tables energy_curve and energy_lamp_class for `lamps` over [start, end)."""
    curves, classes = lamp_curves(config, lamps, start, end, tz)
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


def _add(conn: psycopg.Connection, statement: str, first: date, last: date, tz: ZoneInfo) -> int:
    """Run RECOUNT or ADD_FRESH over the local days [first, last); returns the day rows written."""
    days = (last - first).days
    midnights = [midnight(first + timedelta(days=k), tz) for k in range(days + 1)]
    params = {
        "start": midnights[0],
        "end": midnights[-1],
        "lookback": LOOKBACK,
        "midnights": midnights,
        "days": days,
        "first_day": first,
    }
    written = conn.execute(statement, params).rowcount
    conn.execute("DROP TABLE energy_curve, energy_lamp_class")
    return written


def _count_batch(
    conn: psycopg.Connection,
    first: date,
    last: date,
    tz: ZoneInfo,
    config: DimmingConfig,
    now: datetime,
    lamp_ids: frozenset[str] | None,
) -> int:
    """(Re)write energy_daily for the local days [first, last), of every lamp or of `lamp_ids`."""
    start, end = midnight(first, tz), midnight(last, tz)
    lamps = [lamp for lamp in store.load_lamps(conn) if lamp_ids is None or lamp.lamp_id in lamp_ids]
    conn.execute(
        """DELETE FROM energy_daily WHERE day >= %s AND day < %s
           AND (%s::text[] IS NULL OR lamp_id = ANY(%s::text[]))""",
        (first, last, _ids(lamp_ids), _ids(lamp_ids)),
    )
    _load_classes(conn, config, lamps, start, end, tz)
    written = _add(conn, RECOUNT, first, last, tz)
    if lamp_ids is None:
        conn.execute(
            """INSERT INTO energy_days (day, refreshed_at)
               SELECT d::date, %s FROM generate_series(%s::date, %s::date - 1, interval '1 day') AS d
               ON CONFLICT (day) DO UPDATE SET refreshed_at = excluded.refreshed_at""",
            (now, first, last),
        )
    return written


def _ids(lamp_ids: frozenset[str] | None) -> list[str] | None:
    return None if lamp_ids is None else sorted(lamp_ids)


def _runs(days: Sequence[date], batch_days: int) -> list[tuple[date, date]]:
    """Consecutive days as [first, last) ranges of at most `batch_days`."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day and (day - runs[-1][0]).days < batch_days:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def _batch_days(conn: psycopg.Connection, lamp_ids: frozenset[str] | None) -> int:
    if lamp_ids is None:
        [(lamps,)] = _tuples(conn, "SELECT count(*) FROM lamps WHERE state <> 'retired'", {})
    else:
        lamps = len(lamp_ids)
    return max(1, min(MAX_BATCH_DAYS, BATCH_LAMP_DAYS // max(int(lamps), 1)))


def _tuples(conn: psycopg.Connection, query: str, params: dict | Sequence) -> list[tuple]:
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


# Lamps (of those asked) whose count stopped before `end` although a reading follows it: the
# recount valued the interval across `end` up to it, so their later days are counted too.
_BEHIND = """
SELECT l.lamp_id FROM lamps l
LEFT JOIN energy_marks m USING (lamp_id)
WHERE (%(lamps)s::text[] IS NULL OR l.lamp_id = ANY(%(lamps)s::text[]))
  AND (m.ts IS NULL OR m.ts < %(end)s)
  AND EXISTS (SELECT 1 FROM readings r WHERE r.lamp_id = l.lamp_id AND r.ts >= %(end)s
              AND r.ts < %(end)s + %(lookback)s AND r.energy_wh IS NOT NULL)
"""

# Their marks move to their last reading counted.
_MOVE_MARKS = """
INSERT INTO energy_marks (lamp_id, ts, energy_wh)
SELECT l.lamp_id, r.ts, r.energy_wh
FROM lamps l
LEFT JOIN energy_marks m USING (lamp_id)
CROSS JOIN LATERAL (
    SELECT r.ts, r.energy_wh FROM readings r
    WHERE r.lamp_id = l.lamp_id AND r.ts < %(end)s AND r.ts >= %(start)s - %(lookback)s AND r.energy_wh IS NOT NULL
    ORDER BY r.ts DESC LIMIT 1
) r
WHERE (%(lamps)s::text[] IS NULL OR l.lamp_id = ANY(%(lamps)s::text[]))
  AND (m.ts IS NULL OR m.ts < %(end)s)
ON CONFLICT (lamp_id) DO UPDATE SET ts = excluded.ts, energy_wh = excluded.energy_wh
"""


def count_days(
    conn: psycopg.Connection,
    first: date,
    last: date,
    tz: ZoneInfo,
    *,
    now: datetime,
    config: DimmingConfig,
    lamp_ids: frozenset[str] | None = None,
) -> int:
    """Count the local days [first, last) again for every lamp (or `lamp_ids`); returns the rows written.

    Afterwards each lamp's mark is at or after its last reading counted, so the background
    count goes on from there; a lamp counted only up to `last` that has later readings is
    counted on to today. Inside `counting_transaction`.
    """
    if last <= first:
        return 0
    written = 0
    for batch_first, batch_last in _runs(
        [first + timedelta(days=k) for k in range((last - first).days)], _batch_days(conn, lamp_ids)
    ):
        written += _count_batch(conn, batch_first, batch_last, tz, config, now, lamp_ids)
    start, end = midnight(first, tz), midnight(last, tz)
    params = {"lamps": _ids(lamp_ids), "start": start, "end": end, "lookback": LOOKBACK}
    tomorrow = local_day(now, tz) + timedelta(days=1)
    behind = frozenset(lamp for (lamp,) in _tuples(conn, _BEHIND, params)) if last < tomorrow else frozenset()
    conn.execute(_MOVE_MARKS, params)
    if behind:
        written += count_days(conn, last, tomorrow, tz, now=now, config=config, lamp_ids=behind)
    return written


def add_fresh_readings(
    conn: psycopg.Connection, since: datetime, tz: ZoneInfo, *, now: datetime, config: DimmingConfig
) -> int:
    """Add the intervals from each lamp's mark through its readings received since `since`, and move the marks.

    Only readings after a lamp's mark are added (older ones are late: see dimming.energy_jobs).
    Inside `counting_transaction`; returns the day rows written.
    """
    conn.execute(
        """CREATE TEMP TABLE energy_fresh ON COMMIT DROP AS
           SELECT r.lamp_id, r.ts, r.energy_wh FROM readings r JOIN energy_marks m USING (lamp_id)
           WHERE r.received_at >= %s AND r.ts > m.ts AND r.energy_wh IS NOT NULL""",
        (since,),
    )
    [(oldest_mark, newest)] = _tuples(
        conn,
        """SELECT (SELECT min(m.ts) FROM energy_marks m WHERE m.lamp_id IN (SELECT lamp_id FROM energy_fresh)),
                  (SELECT max(ts) FROM energy_fresh)""",
        (),
    )
    written = 0
    if newest is not None:
        # Intervals from marks older than LOOKBACK count from then on, as a recount would.
        first = local_day(max(oldest_mark, now - LOOKBACK), tz)
        last = local_day(newest, tz) + timedelta(days=1)
        fresh = {lamp for (lamp,) in _tuples(conn, "SELECT DISTINCT lamp_id FROM energy_fresh", ())}
        lamps = [lamp for lamp in store.load_lamps(conn) if lamp.lamp_id in fresh]
        _load_classes(conn, config, lamps, midnight(first, tz), midnight(last, tz), tz)
        written = _add(conn, ADD_FRESH, first, last, tz)
        conn.execute(
            """UPDATE energy_marks m SET ts = f.ts, energy_wh = f.energy_wh
               FROM (SELECT DISTINCT ON (lamp_id) lamp_id, ts, energy_wh FROM energy_fresh
                     ORDER BY lamp_id, ts DESC) f
               WHERE m.lamp_id = f.lamp_id"""
        )
    conn.execute("DROP TABLE energy_fresh")
    return written


def refresh_energy_days(conn: psycopg.Connection, first: date, last: date, tz: ZoneInfo) -> int:
    """Count the local days [first, last) again, whatever was done before (after history was written).

    `conn` must have no transaction open; returns the rows written.
    """
    with counting_transaction(conn):
        now = datetime.now(UTC)
        return count_days(conn, first, last, tz, now=now, config=store.load_config(conn, now))
