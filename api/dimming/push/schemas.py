"""Request and response bodies of the plan delivery endpoints: push status and push requests.

A lamp's push `state` is one of applied, pending, rejected, stale (dimming.PushState).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from dimming import PushState

_SCHEDULER_EXAMPLE: JsonDict = {"active": True, "name": "lights-1:4121", "since": "2026-11-25T06:02:11Z"}
_ITEM_EXAMPLE: JsonDict = {
    "lamp_id": "L-0042",
    "name": "Rue des Tilleuls 12",
    "state": "pending",
    "detail": "version 8 sent 2 time(s), not answered yet",
    "version": 8,
    "created_at": "2026-11-25T12:00:03Z",
    "pushed_at": "2026-11-25T12:01:04Z",
    "attempts": 2,
    "ack_status": None,
    "ack_reason": None,
    "acked_at": None,
    "applied_version": 7,
    "applied_until": "2026-11-27T12:00:00Z",
}


class SchedulerInfo(BaseModel):
    active: bool = Field(description="Whether a plan scheduler is running (one replica holds its lock).")
    name: str | None = Field(None, description="The replica that runs it: host and process id.")
    since: datetime | None = Field(None, description="When that replica's database session began.")


class LampPushStatus(BaseModel):
    lamp_id: str
    name: str
    state: PushState
    detail: str = Field(description="The state in words, for people.")
    version: int | None = Field(description="The lamp's latest plan version; null if none was pushed.")
    created_at: datetime | None = Field(description="When that version was resolved.")
    pushed_at: datetime | None = Field(description="When the broker last took it.")
    attempts: int = Field(description="How many times it was published.")
    ack_status: Literal["applied", "rejected"] | None = Field(
        description="applied or rejected, as the controller answered; null until then."
    )
    ack_reason: str | None
    acked_at: datetime | None
    applied_version: int | None = Field(description="The latest version the controller applied.")
    applied_until: datetime | None = Field(description="Where that plan ends; the controller's local default after it.")


class PushStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scheduler": _SCHEDULER_EXAMPLE,
                    "counts": {"applied": 1496, "pending": 1, "rejected": 1, "stale": 2},
                    "total": 4,
                    "limit": 100,
                    "offset": 0,
                    "items": [_ITEM_EXAMPLE],
                }
            ]
        }
    )

    scheduler: SchedulerInfo
    counts: dict[PushState, int] = Field(description="Lamps that get a plan, per state (all states, always).")
    total: int = Field(description="Lamps in the listed states, over all pages.")
    limit: int
    offset: int
    items: list[LampPushStatus]


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"all": False}]})

    all: bool = Field(
        False, description="Push a new version to every lamp, changed or not (default: only the changed plans)."
    )


class PushAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "all": False,
                    "scheduler": _SCHEDULER_EXAMPLE,
                    "detail": "the plan scheduler checks every lamp now; follow it on /api/v1/dimming/push-status",
                }
            ]
        }
    )

    all: bool
    scheduler: SchedulerInfo
    detail: str
