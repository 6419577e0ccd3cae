"""Work orders (technician, admin; every change audited): create one from a prediction, a fault or by hand,
schedule it, add notes, close it.

Closing as repaired or replaced records the maintenance in the events table, in the same
transaction: a 'lamp_failure' event one second before the close when the technician found the
lamp failing, then a 'repaired' event at the close, which puts the lamp back in service. A false
alarm or no fault found writes no event: the work order's outcome is the feedback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Path, Query, Request, status

from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Conn, FieldStaff
from api.lamps.queries import get_lamp
from api.lamps.schemas import LAMP_ID_PATTERN
from api.maintenance.events import queries as event_queries
from api.maintenance.work_orders import queries
from api.maintenance.work_orders.schemas import (
    WorkOrder,
    WorkOrderCancel,
    WorkOrderClose,
    WorkOrderCreate,
    WorkOrderPage,
    WorkOrderUpdate,
)
from api.paging import Offset
from api.predictions import queries as prediction_queries
from api.problems import ProblemException
from api.vocabulary import WorkOrderStatus
from core.columns import BIGINT_MAX, Text

router = APIRouter(prefix="/api/v1", tags=["work-orders"], responses=problems.responses(401, 403))

WorkOrderId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="The work order's number.")]
REPAIR_OUTCOMES = frozenset({"repaired", "replaced"})
# The failure a technician finds comes just before the repair, so that the two are ordered in the events.
FAILURE_BEFORE_REPAIR = timedelta(seconds=1)
# What the audit log keeps of a work order (what the lamp and its scores say is kept elsewhere).
_AUDITED = (
    "id",
    "lamp_id",
    "source",
    "prediction_scored_at",
    "fault_event_ts",
    "fault_event_type",
    "status",
    "scheduled_for",
    "outcome",
    "failure_found",
    "notes",
    "closed_at",
    "closed_by",
)


# --- work orders ---------------------------------------------------------------------------------------
@router.get("/work-orders", response_model=WorkOrderPage, summary="List work orders, newest first (technician, admin)")
def list_work_orders(
    conn: Conn,
    who: FieldStaff,
    status_: Annotated[
        list[WorkOrderStatus] | None, Query(alias="status", description="Status; repeat for several.")
    ] = None,
    lamp_id: Annotated[str | None, Query(pattern=LAMP_ID_PATTERN)] = None,
    street: Annotated[Text | None, Query(description="Exact street name.")] = None,
    group_name: Annotated[Text | None, Query(description="Exact group name.")] = None,
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
    record_audit(
        conn, who.username, "work_order.create", _target(work_order_id), None, _audited(order), client_ip(request)
    )
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
        assert body.notes is not None  # the body's validator refuses a null
        after["notes"] = body.notes.strip()
    if after != before:
        queries.update_work_order(conn, work_order_id, **after)
        changed = [name for name in before if before[name] != after[name]]
        record_audit(
            conn,
            who.username,
            "work_order.update",
            _target(work_order_id),
            {name: before[name] for name in changed},
            {name: after[name] for name in changed},
            client_ip(request),
        )
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
    assert lamp is not None  # a lamp with work orders stays in the inventory (retired at most)
    closed_at = datetime.now(UTC)
    recorded = []
    if body.outcome in REPAIR_OUTCOMES:
        if body.failure_found:
            recorded.append(
                _record(conn, lamp_id, closed_at - FAILURE_BEFORE_REPAIR, "lamp_failure", {"work_order": work_order_id})
            )
        recorded.append(
            _record(
                conn,
                lamp_id,
                closed_at,
                "repaired",
                {"work_order": work_order_id, "outcome": body.outcome, "notes": body.notes.strip()},
            )
        )
    notes = "\n".join(part for part in (current["notes"], body.notes.strip()) if part)
    queries.close_work_order(
        conn,
        work_order_id,
        outcome=body.outcome,
        failure_found=body.failure_found,
        notes=notes,
        closed_at=closed_at,
        closed_by=who.username,
    )
    order = _work_order(conn, work_order_id)
    record_audit(
        conn,
        who.username,
        "work_order.close",
        _target(work_order_id),
        {"status": current["status"], "notes": current["notes"], "lamp_state": lamp["state"]},
        {
            "status": order.status,
            "outcome": order.outcome,
            "failure_found": order.failure_found,
            "notes": notes,
            "lamp_state": order.lamp_state,
            "events": recorded,
        },
        client_ip(request),
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
    queries.cancel_work_order(conn, work_order_id, notes=notes, closed_at=datetime.now(UTC), closed_by=who.username)
    order = _work_order(conn, work_order_id)
    record_audit(
        conn,
        who.username,
        "work_order.cancel",
        _target(work_order_id),
        {"status": current["status"], "notes": current["notes"]},
        {"status": order.status, "notes": notes},
        client_ip(request),
    )
    conn.commit()
    return order


def _refuse_a_second_open_order(conn: DictConnection, lamp_id: str) -> None:
    existing = queries.open_work_order_id(conn, lamp_id)
    if existing is not None:
        raise ProblemException(
            status.HTTP_409_CONFLICT,
            f"lamp {lamp_id} already has work order {existing} open",
            extensions={"work_order_id": existing},
        )


def _check_fault(conn: DictConnection, body: WorkOrderCreate) -> None:
    assert body.fault_event_ts is not None and body.fault_event_type is not None  # the body's validator
    if body.fault_event_ts.utcoffset() is None:
        raise problems.invalid(
            "fault_event_ts", "give a UTC offset, e.g. 2026-11-25T18:00:00+01:00 or ...Z", location="body"
        )
    if body.fault_event_type == "repaired":
        raise problems.invalid("fault_event_type", "a repair is not a fault", location="body")
    if not queries.event_exists(conn, body.lamp_id, body.fault_event_ts, body.fault_event_type):
        raise problems.invalid(
            "fault_event_ts",
            f"lamp {body.lamp_id} has no {body.fault_event_type} event at {body.fault_event_ts.isoformat()}",
            location="body",
        )


def _lock_open(conn: DictConnection, work_order_id: int) -> dict[str, Any]:
    current = queries.lock_work_order(conn, work_order_id)
    if current is None:
        raise _no_work_order(work_order_id)
    if current["status"] not in queries.ACTIVE_STATUSES:
        raise ProblemException(status.HTTP_409_CONFLICT, f"work order {work_order_id} is already {current['status']}")
    return current


def _record(conn: DictConnection, lamp_id: str, ts: datetime, type: str, detail: dict) -> dict[str, str]:
    if event_queries.insert_event(conn, lamp_id, ts, type, detail, source="technician") is None:
        raise ProblemException(status.HTTP_409_CONFLICT, f"lamp {lamp_id} already has a {type} event at {ts}")
    event_queries.apply_event_to_state(conn, lamp_id, type)
    return {"type": type, "ts": ts.isoformat()}


def _work_order(conn: DictConnection, work_order_id: int) -> WorkOrder:
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
