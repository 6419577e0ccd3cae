"""Writing a parsed inventory into the `lamps` table, in one transaction.

COPY into a temporary table, then one upsert that only touches lamps whose
values changed; lamps missing from the file are never deleted.
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

_COMMISSION_UNKNOWN = """
    UPDATE unknown_lamps AS u SET status = 'commissioned'
    WHERE u.status = 'pending' AND EXISTS (SELECT 1 FROM lamps AS l WHERE l.lamp_id = u.lamp_id)
"""


def _upsert_query(columns: Iterable[str]) -> sql.Composed:
    """The upsert from `inventory_import` into `lamps`; returns one row (inserted, updated).

    Only the given columns are compared and updated on existing lamps; state is
    always part of it, kept when the file leaves it empty.
    """
    given = set(columns)
    updated_columns = [c for c in _UPDATABLE_COLUMNS if c in given] + ["state"]
    copied_columns = [c for c in LAMP_COLUMNS if c != "state"]

    def join(parts: Iterable[sql.Composable]) -> sql.Composed:
        return sql.SQL(", ").join(parts)

    return sql.SQL(
        """
        WITH upserted AS (
            INSERT INTO lamps AS l ({copied_columns}, state)
            SELECT {staged_values}, COALESCE(s.state, existing.state, {default_state})
            FROM inventory_import AS s LEFT JOIN lamps AS existing ON existing.lamp_id = s.lamp_id
            ON CONFLICT (lamp_id) DO UPDATE SET {assignments}, updated_at = now()
            WHERE ROW({old_values}) IS DISTINCT FROM ROW({new_values})
            RETURNING (l.xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
        """
    ).format(
        copied_columns=join(sql.Identifier(c) for c in copied_columns),
        staged_values=join(sql.Identifier("s", c) for c in copied_columns),
        default_state=sql.Literal(DEFAULT_LAMP_STATE),
        assignments=join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updated_columns),
        old_values=join(sql.Identifier("l", c) for c in updated_columns),
        new_values=join(sql.Identifier("excluded", c) for c in updated_columns),
    )


def import_inventory(conn: psycopg.Connection, parsed: ParsedInventory, *, skip_bad: bool = False) -> ImportReport:
    """Upsert the parsed lamps in one transaction and commission pending unknown lamps.

    For each lamp the file lists, every column the file has (in its header, or in
    any feature's properties) is set from the file, an empty cell setting the
    column's default; columns the file lacks are left as they are. An empty state
    keeps an existing lamp's state (a new lamp starts in_service). Unknown columns
    replace `properties` as a whole.

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
        cur.execute(_upsert_query(parsed.columns))
        counts = cur.fetchone()
        assert counts is not None  # an aggregate always returns its one row
        inserted, updated = counts
        cur.execute(_COMMISSION_UNKNOWN)
        commissioned = cur.rowcount
        cur.execute("DROP TABLE inventory_import")

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
