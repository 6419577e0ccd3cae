"""Queries on work orders: list, look up, create, change, close, and the candidates of a day's round."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.database import DictConnection, one
from core.paging import page_clause

ACTIVE_STATUSES = ("open", "scheduled")

# A work order with its lamp, the prediction it came from, and the lamp's newest score.
_FROM = """
    FROM work_orders w
    JOIN lamps l ON l.lamp_id = w.lamp_id
    LEFT JOIN lamp_predictions p ON p.lamp_id = w.lamp_id AND p.scored_at = w.prediction_scored_at
    LEFT JOIN LATERAL (
        SELECT lp.probability FROM lamp_predictions lp WHERE lp.lamp_id = w.lamp_id
        ORDER BY lp.scored_at DESC LIMIT 1
    ) latest ON true
"""
_COLUMNS = """w.id, w.lamp_id, l.name AS lamp_name, l.street, l.address, l.circuit, l.group_name, l.lat, l.lon,
              l.state AS lamp_state, w.source, w.prediction_scored_at, p.probability AS prediction_probability,
              coalesce(p.reasons, '[]'::jsonb) AS reasons, w.fault_event_ts, w.fault_event_type,
              latest.probability AS latest_probability, w.status, w.scheduled_for, w.outcome, w.failure_found,
              w.notes, w.created_by, w.created_at, w.updated_at, w.closed_at, w.closed_by"""

_FILTER = """
    (%(statuses)s::text[] IS NULL OR w.status = ANY(%(statuses)s))
    AND (%(lamp_id)s::text IS NULL OR w.lamp_id = %(lamp_id)s)
    AND (%(street)s::text IS NULL OR l.street = %(street)s)
    AND (%(group_name)s::text IS NULL OR l.group_name = %(group_name)s)
"""


@dataclass(frozen=True, slots=True)
class WorkOrderFilter:
    statuses: Sequence[str] | None = None
    lamp_id: str | None = None
    street: str | None = None
    group_name: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "statuses": list(self.statuses) if self.statuses else None,
            "lamp_id": self.lamp_id,
            "street": self.street,
            "group_name": self.group_name,
        }


def count_work_orders(conn: DictConnection, where: WorkOrderFilter) -> int:
    return one(
        conn.execute(
            "SELECT count(*) AS n FROM work_orders w JOIN lamps l ON l.lamp_id = w.lamp_id WHERE " + _FILTER,
            where.params(),
        ).fetchone()
    )["n"]


def list_work_orders(conn: DictConnection, where: WorkOrderFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Newest first."""
    return conn.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE {_FILTER} ORDER BY w.created_at DESC, w.id DESC {page_clause(limit, offset)}",
        where.params(),
    ).fetchall()


def get_work_order(conn: DictConnection, work_order_id: int) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {_COLUMNS} {_FROM} WHERE w.id = %s", (work_order_id,)).fetchone()


def lock_work_order(conn: DictConnection, work_order_id: int) -> dict[str, Any] | None:
    """The work order's own row, locked until the transaction ends."""
    return conn.execute("SELECT * FROM work_orders WHERE id = %s FOR UPDATE", (work_order_id,)).fetchone()


def open_work_order_id(conn: DictConnection, lamp_id: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM work_orders WHERE lamp_id = %s AND status = ANY(%s)", (lamp_id, list(ACTIVE_STATUSES))
    ).fetchone()
    return row["id"] if row else None


def insert_work_order(conn: DictConnection, values: dict[str, Any]) -> int:
    return one(
        conn.execute(
            """INSERT INTO work_orders (lamp_id, source, prediction_scored_at, fault_event_ts, fault_event_type, status,
                                    scheduled_for, notes, created_by)
           VALUES (%(lamp_id)s, %(source)s, %(prediction_scored_at)s, %(fault_event_ts)s, %(fault_event_type)s,
                   %(status)s, %(scheduled_for)s, %(notes)s, %(created_by)s)
           RETURNING id""",
            values,
        ).fetchone()
    )["id"]


def update_work_order(
    conn: DictConnection, work_order_id: int, *, status: str, scheduled_for: date | None, notes: str
) -> None:
    conn.execute(
        """UPDATE work_orders SET status = %s, scheduled_for = %s, notes = %s, updated_at = now() WHERE id = %s""",
        (status, scheduled_for, notes, work_order_id),
    )


def close_work_order(
    conn: DictConnection,
    work_order_id: int,
    *,
    outcome: str,
    failure_found: bool,
    notes: str,
    closed_at: datetime,
    closed_by: str,
) -> None:
    conn.execute(
        """UPDATE work_orders SET status = 'done', outcome = %s, failure_found = %s, notes = %s, closed_at = %s,
                  closed_by = %s, updated_at = %s
           WHERE id = %s""",
        (outcome, failure_found, notes, closed_at, closed_by, closed_at, work_order_id),
    )


def cancel_work_order(
    conn: DictConnection, work_order_id: int, *, notes: str, closed_at: datetime, closed_by: str
) -> None:
    conn.execute(
        """UPDATE work_orders SET status = 'cancelled', notes = %s, closed_at = %s, closed_by = %s, updated_at = %s
           WHERE id = %s""",
        (notes, closed_at, closed_by, closed_at, work_order_id),
    )


def event_exists(conn: DictConnection, lamp_id: str, ts: datetime, type: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM events WHERE lamp_id = %s AND ts = %s AND type = %s", (lamp_id, ts, type)
        ).fetchone()
        is not None
    )


def round_candidates(conn: DictConnection, day: date) -> list[dict[str, Any]]:
    """Work orders that may be visited on `day`, most urgent first: those scheduled for that day, then
    the others not closed (open, or scheduled for an earlier day and not done yet): faults (the lamp is
    out) before predictions, then by the lamp's newest score, then oldest first. (The circuits at risk of a
    supply loss join them in api/maintenance/round/plan.py.)"""
    return conn.execute(
        f"""SELECT {_COLUMNS}, (w.status = 'scheduled' AND w.scheduled_for = %(day)s) AS due
            {_FROM}
            WHERE w.status IN ('open', 'scheduled') AND (w.scheduled_for IS NULL OR w.scheduled_for <= %(day)s)
            ORDER BY due DESC, (w.source = 'fault') DESC, latest.probability DESC NULLS LAST, w.created_at, w.id""",
        {"day": day},
    ).fetchall()
