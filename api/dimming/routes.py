"""Dimming schedules: profiles, assignments, the calendar, overrides, and what a lamp follows.

Everyone signed in reads; energy managers and administrators change. Every change is
audited with the state before and after, and the plan scheduler is notified in the
same transaction (by the dimming package's store), so that new plans go out within seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel

import dimming
from accounts import record_audit
from api import problems
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Conn, EnergyManager, Reader, SettingsDep
from api.dimming.problems import calendar_values, store_problems, validated
from api.dimming.schemas import (
    AssignmentInfo,
    AssignmentSet,
    CalendarExceptionInfo,
    CalendarExceptionSet,
    LampDimming,
    LevelPoint,
    OverrideCreate,
    OverrideInfo,
    ProfileCopy,
    ProfileDetail,
    ProfileEdit,
    ProfileInfo,
    PushInfo,
    RuleInfo,
)
from api.lamps.schemas import LAMP_ID_PATTERN
from api.principals import Principal
from api.problems import ProblemException
from dimming import ProfileSpec

router = APIRouter(prefix="/api/v1", tags=["dimming"], responses=problems.responses(401, 403))

# An override is for an incident, an event or maintenance; a lasting change is a profile.
OVERRIDE_MAX_DAYS = 31
ProfileId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _list_example(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI example of a list answer: the item model's own examples, as a list."""
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)  # every item model here declares its examples
    return {200: {"content": {"application/json": {"example": extra["examples"]}}}}


def _record(
    request: Request,
    conn: DictConnection,
    who: Principal,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    record_audit(conn, who.username, action, target, before, after, client_ip(request))


def profile_record(row: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a profile."""
    return {key: row[key] for key in ("id", "name", "description", "version", "twilight", "steps", "retired_at")}


# --- profiles -----------------------------------------------------------------------


@router.get(
    "/dimming/profiles",
    response_model=list[ProfileInfo],
    summary="The dimming profiles, by name (retired ones on request)",
    responses=_list_example(ProfileInfo),
)
def list_profiles(
    conn: Conn,
    who: Reader,
    include_retired: Annotated[bool, Query(description="Also list retired profiles.")] = False,
) -> list[ProfileInfo]:
    return [ProfileInfo(**row) for row in dimming.list_profiles(conn, include_retired=include_retired)]


@router.post(
    "/dimming/profiles",
    response_model=ProfileInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Create a profile (energy manager, admin)",
    responses=problems.responses(409),
)
def create_profile(
    request: Request, conn: Conn, who: EnergyManager, settings: SettingsDep, spec: ProfileSpec
) -> ProfileInfo:
    validated(spec, settings)
    with store_problems():
        created = dimming.create_profile(conn, spec, who.username)
    _record(request, conn, who, "dimming.profile.create", f"profile:{created['id']}", None, profile_record(created))
    conn.commit()
    return ProfileInfo(**created)


def _detail(conn: DictConnection, profile_id: int) -> ProfileDetail:
    with store_problems():
        profile = dimming.get_profile(conn, profile_id)
        versions = dimming.profile_versions(conn, profile_id)
    return ProfileDetail(**profile, used_by=dimming.profile_users(conn, profile_id), versions=versions)


@router.get(
    "/dimming/profiles/{profile_id}",
    response_model=ProfileDetail,
    summary="One profile, what uses it, and all its versions",
    responses=problems.responses(404),
)
def get_profile(conn: Conn, who: Reader, profile_id: ProfileId) -> ProfileDetail:
    return _detail(conn, profile_id)


@router.put(
    "/dimming/profiles/{profile_id}",
    response_model=ProfileDetail,
    summary="Edit a profile: a new version (energy manager, admin; 409 if `version` is stale)",
    responses=problems.responses(404, 409),
)
def update_profile(
    request: Request,
    conn: Conn,
    who: EnergyManager,
    settings: SettingsDep,
    profile_id: ProfileId,
    edit: ProfileEdit,
) -> ProfileDetail:
    spec = validated(ProfileSpec(**edit.model_dump(exclude={"version"})), settings)
    with store_problems():
        before, after = dimming.update_profile(conn, profile_id, spec, edit.version, who.username)
    _record(
        request,
        conn,
        who,
        "dimming.profile.update",
        f"profile:{profile_id}",
        profile_record(before),
        profile_record(after),
    )
    conn.commit()
    return _detail(conn, profile_id)


@router.post(
    "/dimming/profiles/{profile_id}/copy",
    response_model=ProfileInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Copy a profile under a new name (energy manager, admin)",
    responses=problems.responses(404, 409),
)
def copy_profile(
    request: Request, conn: Conn, who: EnergyManager, profile_id: ProfileId, body: ProfileCopy
) -> ProfileInfo:
    with store_problems():
        created = dimming.copy_profile(conn, profile_id, body.name, who.username)
    _record(
        request,
        conn,
        who,
        "dimming.profile.copy",
        f"profile:{created['id']}",
        {"copied_from": profile_id},
        profile_record(created),
    )
    conn.commit()
    return ProfileInfo(**created)


@router.post(
    "/dimming/profiles/{profile_id}/retire",
    response_model=ProfileInfo,
    summary="Retire a profile no assignment or calendar exception uses (energy manager, admin; 409 if used)",
    responses=problems.responses(404, 409),
)
def retire_profile(request: Request, conn: Conn, who: EnergyManager, profile_id: ProfileId) -> ProfileInfo:
    with store_problems():
        before, after = dimming.retire_profile(conn, profile_id, who.username)
    if before["retired_at"] is None:  # retiring twice changes nothing and is not logged again
        _record(
            request,
            conn,
            who,
            "dimming.profile.retire",
            f"profile:{profile_id}",
            {"retired_at": None},
            {"retired_at": after["retired_at"]},
        )
        conn.commit()
    return ProfileInfo(**after)


# --- assignments --------------------------------------------------------------------


@router.get(
    "/dimming/assignments",
    response_model=list[AssignmentInfo],
    summary="Which profile each part of the town follows",
    responses=_list_example(AssignmentInfo),
)
def list_assignments(conn: Conn, who: Reader) -> list[AssignmentInfo]:
    return [AssignmentInfo(**row) for row in dimming.list_assignments(conn)]


@router.post(
    "/dimming/assignments",
    response_model=AssignmentInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Give a lamp, group, street, circuit, lighting class or the town a profile (energy manager, admin)",
)
def set_assignment(request: Request, conn: Conn, who: EnergyManager, body: AssignmentSet) -> AssignmentInfo:
    with store_problems():
        before, after = dimming.assign(conn, body.target_kind, body.target, body.profile_id, who.username)
    _record(request, conn, who, "dimming.assignment.set", f"{body.target_kind}:{body.target}", before, after)
    conn.commit()
    return AssignmentInfo(**after)


@router.delete(
    "/dimming/assignments/{assignment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an assignment: its lamps follow the next broader one (energy manager, admin)",
    responses=problems.responses(404),
)
def delete_assignment(request: Request, conn: Conn, who: EnergyManager, assignment_id: RecordId) -> None:
    with store_problems():
        before = dimming.delete_assignment(conn, assignment_id)
    _record(
        request, conn, who, "dimming.assignment.delete", f"{before['target_kind']}:{before['target']}", before, None
    )
    conn.commit()


# --- calendar -----------------------------------------------------------------------


@router.get(
    "/dimming/calendar",
    response_model=list[CalendarExceptionInfo],
    summary="Calendar exceptions, highest priority first",
    responses=_list_example(CalendarExceptionInfo),
)
def list_calendar(conn: Conn, who: Reader) -> list[CalendarExceptionInfo]:
    return [CalendarExceptionInfo(**row) for row in dimming.list_exceptions(conn)]


@router.post(
    "/dimming/calendar",
    response_model=CalendarExceptionInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Add a calendar exception: dates, weekdays or yearly days with their own profile (energy manager, admin)",
)
def create_calendar_exception(
    request: Request, conn: Conn, who: EnergyManager, body: CalendarExceptionSet
) -> CalendarExceptionInfo:
    values = calendar_values(body)
    with store_problems():
        created = dimming.create_exception(conn, values, who.username)
    _record(request, conn, who, "dimming.calendar.create", f"calendar:{created['id']}", None, created)
    conn.commit()
    return CalendarExceptionInfo(**created)


@router.put(
    "/dimming/calendar/{exception_id}",
    response_model=CalendarExceptionInfo,
    summary="Change a calendar exception (energy manager, admin)",
    responses=problems.responses(404),
)
def update_calendar_exception(
    request: Request, conn: Conn, who: EnergyManager, exception_id: RecordId, body: CalendarExceptionSet
) -> CalendarExceptionInfo:
    values = calendar_values(body)
    with store_problems():
        before, after = dimming.update_exception(conn, exception_id, values)
    _record(request, conn, who, "dimming.calendar.update", f"calendar:{exception_id}", before, after)
    conn.commit()
    return CalendarExceptionInfo(**after)


@router.delete(
    "/dimming/calendar/{exception_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a calendar exception (energy manager, admin)",
    responses=problems.responses(404),
)
def delete_calendar_exception(request: Request, conn: Conn, who: EnergyManager, exception_id: RecordId) -> None:
    with store_problems():
        before = dimming.delete_exception(conn, exception_id)
    _record(request, conn, who, "dimming.calendar.delete", f"calendar:{exception_id}", before, None)
    conn.commit()


# --- overrides ----------------------------------------------------------------------


def _override_info(row: dict[str, Any], now: datetime) -> OverrideInfo:
    if row["cancelled_at"] is not None:
        state = "cancelled"
    elif row["expires_at"] <= now:
        state = "expired"
    elif row["starts_at"] > now:
        state = "scheduled"
    else:
        state = "active"
    return OverrideInfo(**row, state=state)


@router.get(
    "/dimming/overrides",
    response_model=list[OverrideInfo],
    summary="Overrides: those active or to come, soonest first (or all, newest first)",
    responses=_list_example(OverrideInfo),
)
def list_overrides(
    conn: Conn,
    who: Reader,
    include_past: Annotated[bool, Query(description="Also list expired and cancelled overrides.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[OverrideInfo]:
    now = datetime.now(UTC)
    rows = dimming.list_overrides(conn, active_at=None if include_past else now, limit=limit)
    return [_override_info(row, now) for row in rows]


@router.post(
    "/dimming/overrides",
    response_model=OverrideInfo,
    status_code=status.HTTP_201_CREATED,
    summary=f"Set a fixed level for a while, up to {OVERRIDE_MAX_DAYS} days; it ends by itself (energy manager, admin)",
)
def create_override(request: Request, conn: Conn, who: EnergyManager, body: OverrideCreate) -> OverrideInfo:
    now = datetime.now(UTC).replace(microsecond=0)
    starts_at = body.starts_at or now
    if body.expires_at <= max(starts_at, now):
        raise problems.invalid("expires_at", "must be after starts_at and in the future", location="body")
    if body.expires_at - starts_at > timedelta(days=OVERRIDE_MAX_DAYS):
        raise problems.invalid(
            "expires_at",
            f"an override lasts at most {OVERRIDE_MAX_DAYS} days; use a profile or the calendar",
            location="body",
        )
    with store_problems():
        created = dimming.create_override(
            conn, body.target_kind, body.target, body.level, starts_at, body.expires_at, body.reason, who.username
        )
    _record(request, conn, who, "dimming.override.create", f"override:{created['id']}", None, created)
    conn.commit()
    return _override_info(created, now)


@router.post(
    "/dimming/overrides/{override_id}/cancel",
    response_model=OverrideInfo,
    summary="End an override now: its lamps return to their schedule (energy manager, admin)",
    responses=problems.responses(404),
)
def cancel_override(request: Request, conn: Conn, who: EnergyManager, override_id: RecordId) -> OverrideInfo:
    with store_problems():
        before, after = dimming.cancel_override(conn, override_id, who.username)
    if before["cancelled_at"] is None:  # cancelling twice changes nothing and is not logged again
        _record(
            request,
            conn,
            who,
            "dimming.override.cancel",
            f"override:{override_id}",
            {"cancelled_at": None},
            {"cancelled_at": after["cancelled_at"]},
        )
        conn.commit()
    return _override_info(after, datetime.now(UTC))


# --- one lamp -----------------------------------------------------------------------


@router.get(
    "/lamps/{lamp_id}/dimming",
    response_model=LampDimming,
    summary="What a lamp follows tonight and why, its switch points for the next hours, and its latest plan push",
    responses=problems.responses(404),
)
def lamp_dimming(
    settings: SettingsDep,
    conn: Conn,
    who: Reader,
    lamp_id: Annotated[str, Path(pattern=LAMP_ID_PATTERN)],
    hours: Annotated[int, Query(ge=1, le=24 * 14, description="How far ahead to resolve the switch points.")] = 24,
) -> LampDimming:
    now = datetime.now(UTC).replace(microsecond=0)
    found = dimming.load_lamp_night(conn, lamp_id, now, hours, ZoneInfo(settings.town_timezone))
    if found is None:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")
    rule, push = found.rule, found.latest_push
    return LampDimming(
        lamp_id=lamp_id,
        night=found.night,
        rule=RuleInfo(
            source=rule.source,
            rule_id=rule.rule_id,
            profile_id=rule.profile_id,
            profile_name=found.profile.name if found.profile else None,
            profile_version=rule.profile_version,
            description=rule.description,
        ),
        located=found.located,
        points=[LevelPoint(at=point.at, level=point.level) for point in found.points],
        latest_push=None
        if push is None
        else PushInfo(
            **{key: value for key, value in push.items() if key != "plan"},
            points=len((push["plan"] or {}).get("points", [])),
        ),
    )
