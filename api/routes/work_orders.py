"""Work orders (technician, admin; every change audited): create one from a prediction, a fault or by hand,
schedule it, add notes, close it; and the daily round of visits (lamps, and circuits at risk of a supply
loss), as JSON or CSV.

Closing as repaired or replaced records the maintenance in the events table, in the same
transaction: a 'lamp_failure' event one second before the close when the technician found the
lamp failing, then a 'repaired' event at the close, which puts the lamp back in service. A false
alarm or no fault found writes no event: the work order's outcome is the feedback.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import Response

from api import audit, daily_round, problems
from api.console.i18n import DEFAULT_LANGUAGE, supported
from api.deps import Conn, Principal
from api.paging import Offset
from api.problems import ProblemException
from api.queries import events as event_queries
from api.queries import predictions as prediction_queries
from api.queries import work_orders as queries
from api.queries.lamps import get_lamp
from api.routes.predictions import FieldStaff
from api.schemas import LAMP_ID_PATTERN
from api.schemas_maintenance import (
    DailyRound,
    Language,
    RoundStreet,
    Visit,
    WorkOrder,
    WorkOrderCancel,
    WorkOrderClose,
    WorkOrderCreate,
    WorkOrderPage,
    WorkOrderStatus,
    WorkOrderUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["work-orders"], responses=problems.responses(401, 403))

WorkOrderId = Annotated[int, Path(ge=1, description="The work order's number.")]
REPAIR_OUTCOMES = frozenset({"repaired", "replaced"})
# The failure a technician finds comes just before the repair, so that the two are ordered in the events.
FAILURE_BEFORE_REPAIR = timedelta(seconds=1)
# What the audit log keeps of a work order (what the lamp and its scores say is kept elsewhere).
_AUDITED = ("id", "lamp_id", "source", "prediction_scored_at", "fault_event_ts", "fault_event_type", "status",
            "scheduled_for", "outcome", "failure_found", "notes", "closed_at", "closed_by")


# --- work orders ---------------------------------------------------------------------------------------
@router.get("/work-orders", response_model=WorkOrderPage, summary="List work orders, newest first (technician, admin)")
def list_work_orders(
    conn: Conn,
    who: FieldStaff,
    status_: Annotated[
        list[WorkOrderStatus] | None, Query(alias="status", description="Status; repeat for several.")
    ] = None,
    lamp_id: Annotated[str | None, Query(pattern=LAMP_ID_PATTERN)] = None,
    street: Annotated[str | None, Query(description="Exact street name.")] = None,
    group_name: Annotated[str | None, Query(description="Exact group name.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> WorkOrderPage:
    where = queries.WorkOrderFilter(statuses=status_, lamp_id=lamp_id, street=street, group_name=group_name)
    total = queries.count_work_orders(conn, where)
    rows = queries.list_work_orders(conn, where, limit=limit, offset=offset)
    return WorkOrderPage(total=total, limit=limit, offset=offset, items=[WorkOrder(**row) for row in rows])


@router.post(
    "/work-orders",
    response_model=WorkOrder,
    status_code=status.HTTP_201_CREATED,
    summary="Create a work order from a lamp's latest prediction, a fault, or by hand (technician, admin)",
    description="A lamp has at most one work order not closed: a second answers 409 with the open one's "
    "`work_order_id`.",
    responses=problems.responses(409),
)
def create_work_order(conn: Conn, who: FieldStaff, body: WorkOrderCreate, request: Request) -> WorkOrder:
    lamp = get_lamp(conn, body.lamp_id, for_update=True)  # one creation at a time per lamp
    if lamp is None:
        raise problems.invalid("lamp_id", f"no lamp {body.lamp_id}", location="body")
    if lamp["state"] == "retired":
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {body.lamp_id} is retired")
    _refuse_a_second_open_order(conn, body.lamp_id)
    prediction_scored_at = None
    if body.source == "prediction":
        latest = prediction_queries.latest_for_lamp(conn, body.lamp_id)
        if latest is None:
            raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {body.lamp_id} has no prediction yet")
        prediction_scored_at = latest["scored_at"]
    elif body.source == "fault":
        _check_fault(conn, body)
    values = {
        "lamp_id": body.lamp_id,
        "source": body.source,
        "prediction_scored_at": prediction_scored_at,
        "fault_event_ts": body.fault_event_ts,
        "fault_event_type": body.fault_event_type,
        "status": "scheduled" if body.scheduled_for else "open",
        "scheduled_for": body.scheduled_for,
        "notes": body.notes.strip(),
        "created_by": who.username,
    }
    try:
        work_order_id = queries.insert_work_order(conn, values)
    except psycopg.errors.UniqueViolation:  # created by someone else meanwhile (the lamp lock makes it rare)
        conn.rollback()
        _refuse_a_second_open_order(conn, body.lamp_id)
        raise
    order = _work_order(conn, work_order_id)
    audit.record(conn, who.username, "work_order.create", _target(work_order_id), None, _audited(order),
                 audit.client_ip(request))
    conn.commit()
    return order


@router.get(
    "/work-orders/{work_order_id}",
    response_model=WorkOrder,
    summary="One work order (technician, admin)",
    responses=problems.responses(404),
)
def get_work_order(conn: Conn, who: FieldStaff, work_order_id: WorkOrderId) -> WorkOrder:
    return _work_order(conn, work_order_id)


@router.patch(
    "/work-orders/{work_order_id}",
    response_model=WorkOrder,
    summary="Schedule or unschedule a work order, or change its notes (technician, admin)",
    description="A `scheduled_for` day schedules the visit (status scheduled); status open, or a null "
    "`scheduled_for`, takes it off the calendar. A closed work order cannot change (409).",
    responses=problems.responses(404, 409),
)
def update_work_order(
    conn: Conn, who: FieldStaff, work_order_id: WorkOrderId, body: WorkOrderUpdate, request: Request
) -> WorkOrder:
    current = _lock_open(conn, work_order_id)
    before = {"status": current["status"], "scheduled_for": current["scheduled_for"], "notes": current["notes"]}
    after = dict(before)
    given = body.model_fields_set
    if "scheduled_for" in given:
        after["scheduled_for"] = body.scheduled_for
        after["status"] = "scheduled" if body.scheduled_for else "open"
    if "status" in given:
        after["status"] = body.status
        if body.status == "open":
            after["scheduled_for"] = None
        elif after["scheduled_for"] is None:
            raise problems.invalid("scheduled_for", "give the day of the visit to schedule it", location="body")
    if "notes" in given:
        after["notes"] = body.notes.strip()
    if after != before:
        queries.update_work_order(conn, work_order_id, **after)
        changed = [name for name in before if before[name] != after[name]]
        audit.record(conn, who.username, "work_order.update", _target(work_order_id),
                     {name: before[name] for name in changed}, {name: after[name] for name in changed},
                     audit.client_ip(request))
        conn.commit()
    return _work_order(conn, work_order_id)


@router.post(
    "/work-orders/{work_order_id}/close",
    response_model=WorkOrder,
    summary="Close a work order with its outcome; repaired or replaced records the repair (technician, admin)",
    description="repaired or replaced: a 'repaired' event at the close puts the lamp back in service, preceded "
    "one second earlier by a 'lamp_failure' event when `failure_found`. false_alarm and no_fault_found "
    "record no event. All in one transaction; closing twice answers 409.",
    responses=problems.responses(404, 409),
)
def close_work_order(
    conn: Conn, who: FieldStaff, work_order_id: WorkOrderId, body: WorkOrderClose, request: Request
) -> WorkOrder:
    current = _lock_open(conn, work_order_id)
    lamp_id = current["lamp_id"]
    lamp = get_lamp(conn, lamp_id, for_update=True)
    closed_at = datetime.now(timezone.utc)
    recorded = []
    if body.outcome in REPAIR_OUTCOMES:
        if body.failure_found:
            recorded.append(_record(conn, lamp_id, closed_at - FAILURE_BEFORE_REPAIR, "lamp_failure",
                                    {"work_order": work_order_id}))
        recorded.append(_record(conn, lamp_id, closed_at, "repaired",
                                {"work_order": work_order_id, "outcome": body.outcome, "notes": body.notes.strip()}))
    notes = "\n".join(part for part in (current["notes"], body.notes.strip()) if part)
    queries.close_work_order(conn, work_order_id, outcome=body.outcome, failure_found=body.failure_found,
                             notes=notes, closed_at=closed_at, closed_by=who.username)
    order = _work_order(conn, work_order_id)
    audit.record(
        conn,
        who.username,
        "work_order.close",
        _target(work_order_id),
        {"status": current["status"], "notes": current["notes"], "lamp_state": lamp["state"]},
        {"status": order.status, "outcome": order.outcome, "failure_found": order.failure_found, "notes": notes,
         "lamp_state": order.lamp_state, "events": recorded},
        audit.client_ip(request),
    )
    conn.commit()
    return order


@router.post(
    "/work-orders/{work_order_id}/cancel",
    response_model=WorkOrder,
    summary="Call off an open work order, with the reason; no event is recorded (technician, admin)",
    description="A cancelled work order is neither a repair nor a false alarm: it does not feed the training. "
    "Cancelling a closed or cancelled one answers 409.",
    responses=problems.responses(404, 409),
)
def cancel_work_order(
    conn: Conn, who: FieldStaff, work_order_id: WorkOrderId, body: WorkOrderCancel, request: Request
) -> WorkOrder:
    current = _lock_open(conn, work_order_id)
    notes = "\n".join(part for part in (current["notes"], body.reason.strip()) if part)
    queries.cancel_work_order(conn, work_order_id, notes=notes, closed_at=datetime.now(timezone.utc),
                              closed_by=who.username)
    order = _work_order(conn, work_order_id)
    audit.record(conn, who.username, "work_order.cancel", _target(work_order_id),
                 {"status": current["status"], "notes": current["notes"]},
                 {"status": order.status, "notes": notes}, audit.client_ip(request))
    conn.commit()
    return order


def _refuse_a_second_open_order(conn: psycopg.Connection, lamp_id: str) -> None:
    existing = queries.open_work_order_id(conn, lamp_id)
    if existing is not None:
        raise ProblemException(
            status.HTTP_409_CONFLICT,
            f"lamp {lamp_id} already has work order {existing} open",
            extensions={"work_order_id": existing},
        )


def _check_fault(conn: psycopg.Connection, body: WorkOrderCreate) -> None:
    assert body.fault_event_ts is not None and body.fault_event_type is not None  # the body's validator
    if body.fault_event_ts.utcoffset() is None:
        raise problems.invalid("fault_event_ts", "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z",
                               location="body")
    if body.fault_event_type == "repaired":
        raise problems.invalid("fault_event_type", "a repair is not a fault", location="body")
    if not queries.event_exists(conn, body.lamp_id, body.fault_event_ts, body.fault_event_type):
        raise problems.invalid(
            "fault_event_ts",
            f"lamp {body.lamp_id} has no {body.fault_event_type} event at {body.fault_event_ts.isoformat()}",
            location="body",
        )


def _lock_open(conn: psycopg.Connection, work_order_id: int) -> dict[str, Any]:
    current = queries.lock_work_order(conn, work_order_id)
    if current is None:
        raise _no_work_order(work_order_id)
    if current["status"] not in queries.ACTIVE_STATUSES:
        raise ProblemException(status.HTTP_409_CONFLICT, f"work order {work_order_id} is already {current['status']}")
    return current


def _record(conn: psycopg.Connection, lamp_id: str, ts: datetime, type: str, detail: dict) -> dict[str, str]:
    if event_queries.insert_event(conn, lamp_id, ts, type, detail, source="technician") is None:
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} already has a {type} event at {ts}")
    event_queries.apply_event_to_state(conn, lamp_id, type)
    return {"type": type, "ts": ts.isoformat()}


def _work_order(conn: psycopg.Connection, work_order_id: int) -> WorkOrder:
    row = queries.get_work_order(conn, work_order_id)
    if row is None:
        raise _no_work_order(work_order_id)
    return WorkOrder(**row)


def _no_work_order(work_order_id: int) -> ProblemException:
    return ProblemException(status.HTTP_404_NOT_FOUND, f"no work order {work_order_id}")


def _target(work_order_id: int) -> str:
    return f"work_order:{work_order_id}"


def _audited(order: WorkOrder) -> dict[str, Any]:
    return order.model_dump(mode="json", include=set(_AUDITED))


# --- the daily round -----------------------------------------------------------------------------------
Day = Annotated[date | None, Query(description="YYYY-MM-DD; today in the town's time zone by default.")]
Lang = Annotated[
    Language | None, Query(description="Language of the reasons; the account's language by default.")
]

_CSV_EXAMPLE = (
    "street,lamp,name,address,reason,work_order,probability,lat,lon,circuit\r\n"
    "Rue des Tilleuls,L-0042,Rue des Tilleuls 12,12 rue des Tilleuls,"
    "power factor fell from 0.96 to 0.88 over 10 days,12,0.83,48.8566,2.3522,C-07\r\n"
    "Rue des Tilleuls,,Circuit C-03 (27 lamps),,the circuit's voltage sagged by 9 V over 7 days,,0.64,48.8571,"
    "2.3519,C-03\r\n"
)


@router.get(
    "/round",
    response_model=DailyRound,
    summary="The lamps and circuits to visit on a day, grouped by street (technician, admin)",
    description="The work orders scheduled for the day, then the others not closed and the circuits of the newest "
    "run at risk of a supply loss (STREETLIGHT_CIRCUIT_ROUND_MIN_PROBABILITY or more, one visit each), most urgent "
    "first (faults, then the highest probabilities), up to the crews' visits per day "
    "(STREETLIGHT_CREW_VISITS_PER_DAY). A circuit is listed under its main street.",
)
def get_round(conn: Conn, who: FieldStaff, request: Request, day: Day = None, lang: Lang = None) -> DailyRound:
    return _daily_round(conn, who, request, day, lang)


@router.get(
    "/round.csv",
    response_class=Response,
    summary="The day's round as CSV: street, lamp, name, address, reason, work order, probability, lat, lon, "
    "circuit",
    description="One line per visit, in the order of the round. A circuit's line has no lamp and no work order, "
    "and the centroid of its lamps as lat, lon; a lamp's line names the lamp's circuit.",
    responses={
        200: {"description": "UTF-8 CSV, one line per visit", "content": {"text/csv": {"example": _CSV_EXAMPLE}}}
    },
)
def get_round_csv(conn: Conn, who: FieldStaff, request: Request, day: Day = None, lang: Lang = None) -> Response:
    plan = _daily_round(conn, who, request, day, lang)
    text = daily_round.csv_text([(street.street, [visit.model_dump() for visit in street.visits])
                                 for street in plan.streets])
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="round-{plan.day.isoformat()}.csv"'},
    )


def _daily_round(
    conn: psycopg.Connection, who: Principal, request: Request, day: date | None, lang: str | None
) -> DailyRound:
    settings = request.app.state.settings
    day = day or datetime.now(ZoneInfo(settings.town_timezone)).date()
    lang = lang or supported(who.locale) or DEFAULT_LANGUAGE
    capacity = settings.crew_visits_per_day
    # More circuits than the crews' visits could never fit in the day.
    circuits = prediction_queries.list_latest_circuits(
        conn,
        prediction_queries.CircuitFilter(min_probability=settings.circuit_round_min_probability),
        limit=capacity,
        offset=0,
    )
    candidates = daily_round.with_circuit_stops(queries.round_candidates(conn, day), circuits)
    chosen = daily_round.select_visits(candidates, capacity)
    visits = [daily_round.visit(position, row, lang) for position, row in enumerate(chosen, start=1)]
    return DailyRound(
        day=day,
        capacity=capacity,
        scheduled=sum(1 for row in chosen if row["due"]),
        circuits=sum(1 for row in chosen if row["kind"] == daily_round.CIRCUIT),
        total=len(visits),
        streets=[RoundStreet(street=street, visits=[Visit(**v) for v in group])
                 for street, group in daily_round.group_by_street(visits)],
    )
