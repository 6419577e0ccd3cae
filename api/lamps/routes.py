"""Lamp inventory endpoints: list and look up (any role), create, change and retire (admin, audited)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import Field

from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Admin, Conn, Db, Reader
from api.encoding import json_response_spliced
from api.lamps import queries as lamp_queries
from api.lamps.schemas import (
    LAMP_ID_PATTERN,
    Connectivity,
    LampCreate,
    LampDetail,
    LampPage,
    LampStatus,
    LampUpdate,
    Reading,
)
from api.maintenance.events.schemas import Event
from api.paging import Offset
from api.problems import ProblemException
from api.vocabulary import LampState
from core.columns import NoNul, Text

router = APIRouter(prefix="/api/v1", tags=["lamps"], responses=problems.responses(401, 403))

LampId = Annotated[str, Path(pattern=LAMP_ID_PATTERN, description="The lamp's id, as its controller uses it.")]
_NUMBER = r"\s*-?\d+(?:\.\d+)?\s*"
_BBOX_RE = re.compile(rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$")


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`min_lon,min_lat,max_lon,max_lat` in degrees (WGS 84). Raises a 422 problem when malformed."""
    if not _BBOX_RE.match(text):
        raise problems.invalid("bbox", "expected min_lon,min_lat,max_lon,max_lat in decimal degrees")
    min_lon, min_lat, max_lon, max_lat = (float(part) for part in text.split(","))
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise problems.invalid("bbox", "need -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90")
    return min_lon, min_lat, max_lon, max_lat


@router.get("/lamps", response_model=LampPage, summary="List lamps, filtered, a page at a time")
def list_lamps(
    db: Db,
    who: Reader,
    state: Annotated[list[LampState] | None, Query(description="Inventory state; repeat for several.")] = None,
    group_name: Annotated[Text | None, Query(description="Exact group name.")] = None,
    circuit: Annotated[Text | None, Query(description="Exact circuit.")] = None,
    street: Annotated[Text | None, Query(description="Exact street name.")] = None,
    connectivity: Annotated[
        Connectivity | None, Query(description="Last reported connection; unknown: never reported.")
    ] = None,
    bbox: Annotated[
        Text | None,
        Query(description="min_lon,min_lat,max_lon,max_lat (WGS 84 degrees).", examples=["2.34,48.85,2.36,48.86"]),
    ] = None,
    q: Annotated[
        Annotated[str, Field(min_length=1, max_length=100), NoNul] | None,
        Query(description="Text found in the id, name, street or address."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Response:
    where = lamp_queries.LampFilter(
        states=state,
        group_name=group_name,
        circuit=circuit,
        street=street,
        connectivity=connectivity,
        bbox=parse_bbox(bbox) if bbox else None,
        text=q,
    )
    with db.connection() as conn:
        total, items = lamp_queries.lamp_page_json(conn, where, limit=limit, offset=offset)
    # The items have the columns of `Lamp`, in its order, encoded by the database.
    return json_response_spliced({"total": total, "limit": limit, "offset": offset}, "items", items)


@router.get(
    "/lamps/{lamp_id}",
    response_model=LampDetail,
    summary="One lamp: inventory, connection, last reading, open events",
    responses=problems.responses(404),
)
def get_lamp(conn: Conn, who: Reader, lamp_id: LampId) -> LampDetail:
    return lamp_detail(conn, lamp_id)


@router.post(
    "/lamps",
    response_model=LampDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Add a lamp to the inventory (admin)",
    responses=problems.responses(409),
)
def create_lamp(conn: Conn, who: Admin, body: LampCreate, request: Request) -> LampDetail:
    values = body.model_dump(exclude={"lamp_id"})
    if not lamp_queries.insert_lamp(conn, body.lamp_id, values):
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {body.lamp_id} already exists")
    lamp = lamp_detail(conn, body.lamp_id)
    record_audit(conn, who.username, "lamp.create", body.lamp_id, None, inventory_record(lamp), client_ip(request))
    conn.commit()
    return lamp


@router.patch(
    "/lamps/{lamp_id}",
    response_model=LampDetail,
    summary="Change a lamp's inventory data (admin)",
    responses=problems.responses(404),
)
def update_lamp(conn: Conn, who: Admin, lamp_id: LampId, body: LampUpdate, request: Request) -> LampDetail:
    current = lamp_queries.get_lamp(conn, lamp_id, for_update=True)
    if current is None:
        raise _no_lamp(lamp_id)
    changes = body.changes()
    before = {name: current[name] for name in lamp_queries.EDITABLE_COLUMNS}
    after = before | changes
    if after != before:
        lamp_queries.update_lamp(conn, lamp_id, after)
        record_audit(
            conn,
            who.username,
            "lamp.update",
            lamp_id,
            {name: before[name] for name in changes},
            {name: after[name] for name in changes},
            client_ip(request),
        )
        conn.commit()
    return lamp_detail(conn, lamp_id)


@router.post(
    "/lamps/{lamp_id}/retire",
    response_model=LampDetail,
    summary="Retire a lamp: it stays in the inventory and its history is kept (admin)",
    responses=problems.responses(404),
)
def retire_lamp(conn: Conn, who: Admin, lamp_id: LampId, request: Request) -> LampDetail:
    current = lamp_queries.get_lamp(conn, lamp_id, for_update=True)
    if current is None:
        raise _no_lamp(lamp_id)
    if current["state"] != "retired":  # retiring twice changes nothing and is not logged again
        lamp_queries.set_lamp_state(conn, lamp_id, "retired")
        record_audit(
            conn,
            who.username,
            "lamp.retire",
            lamp_id,
            {"state": current["state"]},
            {"state": "retired"},
            client_ip(request),
        )
        conn.commit()
    return lamp_detail(conn, lamp_id)


def _no_lamp(lamp_id: str) -> ProblemException:
    return ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")


def lamp_detail(conn: DictConnection, lamp_id: str) -> LampDetail:
    row = lamp_queries.get_lamp(conn, lamp_id)
    if row is None:
        raise _no_lamp(lamp_id)
    changed_at = row.pop("status_changed_at")
    reading = lamp_queries.last_reading(conn, lamp_id)
    return LampDetail(
        **row,
        status=None if row["online"] is None else LampStatus(online=row["online"], changed_at=changed_at),
        last_reading=Reading(**reading) if reading else None,
        open_events=[Event(**event) for event in lamp_queries.open_events(conn, lamp_id)],
    )


def inventory_record(lamp: LampDetail) -> dict[str, Any]:
    """What the audit log keeps of a lamp: its inventory fields, as JSON."""
    return lamp.model_dump(mode="json", include={"lamp_id", *lamp_queries.EDITABLE_COLUMNS})
