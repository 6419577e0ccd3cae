"""Queries on what the ingester could not store: dead letters, and lamp ids missing from the inventory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.database import DictConnection, one
from core.paging import page_clause

_DEAD_LETTER_FILTER = """
    (%(reason)s::text IS NULL OR reason = %(reason)s)
    AND (%(lamp_id)s::text IS NULL OR lamp_id = %(lamp_id)s)
    AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)
    AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s)
"""


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    reason: str | None = None
    lamp_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def params(self) -> dict[str, Any]:
        return {"reason": self.reason, "lamp_id": self.lamp_id, "since": self.since, "until": self.until}


def count_dead_letters(conn: DictConnection, where: DeadLetterFilter) -> int:
    return one(
        conn.execute("SELECT count(*) AS n FROM dead_letters WHERE " + _DEAD_LETTER_FILTER, where.params()).fetchone()
    )["n"]


def list_dead_letters(
    conn: DictConnection, where: DeadLetterFilter, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Newest first, with the payload as stored (bytes)."""
    return conn.execute(
        f"""SELECT id, received_at, topic, lamp_id, reason, detail, payload FROM dead_letters
            WHERE {_DEAD_LETTER_FILTER}
            ORDER BY received_at DESC, id DESC {page_clause(limit, offset)}""",
        where.params(),
    ).fetchall()


def count_unknown_lamps(conn: DictConnection, status: str | None) -> int:
    return one(
        conn.execute(
            "SELECT count(*) AS n FROM unknown_lamps WHERE (%(status)s::text IS NULL OR status = %(status)s)",
            {"status": status},
        ).fetchone()
    )["n"]


def list_unknown_lamps(conn: DictConnection, status: str | None, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Pending ones first, then the most recently seen."""
    return conn.execute(
        f"""SELECT lamp_id, first_seen_at, last_seen_at, message_count, last_topic, status FROM unknown_lamps
           WHERE (%(status)s::text IS NULL OR status = %(status)s)
           ORDER BY status <> 'pending', last_seen_at DESC, lamp_id
           {page_clause(limit, offset)}""",
        {"status": status},
    ).fetchall()


def get_unknown_lamp(conn: DictConnection, lamp_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    columns = "lamp_id, first_seen_at, last_seen_at, message_count, last_topic, status"
    query = f"SELECT {columns} FROM unknown_lamps WHERE lamp_id = %s"
    return conn.execute((query + " FOR UPDATE") if for_update else query, (lamp_id,)).fetchone()


def set_unknown_lamp_status(conn: DictConnection, lamp_id: str, status: str) -> dict[str, Any]:
    return one(
        conn.execute(
            """UPDATE unknown_lamps SET status = %s WHERE lamp_id = %s
           RETURNING lamp_id, first_seen_at, last_seen_at, message_count, last_topic, status""",
            (status, lamp_id),
        ).fetchone()
    )
