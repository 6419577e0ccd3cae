"""Plan delivery: which lamps run the plan of their schedule, and a push on request.

Everyone signed in reads the status; energy managers and administrators ask for a
push. The request goes to the active plan scheduler over the database's notification
channel (whichever replica runs it), which is why the answer is 202.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, status

from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Conn, EnergyManager, Reader
from api.dimming.push.schemas import LampPushStatus, PushAccepted, PushRequest, PushStatus, SchedulerInfo
from api.paging import Offset
from core.contract import utc_now
from dimming import PushState, active_scheduler, push_status, request_push

router = APIRouter(prefix="/api/v1", tags=["plans"], responses=problems.responses(401, 403))


def _scheduler(conn: DictConnection) -> SchedulerInfo:
    active = active_scheduler(conn)
    if active is None:
        return SchedulerInfo(active=False)
    return SchedulerInfo(active=True, name=active.name, since=active.since)


@router.get(
    "/dimming/push-status",
    response_model=PushStatus,
    summary="Counts of lamps whose plan is applied, pending, rejected or stale, and a page of them",
    description="Lamps that get a plan (installed, with coordinates). applied: the controller applied its "
    "latest plan; pending: the latest plan is out and not answered yet (for up to an hour); rejected: the "
    "controller refused its latest plan; stale: the lamp runs an older plan than its schedule (unanswered "
    "for over an hour, not extended in time, or never pushed).",
)
def get_push_status(
    conn: Conn,
    who: Reader,
    states: Annotated[
        list[PushState] | None, Query(alias="state", description="List lamps in this state; repeat for several.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PushStatus:
    page = push_status(conn, utc_now(), states=states, limit=limit, offset=offset)
    return PushStatus(
        scheduler=_scheduler(conn),
        counts=page.counts,
        total=page.total,
        limit=limit,
        offset=offset,
        items=[
            LampPushStatus(
                lamp_id=item.lamp_id,
                name=item.name,
                state=item.state,
                detail=item.detail,
                version=item.version,
                created_at=item.created_at,
                pushed_at=item.pushed_at,
                attempts=item.attempts,
                ack_status=item.ack_status,
                ack_reason=item.ack_reason,
                acked_at=item.acked_at,
                applied_version=item.applied_version,
                applied_until=item.applied_until,
            )
            for item in page.items
        ],
    )


@router.post(
    "/dimming/push",
    response_model=PushAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Resolve and push plans now (energy manager, admin)",
    description="Asks the active plan scheduler to check every lamp at once and push the plans that changed, "
    "or, with all=true, a new version to every lamp. Without an active scheduler, the request is recorded and "
    "the next scheduler to start checks every lamp anyway.",
)
def request_plan_push(
    conn: Conn,
    who: EnergyManager,
    request: Request,
    body: Annotated[PushRequest | None, Body()] = None,
) -> PushAccepted:
    everything = body.all if body else False
    scheduler = _scheduler(conn)
    request_push(conn, everything=everything)
    record_audit(conn, who.username, "dimming.push", "plans", None, {"all": everything}, client_ip(request))
    conn.commit()  # the notification goes out with the commit
    if scheduler.active:
        detail = "the plan scheduler checks every lamp now; follow it on /api/v1/dimming/push-status"
    else:
        detail = "no plan scheduler is running; the next one to start checks every lamp"
    return PushAccepted(all=everything, scheduler=scheduler, detail=detail)
