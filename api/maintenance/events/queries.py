"""Queries on lamp events: failures, repairs and the like, from controllers, the service and technicians."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from api.database import DictConnection, one
from core.paging import page_clause

_COLUMNS = "e.lamp_id, e.ts, e.type, e.detail, e.source, e.received_at"

# An event is open when it is not a repair and comes after the lamp's last repair.
_FILTER = """
    (%(lamp_id)s::text IS NULL OR e.lamp_id = %(lamp_id)s)
    AND (%(types)s::text[] IS NULL OR e.type = ANY(%(types)s))
    AND (%(since)s::timestamptz IS NULL OR e.ts >= %(since)s)
    AND (%(until)s::timestamptz IS NULL OR e.ts < %(until)s)
    AND (NOT %(open_only)s
         OR (e.type <> 'repaired'
             AND e.ts > coalesce((SELECT max(r.ts) FROM events r WHERE r.lamp_id = e.lamp_id AND r.type = 'repaired'),
                                 '-infinity')))
"""

# What an event does to the lamp's inventory state: (states it applies to, new state).
# The ingester applies the same rule to events reported by controllers.
STATE_CHANGES = {
    "lamp_failure": (("in_service",), "faulty"),
    "repaired": (("faulty", "under_repair"), "in_service"),
}


@dataclass(frozen=True, slots=True)
class EventFilter:
    lamp_id: str | None = None
    types: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    open_only: bool = False

    def params(self) -> dict[str, Any]:
        return {
            "lamp_id": self.lamp_id,
            "types": self.types or None,
            "since": self.since,
            "until": self.until,
            "open_only": self.open_only,
        }


def count_events(conn: DictConnection, where: EventFilter) -> int:
    return one(conn.execute("SELECT count(*) AS n FROM events e WHERE " + _FILTER, where.params()).fetchone())["n"]


def list_events(conn: DictConnection, where: EventFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_COLUMNS} FROM events e WHERE {_FILTER}"
        f" ORDER BY e.ts DESC, e.lamp_id, e.type {page_clause(limit, offset)}",
        where.params(),
    ).fetchall()


def insert_event(
    conn: DictConnection, lamp_id: str, ts: datetime, type: str, detail: Any, *, source: str
) -> dict[str, Any] | None:
    """Store an event; None when the lamp already has one of that type at that instant."""
    return conn.execute(
        """INSERT INTO events (lamp_id, ts, type, detail, source) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (lamp_id, ts, type) DO NOTHING
           RETURNING lamp_id, ts, type, detail, source, received_at""",
        (lamp_id, ts, type, None if detail is None else Jsonb(detail), source),
    ).fetchone()


def apply_event_to_state(conn: DictConnection, lamp_id: str, type: str) -> str | None:
    """Change the lamp's state as the event implies; the new state, or None when it did not change."""
    rule = STATE_CHANGES.get(type)
    if rule is None:
        return None
    from_states, to_state = rule
    row = conn.execute(
        """UPDATE lamps SET state = %s, updated_at = now()
           WHERE lamp_id = %s AND state = ANY(%s) RETURNING state""",
        (to_state, lamp_id, list(from_states)),
    ).fetchone()
    return row["state"] if row else None
