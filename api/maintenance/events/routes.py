"""Lamp events: list them (any role); technicians record what they see on site (audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.deps import Conn, FieldStaff, Reader
from api.lamps.queries import get_lamp
from api.lamps.schemas import LAMP_ID_PATTERN
from api.maintenance.events import queries as event_queries
from api.maintenance.events.schemas import Event, EventCreate, EventPage
from api.paging import Offset
from api.problems import ProblemException
from core.columns import Text
from core.contract import MAX_FUTURE_SKEW

router = APIRouter(prefix="/api/v1", tags=["events"], responses=problems.responses(401, 403))
# PostgreSQL would store an instant before year 1 (UTC) as BC, which Python cannot read back.
EARLIEST_EVENT_TS = datetime(1900, 1, 1, tzinfo=UTC)


@router.get("/events", response_model=EventPage, summary="List events, newest first, filtered, a page at a time")
def list_events(
    conn: Conn,
    who: Reader,
    lamp_id: Annotated[str | None, Query(pattern=LAMP_ID_PATTERN)] = None,
    types: Annotated[list[Text] | None, Query(alias="type", description="Event type; repeat for several.")] = None,
    since: Annotated[datetime | None, Query(description="From this instant, included.")] = None,
    until: Annotated[datetime | None, Query(description="Up to this instant, excluded.")] = None,
    open_only: Annotated[
        bool, Query(alias="open", description="Only open events: after their lamp's last 'repaired' event.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> EventPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise problems.invalid(name, "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z")
    where = event_queries.EventFilter(lamp_id=lamp_id, types=types, since=since, until=until, open_only=open_only)
    total = event_queries.count_events(conn, where)
    rows = event_queries.list_events(conn, where, limit=limit, offset=offset)
    return EventPage(total=total, limit=limit, offset=offset, items=[Event(**row) for row in rows])


@router.post(
    "/lamps/{lamp_id}/events",
    response_model=Event,
    status_code=status.HTTP_201_CREATED,
    summary="Record an event seen on site (technician, admin)",
    description="A lamp_failure marks an in-service lamp faulty; a repaired event puts a faulty or under-repair "
    "lamp back in service, and closes the lamp's open events.",
    responses=problems.responses(404, 409),
)
def record_event(
    conn: Conn,
    who: FieldStaff,
    lamp_id: Annotated[str, Path(pattern=LAMP_ID_PATTERN)],
    body: EventCreate,
    request: Request,
) -> Event:
    now = datetime.now(UTC)
    ts = body.ts or now
    if ts.utcoffset() is None:
        raise problems.invalid("ts", "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z", location="body")
    if ts > now + MAX_FUTURE_SKEW:
        raise problems.invalid("ts", "the event cannot be in the future", location="body")
    if ts < EARLIEST_EVENT_TS:
        raise problems.invalid("ts", "the event cannot be before 1900", location="body")
    lamp = get_lamp(conn, lamp_id, for_update=True)
    if lamp is None:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")
    row = event_queries.insert_event(conn, lamp_id, ts, body.type, body.detail, source="technician")
    if row is None:
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} already has a {body.type} event at {ts}")
    new_state = event_queries.apply_event_to_state(conn, lamp_id, body.type)
    event = Event(**row)
    record_audit(
        conn,
        who.username,
        "event.create",
        lamp_id,
        {"state": lamp["state"]},
        event.model_dump(mode="json", exclude={"received_at"}) | {"state": new_state or lamp["state"]},
        client_ip(request),
    )
    conn.commit()
    return event
