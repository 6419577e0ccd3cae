"""Example payloads of the AsyncAPI document (`core.asyncapi`), beyond those the models carry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.contract import STATUS_OFFLINE, STATUS_ONLINE, LampEvent, TelemetryReading


def _examples(model: type[BaseModel]) -> list[Any]:
    extra = model.model_config.get("json_schema_extra")
    if not isinstance(extra, dict):
        return []
    examples = extra.get("examples", [])
    assert isinstance(examples, list)
    return list(examples)


_BATCH_EXAMPLE = [
    {"ts": "2026-11-25T02:00:00+01:00", "seq": 1790, "power_w": 31.8, "dim_level": 60, "energy_wh": 1531010.0},
    {"ts": "2026-11-25T02:15:00+01:00", "seq": 1791, "power_w": 31.9, "dim_level": 60, "energy_wh": 1531018.0},
    {"ts": "2026-11-25T02:30:00+01:00", "seq": 1792, "power_w": 31.7, "dim_level": 60, "energy_wh": 1531026.0},
]
_VENDOR_FIELD_EXAMPLE = {
    "ts": "2026-11-25T18:01:00+01:00",
    "power_w": 52.3,
    "dim_level": 100,
    "tilt_deg": 1.5,
    "firmware": "4.2.1",
}
_EVENT_EXAMPLES = [
    {"ts": "2026-11-25T09:12:00+01:00", "type": "day_burning", "detail": {"ambient_lux": 8200, "power_w": 51.0}},
    {"ts": "2026-11-27T14:30:00+01:00", "type": "repaired", "detail": "driver replaced"},
]
# Covers PLAN_MIN_HORIZON (48 h) from generated_at, as every pushed plan does.
_PLAN_EXAMPLE = {
    "version": 8,
    "generated_at": "2026-11-25T12:00:00Z",
    "points": [
        {"at": "2026-11-25T16:12:00Z", "level": 100},
        {"at": "2026-11-25T21:00:00Z", "level": 60},
        {"at": "2026-11-26T01:00:00Z", "level": 30},
        {"at": "2026-11-26T05:00:00Z", "level": 100},
        {"at": "2026-11-26T07:31:00Z", "level": 0},
        {"at": "2026-11-26T16:11:00Z", "level": 100},
        {"at": "2026-11-26T21:00:00Z", "level": 60},
        {"at": "2026-11-27T01:00:00Z", "level": 30},
        {"at": "2026-11-27T05:00:00Z", "level": 100},
        {"at": "2026-11-27T07:33:00Z", "level": 0},
        {"at": "2026-11-27T16:10:00Z", "level": 100},
    ],
}
_ACK_EXAMPLES = [
    {"version": 8, "status": "applied"},
    {"version": 8, "status": "rejected", "reason": "plan has 11 points; this controller stores at most 10"},
]


def _example(name: str, summary: str, payload: Any) -> dict[str, Any]:
    return {"name": name, "summary": summary, "payload": payload}


def message_examples() -> dict[str, list[dict[str, Any]]]:
    return {
        "telemetry": [
            _example("reading", "One reading.", _examples(TelemetryReading)[0]),
            _example("batch", "Three readings sent together after an outage.", _BATCH_EXAMPLE),
            _example("vendorFields", "Fields the contract does not name are kept as they are.", _VENDOR_FIELD_EXAMPLE),
        ],
        "event": [
            _example("lampFailure", "The lamp should be lit but draws no current.", _examples(LampEvent)[0]),
            _example("dayBurning", "Lit in daylight.", _EVENT_EXAMPLES[0]),
            _example("repaired", "A technician put the lamp back in service.", _EVENT_EXAMPLES[1]),
        ],
        "status": [
            _example("online", "Published by the controller when it connects.", STATUS_ONLINE),
            _example("offline", "The controller's last will, published by the broker.", STATUS_OFFLINE),
        ],
        "plan": [_example("twoNights", "Two nights with midnight dimming.", _PLAN_EXAMPLE)],
        "planAck": [
            _example("applied", "The controller runs the plan.", _ACK_EXAMPLES[0]),
            _example("rejected", "The controller cannot run the plan.", _ACK_EXAMPLES[1]),
        ],
    }
