"""Writing a parsed inventory into the `lamps` table, in one transaction.

COPY into a temporary table, then set-based statements that rewrite only lamps whose
values changed and propose only new lamps for insertion, so that an unchanged
re-import writes nothing; lamps missing from the file are never deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from core.inventory.records import LAMP_COLUMNS, InventoryRejected, LampRecord, ParsedInventory, RowError
from core.vocabulary import DEFAULT_LAMP_STATE


@dataclass(frozen=True, slots=True)
class ImportReport:
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[RowError]
    commissioned: int = 0  # unknown lamps (status pending) now in the inventory


# Columns the upsert may change on an existing lamp (lamp_id is the key; state is separate).
_UPDATABLE_COLUMNS = tuple(c for c in LAMP_COLUMNS if c not in ("lamp_id", "state"))
_INSERTED_COLUMNS = tuple(c for c in LAMP_COLUMNS if c != "state")

_CREATE_STAGING = """
    CREATE TEMPORARY TABLE inventory_import (
        lamp_id        text NOT NULL,
        name           text NOT NULL,
        lat            double precision,
        lon            double precision,
        street         text NOT NULL,
        address        text NOT NULL,
        circuit        text NOT NULL,
        group_name     text NOT NULL,
        lighting_class text NOT NULL,
        model          text NOT NULL,
        technology     text NOT NULL,
        rated_power_w  real,
        install_date   date,
        state          text,
        properties     jsonb NOT NULL
    )
"""

_COPY_STAGING = sql.SQL("COPY inventory_import ({}) FROM STDIN").format(
    sql.SQL(", ").join(map(sql.Identifier, LAMP_COLUMNS))
)

# Set apart before the update, so that a lamp created meanwhile by someone else is either
# updated or proposed for insertion (and then conflicts), never neither.
_STAGE_NEW_LAMPS = """
    CREATE TEMPORARY TABLE inventory_new AS
    SELECT * FROM inventory_import AS s WHERE NOT EXISTS (SELECT 1 FROM lamps AS l WHERE l.lamp_id = s.lamp_id)
"""

_COMMISSION_UNKNOWN = """
    UPDATE unknown_lamps AS u SET status = 'commissioned'
    WHERE u.status = 'pending' AND EXISTS (SELECT 1 FROM lamps AS l WHERE l.lamp_id = u.lamp_id)
"""


def _join(parts: Iterable[sql.Composable]) -> sql.Composed:
    return sql.SQL(", ").join(parts)


def _compared_columns(columns: Iterable[str]) -> list[str]:
    """The columns an import sets on existing lamps: those the file has, and state."""
    given = set(columns)
    return [c for c in _UPDATABLE_COLUMNS if c in given] + ["state"]


def _update_query(columns: Iterable[str]) -> sql.Composed:
    """Existing lamps whose given columns differ from the file's, rewritten; the rest untouched.

    State is kept when the file leaves it empty.
    """
    compared = _compared_columns(columns)

    def staged(column: str) -> sql.Composable:
        if column == "state":
            return sql.SQL("COALESCE(s.state, l.state)")
        return sql.Identifier("s", column)

    return sql.SQL(
        """
        UPDATE lamps AS l SET ({columns}) = ROW({staged_values}), updated_at = now()
        FROM inventory_import AS s
        WHERE l.lamp_id = s.lamp_id AND ROW({old_values}) IS DISTINCT FROM ROW({staged_values})
        """
    ).format(
        columns=_join(sql.Identifier(c) for c in compared),
        staged_values=_join(staged(c) for c in compared),
        old_values=_join(sql.Identifier("l", c) for c in compared),
    )


def _insert_query(columns: Iterable[str]) -> sql.Composed:
    """The lamps new at the start inserted; returns one row (inserted, updated).

    A lamp created by someone else since then conflicts and is updated like an existing one.
    """
    compared = _compared_columns(columns)
    return sql.SQL(
        """
        WITH upserted AS (
            INSERT INTO lamps AS l ({inserted_columns}, state)
            SELECT {staged_values}, COALESCE(s.state, {default_state}) FROM inventory_new AS s
            ON CONFLICT (lamp_id) DO UPDATE SET ({columns}) = ROW({new_values}), updated_at = now()
            WHERE ROW({old_values}) IS DISTINCT FROM ROW({new_values})
            RETURNING (l.xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
        """
    ).format(
        inserted_columns=_join(sql.Identifier(c) for c in _INSERTED_COLUMNS),
        staged_values=_join(sql.Identifier("s", c) for c in _INSERTED_COLUMNS),
        default_state=sql.Literal(DEFAULT_LAMP_STATE),
        columns=_join(sql.Identifier(c) for c in compared),
        new_values=_join(sql.Identifier("excluded", c) for c in compared),
        old_values=_join(sql.Identifier("l", c) for c in compared),
    )


def import_inventory(conn: psycopg.Connection, parsed: ParsedInventory, *, skip_bad: bool = False) -> ImportReport:
    """Upsert the parsed lamps in one transaction and commission pending unknown lamps.

    For each lamp the file lists, every column the file has (in its header, or in
    any feature's properties) is set from the file, an empty cell setting the
    column's default; columns the file lacks are left as they are. An empty state
    keeps an existing lamp's state (a new lamp starts in_service). Unknown columns
    replace `properties` as a whole. A lamp whose values are unchanged is not written.

    Raises InventoryRejected (importing nothing) when the file has bad rows and
    skip_bad is false. The transaction commits on return, unless the caller
    already had one open on `conn` (then it is a savepoint in the caller's).
    """
    if parsed.errors and not skip_bad:
        raise InventoryRejected(parsed.errors)
    lamp_ids = [record.lamp_id for record in parsed.records]
    if len(set(lamp_ids)) != len(lamp_ids):
        raise ValueError("parsed inventory lists a lamp_id twice; parse_inventory reports duplicates as errors")

    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_CREATE_STAGING)
        with cur.copy(_COPY_STAGING) as copy:
            for record in parsed.records:
                copy.write_row(_staging_row(record))
        cur.execute("ANALYZE inventory_import")  # temporary tables are never auto-analysed
        # Only new lamps are proposed to INSERT: an existing one would fire the creation
        # trigger and be locked even when nothing changes.
        cur.execute(_STAGE_NEW_LAMPS)
        cur.execute(_update_query(parsed.columns))
        updated = cur.rowcount
        cur.execute(_insert_query(parsed.columns))
        counts = cur.fetchone()
        assert counts is not None  # an aggregate always returns its one row
        inserted, updated_since = counts
        cur.execute(_COMMISSION_UNKNOWN)
        commissioned = cur.rowcount
        cur.execute("DROP TABLE inventory_import, inventory_new")

    updated += updated_since
    return ImportReport(
        inserted=inserted,
        updated=updated,
        unchanged=len(parsed.records) - inserted - updated,
        skipped=parsed.bad_rows,
        errors=list(parsed.errors),
        commissioned=commissioned,
    )


def _staging_row(record: LampRecord) -> tuple[Any, ...]:
    return (
        record.lamp_id,
        record.name,
        record.lat,
        record.lon,
        record.street,
        record.address,
        record.circuit,
        record.group_name,
        record.lighting_class,
        record.model,
        record.technology,
        record.rated_power_w,
        record.install_date,
        record.state,
        json.dumps(record.properties, ensure_ascii=False, sort_keys=True),
    )
