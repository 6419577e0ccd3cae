"""Fleet-wide figures: lamps by state and connection, lamps out, energy, dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from api.database import DictConnection, one
from core.vocabulary import LAMP_STATES


@dataclass(frozen=True, slots=True)
class CalendarPeriods:
    """Today and this month in a time zone, as [start, end) instants."""

    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime


def calendar_periods(at: datetime, time_zone) -> CalendarPeriods:
    """Local day and month around `at` (aware); midnights come from the zone's rules, DST included. Pure."""
    local = at.astimezone(time_zone)
    day = local.date()
    next_day = day + timedelta(days=1)
    first = day.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)

    def midnight(d) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=time_zone)

    return CalendarPeriods(midnight(day), midnight(next_day), midnight(first), midnight(next_first))


def lamps_by_state(conn: DictConnection) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(LAMP_STATES, 0)
    for row in conn.execute("SELECT state, count(*) AS n FROM lamps GROUP BY state"):
        counts[row["state"]] = row["n"]
    return counts


def connectivity_counts(conn: DictConnection) -> dict[str, int]:
    """Lamps not retired by last reported connection; never reported counts as unknown."""
    return one(
        conn.execute(
            """SELECT count(*) FILTER (WHERE online) AS online,
                  count(*) FILTER (WHERE NOT online) AS offline,
                  count(*) FILTER (WHERE online IS NULL) AS unknown
           FROM lamps
           WHERE state <> 'retired'"""
        ).fetchone()
    )


def count_lamps_out(conn: DictConnection) -> int:
    """Lamps not retired that are faulty, or have a lamp_failure event after their last repair."""
    return one(
        conn.execute(
            """SELECT count(*) AS n FROM lamps l
           WHERE l.state <> 'retired'
             AND (l.state = 'faulty'
                  OR EXISTS (SELECT 1 FROM events e
                             WHERE e.lamp_id = l.lamp_id AND e.type = 'lamp_failure'
                               AND e.ts > coalesce((SELECT max(r.ts) FROM events r
                                                    WHERE r.lamp_id = l.lamp_id AND r.type = 'repaired'),
                                                   '-infinity')))"""
        ).fetchone()
    )["n"]


def energy_wh(conn: DictConnection, periods: CalendarPeriods) -> dict[str, float]:
    """Energy used today and this month, Wh: per lamp, its last minus its first cumulative energy_wh
    within the period, summed over lamps.

    Each of the four readings per lamp is one probe of the (lamp_id, ts) key, so the cost
    grows with the number of lamps, not with the month's readings."""
    row = one(
        conn.execute(
            """SELECT coalesce(sum(month_last - month_first), 0)::float8 AS month_wh,
                  coalesce(sum(day_last - day_first), 0)::float8 AS day_wh
           FROM (SELECT
                   (SELECT r.energy_wh FROM readings r
                    WHERE r.lamp_id = l.lamp_id AND r.ts >= %(month_start)s AND r.ts < %(month_end)s
                      AND r.energy_wh IS NOT NULL ORDER BY r.ts LIMIT 1) AS month_first,
                   (SELECT r.energy_wh FROM readings r
                    WHERE r.lamp_id = l.lamp_id AND r.ts >= %(month_start)s AND r.ts < %(month_end)s
                      AND r.energy_wh IS NOT NULL ORDER BY r.ts DESC LIMIT 1) AS month_last,
                   (SELECT r.energy_wh FROM readings r
                    WHERE r.lamp_id = l.lamp_id AND r.ts >= %(day_start)s AND r.ts < %(day_end)s
                      AND r.energy_wh IS NOT NULL ORDER BY r.ts LIMIT 1) AS day_first,
                   (SELECT r.energy_wh FROM readings r
                    WHERE r.lamp_id = l.lamp_id AND r.ts >= %(day_start)s AND r.ts < %(day_end)s
                      AND r.energy_wh IS NOT NULL ORDER BY r.ts DESC LIMIT 1) AS day_last
                 FROM lamps l) per_lamp""",
            {
                "day_start": periods.day_start,
                "day_end": periods.day_end,
                "month_start": periods.month_start,
                "month_end": periods.month_end,
            },
        ).fetchone()
    )
    return {"day_wh": row["day_wh"], "month_wh": row["month_wh"]}


def count_recent_dead_letters(conn: DictConnection, *, hours: int = 24) -> int:
    return one(
        conn.execute(
            "SELECT count(*) AS n FROM dead_letters WHERE received_at > now() - make_interval(hours => %s)", (hours,)
        ).fetchone()
    )["n"]


def dead_letters_by_reason(conn: DictConnection, *, hours: int = 24) -> dict[str, int]:
    rows = conn.execute(
        """SELECT reason, count(*) AS n FROM dead_letters WHERE received_at > now() - make_interval(hours => %s)
           GROUP BY reason ORDER BY reason""",
        (hours,),
    )
    return {row["reason"]: row["n"] for row in rows}


def count_pending_unknown_lamps(conn: DictConnection) -> int:
    return one(conn.execute("SELECT count(*) AS n FROM unknown_lamps WHERE status = 'pending'").fetchone())["n"]


# The newest reading, {recent}ly or at any time: the ts index gives it in one row.
_NEWEST_READING_LAG = """SELECT extract(epoch FROM now() - received_at)::float8 AS lag_s
                         FROM readings {recent} ORDER BY ts DESC LIMIT 1"""
NEWEST_READING_LAG_RECENT = _NEWEST_READING_LAG.format(recent="WHERE ts > now() - interval '1 day'")
_NEWEST_READING_LAG_EVER = _NEWEST_READING_LAG.format(recent="")


def ingest_lag_s(conn: DictConnection) -> float | None:
    """Seconds since the newest reading (by measurement time) arrived; None without readings.
    The database's clock is used on both sides. It is looked for in the last day first, a
    statement planned over that day's chunks alone (every scrape runs it); only when
    nothing arrived for a day does a scrape pay for one planned over every chunk."""
    row = conn.execute(NEWEST_READING_LAG_RECENT).fetchone() or conn.execute(_NEWEST_READING_LAG_EVER).fetchone()
    return row["lag_s"] if row else None


def fleet_map_json(conn: DictConnection, generated_at: str) -> str:
    """Every lamp with coordinates as the JSON of `api.fleet.schemas.FleetMap`, built by the database.

    One pass over the inventory; the rows never become Python objects (a city has
    hundreds of thousands of lamps). Every array is in lamp id order, so item i of each
    is the same lamp. Coordinates are rounded to 6 decimals in float8 (cheaper than
    numeric). `generated_at` is put in as given (RFC 3339 text)."""
    return one(
        conn.execute(
            """SELECT json_build_object(
                    'generated_at', %(generated_at)s::text,
                    'lamps', coalesce(cardinality(ids), 0),
                    'without_position', (SELECT count(*) FROM lamps WHERE lat IS NULL OR lon IS NULL),
                    'states', to_json(%(states)s::text[]),
                    'lamp_id', coalesce(array_to_json(ids), '[]'),
                    'lat', coalesce(array_to_json(lats), '[]'),
                    'lon', coalesce(array_to_json(lons), '[]'),
                    'state', coalesce(array_to_json(states), '[]'),
                    'online', coalesce(array_to_json(online), '[]')
                  )::text AS body
           FROM (SELECT array_agg(l.lamp_id ORDER BY l.lamp_id) AS ids,
                        array_agg(round(l.lat * 1e6) / 1e6 ORDER BY l.lamp_id) AS lats,
                        array_agg(round(l.lon * 1e6) / 1e6 ORDER BY l.lamp_id) AS lons,
                        array_agg(array_position(%(states)s::text[], l.state) - 1 ORDER BY l.lamp_id) AS states,
                        array_agg(l.online ORDER BY l.lamp_id) AS online
                 FROM lamps l
                 WHERE l.lat IS NOT NULL AND l.lon IS NOT NULL) placed""",
            {"generated_at": generated_at, "states": list(LAMP_STATES)},
        ).fetchone()
    )["body"]
