"""What the ingester could not store (technicians and admins read), and commissioning of lamps
seen on the wire but missing from the inventory (admin, audited)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import Field

from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.deps import Admin, Conn, FieldStaff
from api.lamps import queries as lamp_queries
from api.lamps.routes import inventory_record, lamp_detail
from api.lamps.schemas import LAMP_ID_PATTERN, LampCommission, LampDetail
from api.maintenance.commissioning import queries
from api.maintenance.commissioning.schemas import DeadLetter, DeadLetterPage, UnknownLamp, UnknownLampPage
from api.paging import Offset
from api.problems import ProblemException
from core.columns import NoNul, Text

router = APIRouter(prefix="/api/v1", tags=["commissioning"], responses=problems.responses(401, 403))

LampId = Annotated[str, Path(pattern=LAMP_ID_PATTERN)]


def payload_view(payload: bytes) -> tuple[str, str]:
    """(encoding, text): the payload itself when it is UTF-8, else its base64. Pure."""
    try:
        return "utf-8", payload.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(payload).decode("ascii")


@router.get(
    "/dead-letters",
    response_model=DeadLetterPage,
    summary="Messages the ingester could not store, newest first (technician, admin)",
)
def list_dead_letters(
    conn: Conn,
    who: FieldStaff,
    reason: Annotated[Text | None, Query(description="e.g. invalid_json, out_of_range, unknown_lamp")] = None,
    lamp_id: Annotated[Annotated[str, Field(max_length=200), NoNul] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="Received at or after this instant.")] = None,
    until: Annotated[datetime | None, Query(description="Received before this instant.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> DeadLetterPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise problems.invalid(name, "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z")
    where = queries.DeadLetterFilter(reason=reason, lamp_id=lamp_id, since=since, until=until)
    total = queries.count_dead_letters(conn, where)
    items = []
    for row in queries.list_dead_letters(conn, where, limit=limit, offset=offset):
        payload = bytes(row.pop("payload"))
        encoding, text = payload_view(payload)
        items.append(DeadLetter(**row, payload_encoding=encoding, payload=text, payload_bytes=len(payload)))
    return DeadLetterPage(total=total, limit=limit, offset=offset, items=items)


@router.get(
    "/unknown-lamps",
    response_model=UnknownLampPage,
    summary="Lamp ids seen on the wire but not in the inventory, pending first (technician, admin)",
)
def list_unknown_lamps(
    conn: Conn,
    who: FieldStaff,
    status_: Annotated[Literal["pending", "commissioned", "dismissed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> UnknownLampPage:
    total = queries.count_unknown_lamps(conn, status_)
    rows = queries.list_unknown_lamps(conn, status_, limit=limit, offset=offset)
    return UnknownLampPage(total=total, limit=limit, offset=offset, items=[UnknownLamp(**row) for row in rows])


@router.post(
    "/unknown-lamps/{lamp_id}/commission",
    response_model=LampDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Add a lamp seen on the wire to the inventory (admin)",
    description="The lamp's readings are stored from then on (the ingester checks unknown ids again every few "
    "seconds); what it sent before was dead-lettered and stays so. A dismissed lamp may still be commissioned.",
    responses=problems.responses(404, 409),
)
def commission_lamp(conn: Conn, who: Admin, lamp_id: LampId, body: LampCommission, request: Request) -> LampDetail:
    unknown = queries.get_unknown_lamp(conn, lamp_id, for_update=True)
    if unknown is None:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"lamp {lamp_id} was never seen on the wire")
    if unknown["status"] == "commissioned":
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} is already commissioned")
    if not lamp_queries.insert_lamp(conn, lamp_id, body.model_dump()):
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} is already in the inventory")
    queries.set_unknown_lamp_status(conn, lamp_id, "commissioned")
    lamp = lamp_detail(conn, lamp_id)
    record_audit(
        conn,
        who.username,
        "lamp.commission",
        lamp_id,
        {"unknown_lamp_status": unknown["status"]},
        inventory_record(lamp),
        client_ip(request),
    )
    conn.commit()
    return lamp


@router.post(
    "/unknown-lamps/{lamp_id}/dismiss",
    response_model=UnknownLamp,
    summary="Mark a lamp id seen on the wire as not ours (admin)",
    description="Its messages are still dead-lettered; dismissing only takes it off the pending list.",
    responses=problems.responses(404, 409),
)
def dismiss_unknown_lamp(conn: Conn, who: Admin, lamp_id: LampId, request: Request) -> UnknownLamp:
    unknown = queries.get_unknown_lamp(conn, lamp_id, for_update=True)
    if unknown is None:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"lamp {lamp_id} was never seen on the wire")
    if unknown["status"] == "commissioned":
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} is commissioned; retire it instead")
    if unknown["status"] == "pending":
        unknown = queries.set_unknown_lamp_status(conn, lamp_id, "dismissed")
        record_audit(
            conn,
            who.username,
            "unknown_lamp.dismiss",
            lamp_id,
            {"status": "pending"},
            {"status": "dismissed"},
            client_ip(request),
        )
        conn.commit()
    return UnknownLamp(**unknown)
