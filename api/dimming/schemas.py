"""Request and response bodies of the dimming endpoints: profiles, assignments, calendar, overrides.

Steps and profile specs are the dimming package's own models (one definition for the API,
the store and the preview). Vocabulary: a rule's `target_kind` is town, lighting_class,
circuit, street, group or lamp; `target` names it ("" for the town).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from core.columns import INTEGER_MAX, BigInt, SmallInt, Text
from dimming import MONTH_DAY_PATTERN, NAME_MAX_LENGTH, ExceptionKind, ProfileSpec, Source, Step, TargetKind, Twilight

_STEPS_EXAMPLE: list[JsonValue] = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 40},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
_PROFILE_EXAMPLE: JsonDict = {
    "id": 3,
    "name": "Residential streets",
    "description": "Full light in the evening, 40 % from 23:00 to 05:00",
    "version": 2,
    "twilight": "sunset",
    "steps": _STEPS_EXAMPLE,
    "retired_at": None,
    "created_at": "2026-10-01T09:00:00Z",
    "updated_at": "2026-11-20T08:10:00Z",
    "updated_by": "mathilde",
}


# --- profiles -----------------------------------------------------------------------


class ProfileInfo(BaseModel):
    """A profile as it is now (its version in force)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]})

    id: int
    name: str
    description: str
    version: int = Field(description="The version in force; every edit makes a new one, old ones are kept")
    twilight: Twilight
    steps: list[Step]
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ProfileVersionInfo(BaseModel):
    version: int
    name: str
    description: str
    twilight: Twilight
    steps: list[Step]
    created_at: datetime
    created_by: str


class ProfileDetail(ProfileInfo):
    """A profile, what uses it, and all its versions (newest first)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _PROFILE_EXAMPLE
                | {
                    "used_by": ["assignment 4 (group centre)"],
                    "versions": [
                        {k: _PROFILE_EXAMPLE[k] for k in ("version", "name", "description", "twilight", "steps")}
                        | {"created_at": "2026-11-20T08:10:00Z", "created_by": "mathilde"}
                    ],
                }
            ]
        }
    )

    used_by: list[str] = Field(description="The assignments and calendar exceptions that use the profile")
    versions: list[ProfileVersionInfo]


class ProfileEdit(ProfileSpec):
    """A new version of a profile. `version` is the one the edit started from (409 if it is no longer current)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{k: _PROFILE_EXAMPLE[k] for k in ("name", "description", "twilight", "steps", "version")}]
        },
    )

    version: int = Field(ge=1, le=INTEGER_MAX)


class ProfileCopy(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Residential streets, winter"}]})

    name: Text = Field(min_length=1, max_length=NAME_MAX_LENGTH, description="The new profile's name")


# --- assignments --------------------------------------------------------------------

_ASSIGNMENT_EXAMPLE: JsonDict = {
    "id": 4,
    "target_kind": "group",
    "target": "centre",
    "profile_id": 3,
    "profile_name": "Residential streets",
    "created_at": "2026-11-20T08:12:00Z",
    "created_by": "mathilde",
}


class AssignmentInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ASSIGNMENT_EXAMPLE]})

    id: int
    target_kind: TargetKind
    target: str
    profile_id: int
    profile_name: str
    created_at: datetime
    created_by: str


class AssignmentSet(BaseModel):
    """Give a target a profile; a target that already has one gets the new one instead."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"target_kind": "group", "target": "centre", "profile_id": 3}]},
    )

    target_kind: TargetKind
    target: Text = Field(
        "", max_length=200, description='The lamp id, group, street, circuit or class; "" for the town'
    )
    profile_id: BigInt


# --- calendar -----------------------------------------------------------------------

_EXCEPTION_EXAMPLE: JsonDict = {
    "name": "Winter festival",
    "profile_id": 5,
    "kind": "yearly",
    "start_date": None,
    "end_date": None,
    "weekdays": None,
    "start_day": "01-24",
    "end_day": "02-01",
    "target_kind": "town",
    "target": "",
    "priority": 10,
}


class CalendarExceptionSet(BaseModel):
    """Nights that follow another profile. Give start_date and end_date for `dates`, weekdays
    (1 = Monday ... 7 = Sunday, optionally bounded by start_date/end_date) for `weekdays`, and
    start_day/end_day ("MM-DD", may wrap the year end) for `yearly`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXCEPTION_EXAMPLE]})

    name: Text = Field(min_length=1, max_length=100)
    profile_id: BigInt
    kind: ExceptionKind
    start_date: date | None = None
    end_date: date | None = None
    weekdays: list[SmallInt] | None = Field(None, max_length=7)
    start_day: str | None = Field(None, pattern=MONTH_DAY_PATTERN, description="MM-DD")
    end_day: str | None = Field(None, pattern=MONTH_DAY_PATTERN, description="MM-DD")
    target_kind: TargetKind = "town"
    target: Text = Field("", max_length=200)
    priority: int = Field(0, ge=-1000, le=1000, description="On overlap the higher priority wins")


class CalendarExceptionInfo(CalendarExceptionSet):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _EXCEPTION_EXAMPLE
                | {
                    "id": 2,
                    "profile_name": "Full light",
                    "created_at": "2026-11-20T08:15:00Z",
                    "updated_at": "2026-11-20T08:15:00Z",
                    "created_by": "mathilde",
                }
            ]
        }
    )

    id: int
    profile_name: str
    created_at: datetime
    updated_at: datetime
    created_by: str


# --- overrides ----------------------------------------------------------------------

_OVERRIDE_EXAMPLE: JsonDict = {
    "target_kind": "street",
    "target": "Rue des Tilleuls",
    "level": 100,
    "starts_at": "2026-11-25T17:00:00Z",
    "expires_at": "2026-11-25T23:00:00Z",
    "reason": "road works at night",
}


class OverrideCreate(BaseModel):
    """A fixed level for a while. Without starts_at it starts now."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_OVERRIDE_EXAMPLE]})

    target_kind: TargetKind
    target: Text = Field("", max_length=200)
    level: int = Field(ge=0, le=100, description="0-100 %, 0 = off")
    starts_at: AwareDatetime | None = None
    expires_at: AwareDatetime
    reason: Text = Field("", max_length=500)


class OverrideInfo(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _OVERRIDE_EXAMPLE
                | {
                    "id": 7,
                    "created_by": "mathilde",
                    "created_at": "2026-11-25T16:55:00Z",
                    "cancelled_at": None,
                    "cancelled_by": None,
                    "state": "scheduled",
                }
            ]
        }
    )

    id: int
    target_kind: TargetKind
    target: str
    level: int
    starts_at: datetime
    expires_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    state: Literal["scheduled", "active", "expired", "cancelled"]


# --- one lamp -----------------------------------------------------------------------


class RuleInfo(BaseModel):
    source: Source = Field(description="override, calendar, the assignment's target kind, or none")
    rule_id: int | None = Field(description="The override, calendar exception or assignment id")
    profile_id: int | None
    profile_name: str | None
    profile_version: int | None
    description: str


class LevelPoint(BaseModel):
    at: datetime
    level: int


class PushInfo(BaseModel):
    version: int
    created_at: datetime
    pushed_at: datetime | None
    attempts: int
    ack_status: Literal["applied", "rejected"] | None
    ack_reason: str | None
    acked_at: datetime | None
    points: int = Field(description="How many switch points the plan has")


class LampDimming(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lamp_id": "L-0042",
                    "night": "2026-11-25",
                    "rule": {
                        "source": "group",
                        "rule_id": 4,
                        "profile_id": 3,
                        "profile_name": "Residential streets",
                        "profile_version": 2,
                        "description": 'assigned to group "centre": profile "Residential streets" version 2',
                    },
                    "located": True,
                    "points": [
                        {"at": "2026-11-25T16:00:00Z", "level": 0},
                        {"at": "2026-11-25T16:12:00Z", "level": 100},
                        {"at": "2026-11-25T22:00:00Z", "level": 40},
                        {"at": "2026-11-26T04:00:00Z", "level": 100},
                        {"at": "2026-11-26T07:31:00Z", "level": 0},
                        {"at": "2026-11-26T16:00:00Z", "level": 0},
                    ],
                    "latest_push": {
                        "version": 12,
                        "created_at": "2026-11-25T12:00:00Z",
                        "pushed_at": "2026-11-25T12:00:01Z",
                        "attempts": 1,
                        "ack_status": "applied",
                        "ack_reason": None,
                        "acked_at": "2026-11-25T12:00:02Z",
                        "points": 9,
                    },
                }
            ]
        }
    )

    lamp_id: str
    night: date = Field(description="The local date the night shown started (or starts) on")
    rule: RuleInfo = Field(description="What gives the lamp its light that night (an active override first)")
    located: bool = Field(description="False: the lamp has no coordinates, so no plan can be resolved for it")
    points: list[LevelPoint] = Field(description="The resolved switch points from now for the hours asked")
    latest_push: PushInfo | None
