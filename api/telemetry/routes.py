"""Telemetry over a time range, for one lamp or for the lamps of a group or circuit (any role).

Aggregation happens in the database (avg/min/max per ``date_bin`` bucket); raw
readings are only for one lamp and capped. The range is [from, to).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api import problems
from api.database import Database, DictConnection
from api.deps import Db, Reader, SettingsDep
from api.encoding import json_response, json_response_spliced
from api.lamps.queries import lamp_exists
from api.lamps.schemas import LAMP_ID_PATTERN
from api.problems import ProblemException
from api.telemetry import queries as telemetry_queries
from api.telemetry.schemas import Bucket, Telemetry
from core.columns import Text
from core.contract import MEASUREMENT_FIELDS
from core.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["telemetry"], responses=problems.responses(401, 403))

DEFAULT_FIELDS = (
    "voltage_v",
    "current_a",
    "power_w",
    "power_factor",
    "dim_level",
    "driver_temp_c",
)
DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=400)
MAX_RAW_READINGS = 10_000
MAX_BUCKETS = 20_000
BUCKET_WIDTHS = {
    "5min": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}

From = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="Start, included (RFC 3339 with offset). Default: 24 h before `to`.",
    ),
]
To = Annotated[
    datetime | None,
    Query(description="End, excluded (RFC 3339 with offset). Default: now."),
]
BucketParam = Annotated[
    Bucket,
    Query(description="raw (one lamp, at most 10,000 readings), or avg/min/max per 5min, 1h or 1d."),
]
Fields = Annotated[
    str | None,
    Query(
        description="Comma-separated: " + ", ".join(MEASUREMENT_FIELDS) + ". Default: " + ", ".join(DEFAULT_FIELDS),
        examples=["power_w,power_factor"],
    ),
]
_ERRORS = problems.responses(400, 404, 503)


@router.get(
    "/lamps/{lamp_id}/telemetry",
    response_model=Telemetry,
    summary="A lamp's readings, raw or per time bucket",
    responses=_ERRORS,
)
def lamp_telemetry(
    db: Db,
    who: Reader,
    settings: SettingsDep,
    lamp_id: Annotated[str, Path(pattern=LAMP_ID_PATTERN)],
    from_: From = None,
    to: To = None,
    bucket: BucketParam = "1h",
    fields: Fields = None,
) -> Response:
    start, end = time_range(from_, to)
    names = parse_fields(fields)
    with db.connection() as conn:
        return _series(conn, settings, "lamp", lamp_id, [lamp_id], start, end, bucket, names)


@router.get(
    "/groups/{group_name}/telemetry",
    response_model=Telemetry,
    summary="Readings of a group's lamps, per time bucket",
    responses=_ERRORS,
)
def group_telemetry(
    db: Db,
    who: Reader,
    settings: SettingsDep,
    group_name: Text,
    from_: From = None,
    to: To = None,
    bucket: BucketParam = "1h",
    fields: Fields = None,
) -> Response:
    find = telemetry_queries.lamp_ids_in_group
    return _many_lamps(
        db,
        settings,
        "group",
        group_name,
        find,
        f"no lamp in group {group_name}",
        from_,
        to,
        bucket,
        fields,
    )


@router.get(
    "/circuits/{circuit}/telemetry",
    response_model=Telemetry,
    summary="Readings of a circuit's lamps, per time bucket",
    responses=_ERRORS,
)
def circuit_telemetry(
    db: Db,
    who: Reader,
    settings: SettingsDep,
    circuit: Text,
    from_: From = None,
    to: To = None,
    bucket: BucketParam = "1h",
    fields: Fields = None,
) -> Response:
    find = telemetry_queries.lamp_ids_on_circuit
    return _many_lamps(
        db,
        settings,
        "circuit",
        circuit,
        find,
        f"no lamp on circuit {circuit}",
        from_,
        to,
        bucket,
        fields,
    )


def _many_lamps(
    db: Database,
    settings: Settings,
    kind: str,
    name: str,
    find_lamp_ids: Callable[[DictConnection, str], list[str]],
    missing: str,
    from_: datetime | None,
    to: datetime | None,
    bucket: str,
    fields: str | None,
) -> Response:
    """A group's or a circuit's series: the parameters are checked before the lamps are looked up."""
    start, end = time_range(from_, to)
    names = parse_fields(fields)
    _no_raw_for_many(bucket)
    with db.connection() as conn:
        lamp_ids = find_lamp_ids(conn, name)
        if not lamp_ids:
            raise ProblemException(status.HTTP_404_NOT_FOUND, missing)
        return _series(conn, settings, kind, name, lamp_ids, start, end, bucket, names)


# --- parameters (pure) -------------------------------------------------------


def time_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) from the query, with defaults; raises a 422 problem when it is not a valid range."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.utcoffset() is None:
            raise problems.invalid(name, "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z")
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise problems.invalid("from", "from must be before to")
    if end - start > MAX_SPAN:
        raise problems.invalid("from", f"the range may span at most {MAX_SPAN.days} days")
    return start, end


def parse_fields(text: str | None) -> list[str]:
    """Requested field names, in the order given, without repeats; raises a 422 problem on an unknown name."""
    if text is None or not text.strip():
        return list(DEFAULT_FIELDS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MEASUREMENT_FIELDS]
    if unknown:
        raise problems.invalid(
            "fields",
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(MEASUREMENT_FIELDS)}",
        )
    return list(dict.fromkeys(names))


def _no_raw_for_many(bucket: str) -> None:
    if bucket == "raw":
        raise problems.invalid("bucket", "raw readings are for one lamp; use 5min, 1h or 1d")


# --- the series ---------------------------------------------------------------


def _series(
    conn: DictConnection,
    settings: Settings,
    scope: str,
    name: str,
    lamp_ids: list[str],
    start: datetime,
    end: datetime,
    bucket: str,
    fields: list[str],
) -> Response:
    """The answer for `lamp_ids` (of a group or circuit, found; or the one lamp asked for, which may not exist)."""
    head = {
        "scope": scope,
        "name": name,
        "lamp_count": len(lamp_ids),
        "from": start,
        "to": end,
        "bucket": bucket,
        "fields": fields,
    }
    if bucket == "raw":
        if not lamp_exists(conn, lamp_ids[0]):
            raise _no_such_lamp(lamp_ids[0])
        rows = telemetry_queries.raw_readings(conn, lamp_ids[0], start, end, limit=MAX_RAW_READINGS + 1)
        if len(rows) > MAX_RAW_READINGS:
            raise ProblemException(
                status.HTTP_400_BAD_REQUEST,
                f"the range holds more than {MAX_RAW_READINGS:,} readings, the most a raw query returns;"
                " narrow the range or ask for 5min, 1h or 1d buckets",
                type=problems.RANGE_TOO_LARGE,
            )
        head["buckets"] = None
        head["points"] = [{"ts": row["ts"], "values": {f: row[f] for f in fields}} for row in rows]
        return json_response(head)
    width = BUCKET_WIDTHS[bucket]
    if (end - start) / width > MAX_BUCKETS:
        raise ProblemException(
            status.HTTP_400_BAD_REQUEST,
            f"{bucket} buckets over this range would be more than {MAX_BUCKETS:,};"
            " narrow the range or ask for larger buckets",
            type=problems.RANGE_TOO_LARGE,
        )
    # Day buckets follow the town's calendar; shorter ones are binned in UTC.
    zone = settings.town_timezone if bucket == "1d" else "UTC"
    if scope == "lamp":  # one statement tells whether the lamp exists and gives its buckets
        buckets = telemetry_queries.lamp_buckets_json(
            conn, lamp_ids[0], start, end, width=width, time_zone=zone, fields=fields
        )
        if buckets is None:
            raise _no_such_lamp(lamp_ids[0])
    else:
        buckets = telemetry_queries.bucketed_readings_json(
            conn, lamp_ids, start, end, width=width, time_zone=zone, fields=fields
        )
    # The buckets come encoded by the database.
    return json_response_spliced(head | {"buckets": None, "points": None}, "buckets", buckets)


def _no_such_lamp(lamp_id: str) -> ProblemException:
    return ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")
