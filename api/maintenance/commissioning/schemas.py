"""Request and response bodies of what the ingester could not store: dead letters, and lamp ids
seen on the wire but missing from the inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.paging import Page

_DEAD_LETTER_EXAMPLE: JsonDict = {
    "id": 1042,
    "received_at": "2026-11-25T17:04:13Z",
    "topic": "streetlight/v1/lamps/L-0042/telemetry",
    "lamp_id": "L-0042",
    "reason": "out_of_range",
    "detail": "power_w: Input should be less than or equal to 100000",
    "payload_encoding": "utf-8",
    "payload": '{"ts": "2026-11-25T18:04:12+01:00", "power_w": 1e9}',
    "payload_bytes": 51,
}


class DeadLetter(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DEAD_LETTER_EXAMPLE]})

    id: int
    received_at: datetime
    topic: str
    lamp_id: str | None
    reason: str
    detail: str
    payload_encoding: Literal["utf-8", "base64"] = Field(
        description="utf-8: `payload` is the text as received; base64: the bytes were not valid UTF-8."
    )
    payload: str
    payload_bytes: int


class DeadLetterPage(Page[DeadLetter]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 50, "offset": 0, "items": [_DEAD_LETTER_EXAMPLE]}]}
    )


_UNKNOWN_LAMP_EXAMPLE: JsonDict = {
    "lamp_id": "L-0999",
    "first_seen_at": "2026-11-20T16:00:00Z",
    "last_seen_at": "2026-11-25T17:00:00Z",
    "message_count": 812,
    "last_topic": "streetlight/v1/lamps/L-0999/telemetry",
    "status": "pending",
}


class UnknownLamp(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_UNKNOWN_LAMP_EXAMPLE]})

    lamp_id: str
    first_seen_at: datetime
    last_seen_at: datetime
    message_count: int
    last_topic: str
    status: Literal["pending", "commissioned", "dismissed"]


class UnknownLampPage(Page[UnknownLamp]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_UNKNOWN_LAMP_EXAMPLE]}]}
    )
