"""Request and response bodies of the lamp event endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.paging import Page
from api.vocabulary import EventSource
from core.columns import JsonObject, Text
from core.contract import EVENT_TYPE_PATTERN

_EVENT_EXAMPLE: JsonDict = {
    "lamp_id": "L-0042",
    "ts": "2026-11-25T17:04:12Z",
    "type": "lamp_failure",
    "detail": "no current at 100 %",
    "source": "controller",
    "received_at": "2026-11-25T17:04:13Z",
}


class Event(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    lamp_id: str
    ts: datetime
    type: str
    detail: Any = Field(description="Free text or an object, as reported.")
    source: EventSource
    received_at: datetime


class EventPage(Page[Event]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_EVENT_EXAMPLE]}]}
    )


class EventCreate(BaseModel):
    """An event recorded by a technician, e.g. a failure seen on site or a repair done."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"type": "repaired", "detail": "driver replaced"}]},
    )

    type: str = Field(
        pattern=EVENT_TYPE_PATTERN,
        description="lamp_failure, repaired, day_burning, ... (lower_snake). "
        "lamp_failure marks an in-service lamp faulty; repaired puts a faulty lamp back in service.",
    )
    ts: datetime | None = Field(None, description="When it happened (RFC 3339 with offset); now if left out.")
    detail: Text | JsonObject | None = Field(None, description="Free text or an object.")
