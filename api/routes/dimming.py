"""Dimming schedules: profiles, assignments, the calendar, overrides, and what a lamp follows.

Everyone signed in reads; energy managers and administrators change. Every change is
audited with the state before and after, and the plan scheduler is notified in the
same transaction (dimming.store), so that new plans go out within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel

from api import audit, problems
from api.deps import Conn, EnergyManager, Principal, Reader
from api.problems import VALIDATION_ERROR, ProblemException
from api.schemas import LAMP_ID_PATTERN
from api.schemas_dimming import (
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
    profile_record,
)
from core.settings import Settings
from dimming import store
from dimming.calendar import CalendarException, check
from dimming.profiles import ProfileError, ProfileSpec, validate_profile
from dimming.resolve import DEFAULT_STEPS, DEFAULT_TWILIGHT, Lamp, explain, night_levels, resolve_plans

router = APIRouter(prefix="/api/v1", tags=["dimming"], responses=problems.responses(401, 403))

# An override is for an incident, an event or maintenance; a lasting change is a profile.
OVERRIDE_MAX_DAYS = 31
ProfileId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _list_example(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI example of a list answer: the item model's own examples, as a list."""
    return {200: {"content": {"application/json": {"example": model.model_config["json_schema_extra"]["examples"]}}}}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


@contextmanager
def _store_problems() -> Iterator[None]:
    """What the store refuses, as the problem it is: 404, 409, or 422 naming the field."""
    try:
        yield
    except store.StoreError as exc:
        raise _store_error(exc) from None


def _store_error(exc: store.StoreError) -> ProblemException:
    if isinstance(exc, store.NotFound):
        return ProblemException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, store.Conflict):
        extensions = {"field": exc.field} if exc.field else None
        return ProblemException(status.HTTP_409_CONFLICT, str(exc), extensions=extensions)
    return problems.invalid(exc.field or "body", str(exc), location="body")


def _profile_problem(exc: ProfileError) -> ProblemException:
    """422 naming each bad step: `field` is the JSON path (steps counted from 0), the message counts from 1."""
    errors = []
    for error in exc.errors:
        if error.step is None:
            field = "steps"
        else:
            field = f"steps.{error.step - 1}" + (f".{error.field}" if error.field else "")
        errors.append({"location": "body", "field": field, "message": error.message, "type": "value_error"})
    count = len(errors)
    return ProblemException(
        422,
        f"{count} problem{'s' if count != 1 else ''} with the profile: {exc}",
        type=VALIDATION_ERROR,
        extensions={"errors": errors},
    )


def _validated(spec: ProfileSpec, settings: Settings) -> ProfileSpec:
    try:
        validate_profile(spec, min_level=settings.dimming_min_level, max_steps=settings.dimming_max_steps)
    except ProfileError as exc:
        raise _profile_problem(exc) from None
    return spec


def _record(request: Request, conn: psycopg.Connection, who: Principal, action: str, target: str,
            before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    audit.record(conn, who.username, action, target, before, after, audit.client_ip(request))


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
    return [ProfileInfo(**row) for row in store.list_profiles(conn, include_retired=include_retired)]


@router.post(
    "/dimming/profiles",
    response_model=ProfileInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Create a profile (energy manager, admin)",
    responses=problems.responses(409),
)
def create_profile(request: Request, conn: Conn, who: EnergyManager, spec: ProfileSpec) -> ProfileInfo:
    _validated(spec, _settings(request))
    with _store_problems():
        created = store.create_profile(conn, spec, who.username)
    _record(request, conn, who, "dimming.profile.create", f"profile:{created['id']}", None, profile_record(created))
    conn.commit()
    return ProfileInfo(**created)


def _detail(conn: psycopg.Connection, profile_id: int) -> ProfileDetail:
    with _store_problems():
        profile = store.get_profile(conn, profile_id)
        versions = store.profile_versions(conn, profile_id)
    return ProfileDetail(**profile, used_by=store.profile_users(conn, profile_id), versions=versions)


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
    request: Request, conn: Conn, who: EnergyManager, profile_id: ProfileId, edit: ProfileEdit
) -> ProfileDetail:
    spec = _validated(ProfileSpec(**edit.model_dump(exclude={"version"})), _settings(request))
    with _store_problems():
        before, after = store.update_profile(conn, profile_id, spec, edit.version, who.username)
    _record(request, conn, who, "dimming.profile.update", f"profile:{profile_id}",
            profile_record(before), profile_record(after))
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
    with _store_problems():
        created = store.copy_profile(conn, profile_id, body.name, who.username)
    _record(request, conn, who, "dimming.profile.copy", f"profile:{created['id']}",
            {"copied_from": profile_id}, profile_record(created))
    conn.commit()
    return ProfileInfo(**created)


@router.post(
    "/dimming/profiles/{profile_id}/retire",
    response_model=ProfileInfo,
    summary="Retire a profile no assignment or calendar exception uses (energy manager, admin; 409 if used)",
    responses=problems.responses(404, 409),
)
def retire_profile(request: Request, conn: Conn, who: EnergyManager, profile_id: ProfileId) -> ProfileInfo:
    with _store_problems():
        before, after = store.retire_profile(conn, profile_id, who.username)
    if before["retired_at"] is None:  # retiring twice changes nothing and is not logged again
        _record(request, conn, who, "dimming.profile.retire", f"profile:{profile_id}",
                {"retired_at": None}, {"retired_at": after["retired_at"]})
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
    return [AssignmentInfo(**row) for row in store.list_assignments(conn)]


@router.post(
    "/dimming/assignments",
    response_model=AssignmentInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Give a lamp, group, street, circuit, lighting class or the town a profile (energy manager, admin)",
)
def set_assignment(request: Request, conn: Conn, who: EnergyManager, body: AssignmentSet) -> AssignmentInfo:
    with _store_problems():
        before, after = store.assign(conn, body.target_kind, body.target, body.profile_id, who.username)
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
    with _store_problems():
        before = store.delete_assignment(conn, assignment_id)
    _record(request, conn, who, "dimming.assignment.delete", f"{before['target_kind']}:{before['target']}",
            before, None)
    conn.commit()


# --- calendar -----------------------------------------------------------------------


def _exception_values(body: CalendarExceptionSet) -> dict[str, Any]:
    values = body.model_dump()
    problems_found = check(
        CalendarException(exception_id=0, **{**values, "weekdays": tuple(values["weekdays"] or ())})
    )
    if problems_found:
        errors = [{"location": "body", "field": field, "message": message, "type": "value_error"}
                  for field, message in problems_found]
        raise ProblemException(
            422, f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''}: "
            + "; ".join(e["message"] for e in errors),
            type=VALIDATION_ERROR, extensions={"errors": errors},
        )
    return values


@router.get(
    "/dimming/calendar",
    response_model=list[CalendarExceptionInfo],
    summary="Calendar exceptions, highest priority first",
    responses=_list_example(CalendarExceptionInfo),
)
def list_calendar(conn: Conn, who: Reader) -> list[CalendarExceptionInfo]:
    return [CalendarExceptionInfo(**row) for row in store.list_exceptions(conn)]


@router.post(
    "/dimming/calendar",
    response_model=CalendarExceptionInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Add a calendar exception: dates, weekdays or yearly days with their own profile (energy manager, admin)",
)
def create_calendar_exception(
    request: Request, conn: Conn, who: EnergyManager, body: CalendarExceptionSet
) -> CalendarExceptionInfo:
    values = _exception_values(body)
    with _store_problems():
        created = store.create_exception(conn, values, who.username)
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
    values = _exception_values(body)
    with _store_problems():
        before, after = store.update_exception(conn, exception_id, values)
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
    with _store_problems():
        before = store.delete_exception(conn, exception_id)
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
    now = datetime.now(timezone.utc)
    rows = store.list_overrides(conn, active_at=None if include_past else now, limit=limit)
    return [_override_info(row, now) for row in rows]


@router.post(
    "/dimming/overrides",
    response_model=OverrideInfo,
    status_code=status.HTTP_201_CREATED,
    summary=f"Set a fixed level for a while, up to {OVERRIDE_MAX_DAYS} days; it ends by itself (energy manager, admin)",
)
def create_override(request: Request, conn: Conn, who: EnergyManager, body: OverrideCreate) -> OverrideInfo:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    starts_at = body.starts_at or now
    if body.expires_at <= max(starts_at, now):
        raise problems.invalid("expires_at", "must be after starts_at and in the future", location="body")
    if body.expires_at - starts_at > timedelta(days=OVERRIDE_MAX_DAYS):
        raise problems.invalid(
            "expires_at", f"an override lasts at most {OVERRIDE_MAX_DAYS} days; use a profile or the calendar",
            location="body",
        )
    with _store_problems():
        created = store.create_override(
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
    with _store_problems():
        before, after = store.cancel_override(conn, override_id, who.username)
    if before["cancelled_at"] is None:  # cancelling twice changes nothing and is not logged again
        _record(request, conn, who, "dimming.override.cancel", f"override:{override_id}",
                {"cancelled_at": None}, {"cancelled_at": after["cancelled_at"]})
        conn.commit()
    return _override_info(after, datetime.now(timezone.utc))


# --- one lamp -----------------------------------------------------------------------


def _night_shown(config, lamp: Lamp, located: bool, now: datetime, tz: ZoneInfo) -> date:
    """The night in progress, or else the coming one (local date it starts on)."""
    today = now.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    if not located:
        return yesterday if now.astimezone(tz).hour < 12 else today
    rule = explain(config, lamp, yesterday)
    profile = config.profiles.get(rule.profile_id) if rule.profile_id is not None else None
    steps, twilight = (profile.steps, profile.twilight) if profile else (DEFAULT_STEPS, DEFAULT_TWILIGHT)
    points = night_levels(steps, twilight, yesterday, lamp.lat, lamp.lon, tz)
    return yesterday if points and now < points[-1][0] else today


@router.get(
    "/lamps/{lamp_id}/dimming",
    response_model=LampDimming,
    summary="What a lamp follows tonight and why, its switch points for the next hours, and its latest plan push",
    responses=problems.responses(404),
)
def lamp_dimming(
    request: Request,
    conn: Conn,
    who: Reader,
    lamp_id: Annotated[str, Path(pattern=LAMP_ID_PATTERN)],
    hours: Annotated[int, Query(ge=1, le=24 * 14, description="How far ahead to resolve the switch points.")] = 24,
) -> LampDimming:
    row = store.lamp(conn, lamp_id)
    if row is None:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp {lamp_id}")
    tz = ZoneInfo(_settings(request).town_timezone)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    config = store.load_config(conn, now)
    located = row["lat"] is not None and row["lon"] is not None
    lamp = Lamp(
        lamp_id, row["lat"] if located else 0.0, row["lon"] if located else 0.0,
        row["group_name"], row["street"], row["circuit"], row["lighting_class"],
    )
    night = _night_shown(config, lamp, located, now, tz)
    rule = explain(config, lamp, night, at=now)
    profile = config.profiles.get(rule.profile_id) if rule.profile_id is not None else None
    points = resolve_plans(config, [lamp], now, hours, tz)[lamp_id] if located else []
    push = store.latest_push(conn, lamp_id)
    return LampDimming(
        lamp_id=lamp_id,
        night=night,
        rule=RuleInfo(
            source=rule.source, rule_id=rule.rule_id, profile_id=rule.profile_id,
            profile_name=profile.name if profile else None, profile_version=rule.profile_version,
            description=rule.description,
        ),
        located=located,
        points=[LevelPoint(at=point.at, level=point.level) for point in points],
        latest_push=None if push is None else PushInfo(
            **{key: value for key, value in push.items() if key != "plan"},
            points=len((push["plan"] or {}).get("points", [])),
        ),
    )
