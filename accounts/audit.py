"""The audit log: who changed what, when, from where, with the state before and after.

Every change to accounts and inventory, and every failed login, goes through `record`,
in the same transaction as the change itself, so that a change that is rolled back
leaves no entry and a change that is committed always has one. Never put a secret
(password, hash, token) into `before` or `after`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from core.paging import page_clause

ANONYMOUS = "anonymous"
SYSTEM = "system"  # the command line and the demo


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    client_ip: str | None


def _plain(value: object) -> str:
    # Timestamps in ISO 8601; decimals, UUIDs, enums and the like as their text.
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)


def _json(value: dict | None) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=lambda obj: json.dumps(obj, default=_plain))


def record(
    conn: psycopg.Connection,
    actor: str,
    action: str,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    client_ip: str | None = None,
    *,
    at: datetime | None = None,
) -> int:
    """Add one entry; it commits with the caller's transaction. `at`: now, unless given."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            """INSERT INTO audit_log (actor, action, target, before, after, client_ip, at)
               VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s::timestamptz, now())) RETURNING audit_id""",
            (actor, action, target, _json(before), _json(after), client_ip, at),
        ).fetchone()
    assert row is not None  # INSERT ... RETURNING gives its row
    return row[0]


def list_entries(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AuditEntry]]:
    """Entries matching every given filter, newest first, and how many match in all."""
    filters = {"actor": actor, "action": action, "target": target, "since": since, "until": until}
    where = """(%(actor)s::text IS NULL OR actor = %(actor)s)
               AND (%(action)s::text IS NULL OR action = %(action)s)
               AND (%(target)s::text IS NULL OR target = %(target)s)
               AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
               AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"""
    with conn.cursor(row_factory=dict_row) as cur:
        counted = cur.execute(f"SELECT count(*) AS n FROM audit_log WHERE {where}", filters).fetchone()
        assert counted is not None  # count(*) always gives a row
        total = counted["n"]
        rows = cur.execute(
            f"""SELECT audit_id, at, actor, action, target, before, after, client_ip FROM audit_log
                WHERE {where} ORDER BY at DESC, audit_id DESC {page_clause(limit, offset)}""",
            filters,
        ).fetchall()
    return total, [AuditEntry(**row) for row in rows]
