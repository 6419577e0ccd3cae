"""Readings over a time range: raw for one lamp, or avg/min/max per time bucket computed by the database.

Buckets come from ``date_bin`` (PostgreSQL 14+), so the same query runs on plain
PostgreSQL and on TimescaleDB. Binning is done on local time in a given zone and
converted back: 1-day buckets then start at the town's midnight, also on the days
the clocks change; sub-day buckets are binned in UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import psycopg.rows

from api.database import DictConnection, one
from core.contract import MEASUREMENT_FIELDS

# The measurements the readings table stores in single precision (`real`); the others are
# double precision or whole numbers (tests/api/telemetry/test_telemetry.py checks both against the table).
SINGLE_PRECISION_FIELDS = frozenset(
    {"voltage_v", "current_a", "power_w", "power_factor", "dim_level", "driver_temp_c", "ambient_lux", "rssi_dbm"}
)
# The measurements stored as whole numbers: always finite, and compared with no infinity.
WHOLE_NUMBER_FIELDS = frozenset({"switch_cycles"})


# A single-precision field's statistics stay single precision, so that the answer says what
# was stored (0.973, not 0.9729999899864197: a third fewer bytes in a chart's answer); an
# average of such values has no more significant digits than they have. Non-finite values
# (which the contract refuses, but another writer of the table might not) are left out of
# the statistics, so that they are always a number or null.
def _aggregates(name: str) -> str:
    kind = "float4" if name in SINGLE_PRECISION_FIELDS else "float8"
    finite = (
        "" if name in WHOLE_NUMBER_FIELDS else f"FILTER (WHERE {name} > '-Infinity' AND {name} < 'Infinity')"
    )  # NaN is above every number
    return (
        f"avg({name}) {finite}::{kind} AS {name}__avg, min({name}) {finite}::{kind} AS {name}__min,"
        f" max({name}) {finite}::{kind} AS {name}__max"
    )


# Built once from the contract's column names, never from a request: a query joins the
# fragments of the fields asked for (fewer columns to compute, send and decode).
_AGGREGATES = {name: _aggregates(name) for name in MEASUREMENT_FIELDS}
_RAW_COLUMNS = ", ".join(f"{name}::float8 AS {name}" for name in MEASUREMENT_FIELDS)

# {lamps}: count(DISTINCT r.lamp_id), or 1 for one lamp (a distinct count sorts each bucket).
_BUCKETED = """
SELECT date_bin(%(width)s, r.ts AT TIME ZONE %(time_zone)s, TIMESTAMP '2000-01-01') AT TIME ZONE %(time_zone)s
           AS start,
       count(*) AS readings,
       {lamps} AS lamps,
       {aggregates}
FROM readings r
WHERE r.lamp_id = ANY(%(lamp_ids)s) AND r.ts >= %(start)s AND r.ts < %(end)s
GROUP BY 1
ORDER BY 1
"""

_RAW = f"""
SELECT ts, {_RAW_COLUMNS}
FROM readings
WHERE lamp_id = %(lamp_id)s AND ts >= %(start)s AND ts < %(end)s
ORDER BY ts
LIMIT %(limit)s
"""


# The buckets as the API answers them, written by the database as one JSON array: encoding
# them in Python (a dict per bucket and per field) cost more processor time than the query,
# and json_build_object a third more than this concatenation. Times are RFC 3339 in UTC; a
# field without a (finite) reading in the bucket is null.
_VALUES_JSON = {
    name: (
        f"""'"{name}":{{"avg":' || coalesce(b.{name}__avg::text, 'null') || ',"min":' || """
        f"""coalesce(b.{name}__min::text, 'null') || ',"max":' || coalesce(b.{name}__max::text, 'null') || '}}'"""
    )
    for name in MEASUREMENT_FIELDS
}
_BUCKETS_JSON = """
SELECT '[' || coalesce(string_agg(
           '{{"start":"' || to_char(b.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || '","readings":' || b.readings || ',"lamps":' || b.lamps
           || ',"values":{{' || {values} || '}}}}', ',' ORDER BY b.start), '') || ']'
FROM ({bucketed}) b
"""
# One lamp's: no row when there is no such lamp, so that one statement answers both.
_LAMP_BUCKETS_JSON = "SELECT ({buckets}) FROM lamps WHERE lamp_id = %(lamp_id)s"


def bucketed_readings_json(
    conn: DictConnection,
    lamp_ids: list[str],
    start: datetime,
    end: datetime,
    *,
    width: timedelta,
    time_zone: str,
    fields: list[str] | tuple[str, ...] = MEASUREMENT_FIELDS,
) -> bytes:
    """One object per non-empty bucket in [start, end), in time order, as the JSON array the API
    answers: start, readings, lamps and values {field: {avg, min, max}} for each of `fields`
    (names of the contract's measurements; ValueError for any other)."""
    query = _buckets_json_query(fields, one_lamp=len(lamp_ids) == 1)
    row = one(
        conn.cursor(row_factory=psycopg.rows.tuple_row)
        .execute(query, {"width": width, "time_zone": time_zone, "lamp_ids": lamp_ids, "start": start, "end": end})
        .fetchone()
    )
    return row[0].encode()


def lamp_buckets_json(
    conn: DictConnection,
    lamp_id: str,
    start: datetime,
    end: datetime,
    *,
    width: timedelta,
    time_zone: str,
    fields: list[str] | tuple[str, ...] = MEASUREMENT_FIELDS,
) -> bytes | None:
    """`bucketed_readings_json` of one lamp, or None when there is no such lamp."""
    query = _LAMP_BUCKETS_JSON.format(buckets=_buckets_json_query(fields, one_lamp=True))
    row = (
        conn.cursor(row_factory=psycopg.rows.tuple_row)
        .execute(
            query,
            {
                "width": width,
                "time_zone": time_zone,
                "lamp_id": lamp_id,
                "lamp_ids": [lamp_id],
                "start": start,
                "end": end,
            },
        )
        .fetchone()
    )
    return None if row is None else row[0].encode()


def _buckets_json_query(fields: list[str] | tuple[str, ...], *, one_lamp: bool) -> str:
    fields = _known_fields(fields)
    bucketed = _BUCKETED.format(
        lamps="1" if one_lamp else "count(DISTINCT r.lamp_id)",
        aggregates=",\n       ".join(_AGGREGATES[name] for name in fields),
    )
    return _BUCKETS_JSON.format(values=" || ',' || ".join(_VALUES_JSON[name] for name in fields), bucketed=bucketed)


def _known_fields(fields: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [name for name in fields if name not in _AGGREGATES]
    if unknown or not fields:
        raise ValueError(f"not measurement fields: {unknown or 'none given'}")
    return list(dict.fromkeys(fields))


def raw_readings(
    conn: DictConnection, lamp_id: str, start: datetime, end: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Readings of one lamp in [start, end), oldest first, at most `limit` rows."""
    return conn.execute(_RAW, {"lamp_id": lamp_id, "start": start, "end": end, "limit": limit}).fetchall()


def lamp_ids_in_group(conn: DictConnection, group_name: str) -> list[str]:
    rows = conn.execute("SELECT lamp_id FROM lamps WHERE group_name = %s ORDER BY lamp_id", (group_name,))
    return [row["lamp_id"] for row in rows]


def lamp_ids_on_circuit(conn: DictConnection, circuit: str) -> list[str]:
    rows = conn.execute("SELECT lamp_id FROM lamps WHERE circuit = %s ORDER BY lamp_id", (circuit,))
    return [row["lamp_id"] for row in rows]
