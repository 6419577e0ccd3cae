"""The energy count in the service's background work: `energy_daily` kept up to date, never inside a request.

Every `INTERVAL` the job, in one snapshot of the readings:

1. on its first run ever, counts yesterday and today for every lamp (a history before
   that is counted by `dimming.refresh_energy_days`, which a backfill calls);
2. counts again, from the day of the interval it falls into, the days of each lamp that
   got a late reading (one received since the last run, older than the lamp's mark), and
   of each lamp counted for the first time;
3. adds the intervals from each lamp's mark through the readings received since the last
   run (dimming.energy_daily.add_fresh_readings);
4. once yesterday has settled (`SETTLE` after midnight), counts it again for every lamp:
   the final figures, with the schedules as they ended the day.

"Received since the last run" reaches `MARGIN` further back, for readings whose writing
transaction had not committed when the last run looked. A reading seen twice is counted
once: it is either after its lamp's mark (not yet counted) or recounted from scratch.
Every replica of the service schedules the job, and one runs it at a time (an advisory
lock); no error leaves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from psycopg.rows import tuple_row

from core import db
from core.settings import Settings
from dimming import store
from dimming.energy_daily import (
    LOOKBACK,
    SETTLE,
    add_fresh_readings,
    count_days,
    counting_transaction,
    local_day,
    midnight,
)
from dimming.resolve import DimmingConfig

log = logging.getLogger(__name__)

INTERVAL = timedelta(minutes=5)
MARGIN = timedelta(minutes=2)
LOCK_NAME = "energy-count"

# Lamps with a reading received since the last run that is older than their mark, with the
# start of the interval it falls into (their previous reading, if any).
_LATE = """
SELECT late.lamp_id, coalesce(before.ts, late.ts)
FROM (
    SELECT r.lamp_id, min(r.ts) AS ts
    FROM readings r JOIN energy_marks m USING (lamp_id)
    WHERE r.received_at >= %(since)s AND r.ts < m.ts AND r.energy_wh IS NOT NULL
    GROUP BY r.lamp_id
) late
LEFT JOIN LATERAL (
    SELECT max(r.ts) AS ts FROM readings r
    WHERE r.lamp_id = late.lamp_id AND r.ts < late.ts AND r.ts >= late.ts - %(lookback)s AND r.energy_wh IS NOT NULL
) before ON true
"""

# Lamps of the inventory with a reading received since the last run and no mark yet.
_UNMARKED = """
SELECT DISTINCT r.lamp_id
FROM readings r
JOIN lamps l USING (lamp_id)
WHERE r.received_at >= %(since)s AND r.energy_wh IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM energy_marks m WHERE m.lamp_id = r.lamp_id)
"""


@dataclass(frozen=True, slots=True)
class CountOutcome:
    counted_at: datetime | None = None
    rows: int = 0  # lamp-day rows written
    recounted_lamps: int = 0  # lamps with a late reading or counted for the first time
    finalised: date | None = None  # the day counted again once settled
    first_run: bool = False
    skipped: str | None = None
    error: str | None = None


def schedule(scheduler: BaseScheduler, settings: Settings, database_url: str) -> None:
    """Add the energy count to the service's scheduler: soon after the start, then every INTERVAL."""
    scheduler.add_job(
        energy_count_job,
        "interval",
        seconds=INTERVAL.total_seconds(),
        next_run_time=datetime.now(UTC) + timedelta(seconds=30),
        args=[settings, database_url],
        id="energy-count",
        coalesce=True,
        max_instances=1,
    )


def energy_count_job(settings: Settings, database_url: str) -> None:
    outcome = run_energy_count(database_url, ZoneInfo(settings.town_timezone))
    if outcome.error:
        log.error("energy count failed: %s; it runs again in %s", outcome.error, INTERVAL)
    elif outcome.skipped:
        log.info("energy count skipped: %s", outcome.skipped)
    else:
        log.info(
            "energy count: %d lamp-day rows written, %d lamps counted again%s",
            outcome.rows,
            outcome.recounted_lamps,
            f", {outcome.finalised} final" if outcome.finalised else "",
        )


def run_energy_count(database_url: str, tz: ZoneInfo, *, now: datetime | None = None) -> CountOutcome:
    """One run of the job, once across the service's replicas. Never raises."""
    try:
        with db.connect(database_url) as conn, db.job_lock(conn, LOCK_NAME) as taken:
            if not taken:
                return CountOutcome(skipped="another replica is counting")
            return count_energy(conn, tz, now=now)
    except Exception as exc:
        log.exception("energy count failed")
        return CountOutcome(error=f"{type(exc).__name__}: {exc}")


def count_energy(conn: psycopg.Connection, tz: ZoneInfo, *, now: datetime | None = None) -> CountOutcome:
    """Bring energy_daily up to date (see the module's doc); `conn` has no transaction open.

    `now` is the database's time unless given (tests give it with readings received then).
    """
    with counting_transaction(conn):
        now = now or _one(conn, "SELECT now()", {})
        config = store.load_config(conn, now)
        today = local_day(now, tz)
        tomorrow = today + timedelta(days=1)
        last_run = _one(conn, "SELECT counted_at FROM energy_count_state", {})
        if last_run is None:
            rows = count_days(conn, today - timedelta(days=1), tomorrow, tz, now=now, config=config)
            outcome = CountOutcome(now, rows, first_run=True)
        else:
            outcome = _count_since(conn, last_run - MARGIN, tz, now, config)
        conn.execute(
            """INSERT INTO energy_count_state (counted_at) VALUES (%s)
               ON CONFLICT (singleton) DO UPDATE SET counted_at = excluded.counted_at""",
            (now,),
        )
    return outcome


def _count_since(
    conn: psycopg.Connection, since: datetime, tz: ZoneInfo, now: datetime, config: DimmingConfig
) -> CountOutcome:
    today = local_day(now, tz)
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    params = {"since": since, "lookback": LOOKBACK}
    late = dict(_rows(conn, _LATE, params))
    unmarked = {lamp for (lamp,) in _rows(conn, _UNMARKED, params)}
    rows = 0
    if late or unmarked:
        first = min([local_day(ts, tz) for ts in late.values()] + [yesterday])
        lamps = frozenset(late) | frozenset(unmarked)
        rows += count_days(conn, first, tomorrow, tz, now=now, config=config, lamp_ids=lamps)
    rows += add_fresh_readings(conn, since, tz, now=now, config=config)
    finalised = None
    settled = midnight(today, tz) + SETTLE
    if now >= settled:
        done = _one(conn, "SELECT refreshed_at FROM energy_days WHERE day = %(day)s", {"day": yesterday})
        if done is None or done < settled:
            rows += count_days(conn, yesterday, today, tz, now=now, config=config)
            finalised = yesterday
    return CountOutcome(now, rows, len(late) + len(unmarked), finalised)


def _rows(conn: psycopg.Connection, query: str, params: dict) -> list[tuple]:
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()


def _one(conn: psycopg.Connection, query: str, params: dict):
    found = _rows(conn, query, params)
    return found[0][0] if found else None
