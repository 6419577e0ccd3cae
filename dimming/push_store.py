"""The record of pushed plans (table plan_pushes): versions, publishes, answers, status.

The scheduler writes a row per (lamp, version) before publishing it, sets `pushed_at`
and `attempts` once the broker has taken it; the ingester fills in the controller's
answer (`ack_status`, `ack_reason`, `acked_at`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from core.paging import page_clause
from dimming.push import PENDING_FOR, RUNS_OUT_WITHIN, LatestPlan, Points, PushState
from dimming.store import PLANNED_STATES

# Versions older than a lamp's latest applied one are kept this long, for the record.
HISTORY_DAYS = 30


def _points(plan: dict, interned: dict[Points, Points]) -> Points:
    points = tuple((datetime.fromisoformat(p["at"]), int(p["level"])) for p in plan.get("points", []))
    return interned.setdefault(points, points)


def load_latest(conn: psycopg.Connection) -> dict[str, LatestPlan]:
    """Each lamp's most recent version, whatever its state."""
    interned: dict[Points, Points] = {}
    latest: dict[str, LatestPlan] = {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (lamp_id) lamp_id, version, plan, pushed_at, attempts, ack_status IS NOT NULL
               FROM plan_pushes ORDER BY lamp_id, version DESC"""
        )
        for lamp_id, version, plan, pushed_at, attempts, answered in cur:
            if isinstance(plan, (str, bytes)):
                plan = json.loads(plan)
            latest[lamp_id] = LatestPlan(version, _points(plan, interned), pushed_at, attempts, answered)
    return latest


def insert_versions(conn: psycopg.Connection, rows: Iterable[tuple[str, int, bytes]]) -> int:
    """Record new plan versions (lamp_id, version, plan JSON) before they are published."""
    count = 0
    with conn.cursor().copy("COPY plan_pushes (lamp_id, version, plan) FROM STDIN") as copy:
        for lamp_id, version, payload in rows:
            copy.write_row((lamp_id, version, payload.decode()))
            count += 1
    return count


def mark_pushed(conn: psycopg.Connection, keys: Sequence[tuple[str, int]], at: datetime) -> None:
    """The broker took these versions at `at`: stamp pushed_at, count the attempt."""
    if keys:
        conn.execute(
            """UPDATE plan_pushes p SET pushed_at = %s, attempts = p.attempts + 1
               FROM unnest(%s::text[], %s::bigint[]) AS k(lamp_id, version)
               WHERE p.lamp_id = k.lamp_id AND p.version = k.version""",
            (at, [k[0] for k in keys], [k[1] for k in keys]),
        )


def answered(conn: psycopg.Connection, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of these versions the controllers have answered (applied or rejected)."""
    if not keys:
        return set()
    rows = conn.execute(
        """SELECT p.lamp_id, p.version FROM plan_pushes p
           JOIN unnest(%s::text[], %s::bigint[]) AS k(lamp_id, version)
             ON p.lamp_id = k.lamp_id AND p.version = k.version
           WHERE p.ack_status IS NOT NULL""",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(lamp_id, version) for lamp_id, version in rows}


def stored_plans(conn: psycopg.Connection, keys: Sequence[tuple[str, int]]) -> list[tuple[str, int, bytes]]:
    """The recorded JSON of these versions, to publish them again."""
    if not keys:
        return []
    rows = conn.execute(
        """SELECT p.lamp_id, p.version, p.plan::text FROM plan_pushes p
           JOIN unnest(%s::text[], %s::bigint[]) AS k(lamp_id, version)
             ON p.lamp_id = k.lamp_id AND p.version = k.version""",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return [(lamp_id, version, plan.encode()) for lamp_id, version, plan in rows]


def prune_history(conn: psycopg.Connection, keep_days: int = HISTORY_DAYS) -> int:
    """Forget versions older than each lamp's latest applied one, once they are `keep_days` old."""
    cur = conn.execute(
        """DELETE FROM plan_pushes p
           USING (SELECT lamp_id, max(version) AS version FROM plan_pushes
                  WHERE ack_status = 'applied' GROUP BY lamp_id) AS a
           WHERE p.lamp_id = a.lamp_id AND p.version < a.version
             AND p.created_at < now() - make_interval(days => %s)""",
        (keep_days,),
    )
    return cur.rowcount


# --- status -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LampPushStatus:
    lamp_id: str
    name: str
    state: PushState
    version: int | None  # the latest version made for the lamp
    created_at: datetime | None
    pushed_at: datetime | None
    attempts: int
    ack_status: str | None
    ack_reason: str | None
    acked_at: datetime | None
    applied_version: int | None  # the latest version the controller applied
    applied_until: datetime | None  # where that plan ends

    @property
    def detail(self) -> str:
        if self.state is PushState.APPLIED:
            return f"version {self.version} applied"
        if self.state is PushState.PENDING:
            return f"version {self.version} sent {self.attempts} time(s), not answered yet"
        if self.state is PushState.REJECTED:
            return f"version {self.version} rejected: {self.ack_reason or 'no reason given'}"
        if self.version is None:
            return "no plan pushed yet"
        if self.ack_status is None:
            running = f"version {self.applied_version}" if self.applied_version else "no plan (its local default)"
            return f"version {self.version} unanswered since {self.created_at:%Y-%m-%d %H:%M} UTC; runs {running}"
        return f"its plan runs out at {self.applied_until:%Y-%m-%d %H:%M} UTC and was not extended"


# Every scheduled lamp's state from its latest version, computed once (`states` is read
# twice, so the database materializes it) for both the counts and the page; only the page's
# lamps then look up the version they last applied. Two passes over every lamp's plans, and
# a third for the versions applied, cost most of the answer in a city; so did reading where
# each plan ends out of its JSON, which the table now keeps in `plan_ends_at` (0020).
_STATUS_SQL = """
WITH scheduled AS (
    SELECT lamp_id, name FROM lamps
    WHERE state = ANY(%(planned_states)s) AND lat IS NOT NULL AND lon IS NOT NULL
), latest AS (
    SELECT DISTINCT ON (lamp_id) lamp_id, version, created_at, pushed_at, attempts, ack_status, ack_reason, acked_at,
           plan_ends_at AS covers_until
    FROM plan_pushes ORDER BY lamp_id, version DESC
), states AS (
    SELECT s.lamp_id, s.name, l.version, l.created_at, l.pushed_at, coalesce(l.attempts, 0) AS attempts,
           l.ack_status, l.ack_reason, l.acked_at,
           CASE
               WHEN l.lamp_id IS NULL THEN 'stale'
               WHEN l.ack_status = 'rejected' THEN 'rejected'
               WHEN l.ack_status = 'applied' AND l.covers_until >= %(now)s + %(runs_out)s THEN 'applied'
               WHEN l.ack_status = 'applied' THEN 'stale'
               WHEN l.created_at >= %(now)s - %(pending_for)s THEN 'pending'
               ELSE 'stale'
           END AS state
    FROM scheduled s
    LEFT JOIN latest l USING (lamp_id)
), page AS (
    SELECT * FROM states WHERE state = ANY(%(states)s) ORDER BY lamp_id {bounds}
)
SELECT (SELECT coalesce(json_object_agg(state, n), '{{}}')::text
        FROM (SELECT state, count(*) AS n FROM states GROUP BY state) counted) AS counts,
       p.lamp_id, p.name, p.state, p.version, p.created_at, p.pushed_at, p.attempts, p.ack_status, p.ack_reason,
       p.acked_at, a.version AS applied_version, a.covers_until AS applied_until
FROM (SELECT) AS always_one_row
LEFT JOIN (page p LEFT JOIN LATERAL (
    SELECT version, plan_ends_at AS covers_until
    FROM plan_pushes WHERE lamp_id = p.lamp_id AND ack_status = 'applied' ORDER BY version DESC LIMIT 1
) a ON true) ON true
ORDER BY p.lamp_id
"""


@dataclass(frozen=True, slots=True)
class PushStatusPage:
    counts: dict[PushState, int]
    total: int  # lamps in the listed state(s), over all pages
    items: list[LampPushStatus]


def push_status(
    conn: psycopg.Connection,
    now: datetime,
    *,
    states: Sequence[PushState] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> PushStatusPage:
    """Counts of lamps per state, and a page of the lamps in `states` (all states if None), by lamp id."""
    listed = [s.value for s in (states or list(PushState))]
    params = {
        "planned_states": list(PLANNED_STATES),
        "now": now,
        "runs_out": RUNS_OUT_WITHIN,
        "pending_for": PENDING_FOR,
        "states": listed,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_STATUS_SQL.format(bounds=page_clause(limit, offset)), params).fetchall()
    counts = {state: 0 for state in PushState}
    for state, n in json.loads(rows[0]["counts"]).items():
        counts[PushState(state)] = n
    items = [
        LampPushStatus(**({k: v for k, v in row.items() if k != "counts"} | {"state": PushState(row["state"])}))
        for row in rows
        if row["lamp_id"] is not None
    ]
    total = sum(counts[PushState(s)] for s in listed)
    return PushStatusPage(counts, total, items)
