"""Request and response bodies of the JSON API (inventory, telemetry, events, commissioning, fleet).

Names follow the wire contract and the inventory columns; units are in the names
(`power_w`, `energy_today_kwh`). Vocabulary: a lamp's `state` is the inventory's
life cycle (planned, in_service, faulty, under_repair, retired); `online` is the
controller's connection as last reported on its status topic.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.contract import EVENT_TYPE_PATTERN

LAMP_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
LampState = Literal["planned", "in_service", "faulty", "under_repair", "retired"]
Technology = Literal["LED", "HPS", "LPS", "MH", "CFL", "OTHER"]
Connectivity = Literal["online", "offline", "unknown"]

_LAMP_EXAMPLE = {
    "lamp_id": "L-0042",
    "name": "Rue des Tilleuls 12",
    "lat": 48.8566,
    "lon": 2.3522,
    "street": "Rue des Tilleuls",
    "address": "12 rue des Tilleuls",
    "circuit": "C-07",
    "group_name": "centre",
    "technology": "LED",
    "rated_power_w": 54.0,
    "state": "in_service",
    "online": True,
}


# --- inventory ------------------------------------------------------------


class Lamp(BaseModel):
    """A lamp of the inventory, as listed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LAMP_EXAMPLE]})

    lamp_id: str
    name: str
    lat: float | None
    lon: float | None
    street: str
    address: str
    circuit: str
    group_name: str
    technology: str
    rated_power_w: float | None
    state: LampState
    online: bool | None = Field(description="Last reported connection; null when the controller never reported.")


class LampPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_LAMP_EXAMPLE]}]}
    )

    total: int = Field(description="How many lamps match the filters, over all pages.")
    limit: int
    offset: int
    items: list[Lamp]


class LampStatus(BaseModel):
    online: bool
    changed_at: datetime = Field(description="When the controller last changed between online and offline.")


class Reading(BaseModel):
    """One stored reading, as the controller sent it."""

    ts: datetime
    seq: int | None
    voltage_v: float | None
    current_a: float | None
    power_w: float | None
    power_factor: float | None
    energy_wh: float | None
    dim_level: float | None
    driver_temp_c: float | None
    ambient_lux: float | None
    burning_hours: float | None
    switch_cycles: int | None
    rssi_dbm: float | None
    extra: dict[str, Any] | None = Field(description="Fields the contract does not name, kept as sent.")
    received_at: datetime


_EVENT_EXAMPLE = {
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
    source: Literal["controller", "service", "technician"]
    received_at: datetime


class LampDetail(BaseModel):
    """One lamp: inventory data, connection, last reading and open events."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _LAMP_EXAMPLE
                | {
                    "lighting_class": "P4",
                    "model": "Luma 2",
                    "install_date": "2019-05-14",
                    "properties": {"pole_height_m": 8},
                    "created_at": "2026-01-10T09:00:00Z",
                    "updated_at": "2026-11-25T17:04:13Z",
                    "status": {"online": True, "changed_at": "2026-11-24T06:12:00Z"},
                    "last_reading": None,
                    "open_events": [],
                }
            ]
        }
    )

    lamp_id: str
    name: str
    lat: float | None
    lon: float | None
    street: str
    address: str
    circuit: str
    group_name: str
    lighting_class: str
    model: str
    technology: str
    rated_power_w: float | None
    install_date: date | None
    state: LampState
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    online: bool | None
    status: LampStatus | None = Field(description="Null when the controller never reported its connection.")
    last_reading: Reading | None = Field(description="The newest stored reading; null when there is none.")
    open_events: list[Event] = Field(description="Events since the last 'repaired' one, newest first (at most 100).")


class _LampFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    street: str = Field("", max_length=200)
    address: str = Field("", max_length=500)
    circuit: str = Field("", max_length=100)
    group_name: str = Field("", max_length=100)
    lighting_class: str = Field("", max_length=20, description="EN 13201 class, e.g. M3, C2, P4.")
    model: str = Field("", max_length=200)
    technology: Technology = "LED"
    rated_power_w: float | None = Field(None, gt=0, le=10000)
    install_date: date | None = None
    state: LampState = "in_service"
    properties: dict[str, Any] = Field(default_factory=dict, description="Anything else worth keeping.")


class LampCreate(_LampFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lamp_id": "L-0042",
                    "name": "Rue des Tilleuls 12",
                    "lat": 48.8566,
                    "lon": 2.3522,
                    "street": "Rue des Tilleuls",
                    "circuit": "C-07",
                    "group_name": "centre",
                    "rated_power_w": 54,
                }
            ]
        },
    )

    lamp_id: str = Field(pattern=LAMP_ID_PATTERN, description="The id its controller uses on the wire.")


class LampCommission(_LampFields):
    """Inventory data for a lamp seen on the wire: where it stands is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Place du Marché 3", "lat": 48.857, "lon": 2.351, "circuit": "C-02"}]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


# Inventory columns that are NOT NULL: a patch may change them but not clear them.
_REQUIRED_COLUMNS = ("name", "street", "address", "circuit", "group_name", "lighting_class", "model", "technology",
                     "state", "properties")


class LampUpdate(BaseModel):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"group_name": "centre-night-low", "rated_power_w": 36}]},
    )

    name: str | None = Field(None, max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    street: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=500)
    circuit: str | None = Field(None, max_length=100)
    group_name: str | None = Field(None, max_length=100)
    lighting_class: str | None = Field(None, max_length=20)
    model: str | None = Field(None, max_length=200)
    technology: Technology | None = None
    rated_power_w: float | None = Field(None, gt=0, le=10000)
    install_date: date | None = None
    state: LampState | None = None
    properties: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _required_not_cleared(self) -> LampUpdate:
        cleared = [name for name in _REQUIRED_COLUMNS if name in self.model_fields_set and getattr(self, name) is None]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# --- events ---------------------------------------------------------------


class EventPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_EVENT_EXAMPLE]}]}
    )

    total: int
    limit: int
    offset: int
    items: list[Event]


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
    detail: str | dict[str, Any] | None = Field(None, description="Free text or an object.")


# --- dead letters and commissioning ---------------------------------------

_DEAD_LETTER_EXAMPLE = {
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


class DeadLetterPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 50, "offset": 0, "items": [_DEAD_LETTER_EXAMPLE]}]}
    )

    total: int
    limit: int
    offset: int
    items: list[DeadLetter]


_UNKNOWN_LAMP_EXAMPLE = {
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


class UnknownLampPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_UNKNOWN_LAMP_EXAMPLE]}]}
    )

    total: int
    limit: int
    offset: int
    items: list[UnknownLamp]


# --- telemetry ------------------------------------------------------------

Bucket = Literal["raw", "5min", "1h", "1d"]


class Stats(BaseModel):
    avg: float | None
    min: float | None
    max: float | None


class TelemetryBucket(BaseModel):
    start: datetime = Field(description="Start of the bucket; 1d buckets start at the town's local midnight.")
    readings: int = Field(description="Readings in the bucket.")
    lamps: int = Field(description="Lamps with readings in the bucket.")
    values: dict[str, Stats] = Field(description="avg/min/max of each requested field over the bucket.")


class RawPoint(BaseModel):
    ts: datetime
    values: dict[str, float | None]


class Telemetry(BaseModel):
    """Readings of one lamp, or of the lamps of a group or circuit, over [from, to)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "scope": "lamp",
                    "name": "L-0042",
                    "lamp_count": 1,
                    "from": "2026-11-25T00:00:00Z",
                    "to": "2026-11-25T02:00:00Z",
                    "bucket": "1h",
                    "fields": ["power_w"],
                    "buckets": [
                        {
                            "start": "2026-11-25T00:00:00Z",
                            "readings": 6,
                            "lamps": 1,
                            "values": {"power_w": {"avg": 52.5, "min": 50.0, "max": 55.0}},
                        }
                    ],
                    "points": None,
                }
            ]
        },
    )

    scope: Literal["lamp", "group", "circuit"]
    name: str = Field(description="The lamp id, group name or circuit.")
    lamp_count: int = Field(description="Lamps in the scope (inventory), whether they reported or not.")
    from_: datetime = Field(alias="from")
    to: datetime
    bucket: Bucket
    fields: list[str]
    buckets: list[TelemetryBucket] | None = Field(None, description="When bucket is 5min, 1h or 1d.")
    points: list[RawPoint] | None = Field(None, description="When bucket is raw (one lamp only).")


# --- fleet ----------------------------------------------------------------


class ConnectivityCounts(BaseModel):
    online: int
    offline: int
    unknown: int = Field(description="Lamps whose controller never reported its connection.")


class Energy(BaseModel):
    today_kwh: float
    month_kwh: float
    today_from: datetime = Field(description="Local midnight today, in the town's time zone.")
    month_from: datetime = Field(description="Local midnight on the first of the month.")


class FleetSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "generated_at": "2026-11-25T17:05:00Z",
                    "time_zone": "Europe/Paris",
                    "lamps_total": 1204,
                    "lamps_by_state": {
                        "planned": 4,
                        "in_service": 1180,
                        "faulty": 12,
                        "under_repair": 3,
                        "retired": 5,
                    },
                    "connectivity": {"online": 1170, "offline": 21, "unknown": 8},
                    "lamps_out": 14,
                    "energy": {
                        "today_kwh": 312.4,
                        "month_kwh": 9870.2,
                        "today_from": "2026-11-24T23:00:00Z",
                        "month_from": "2026-10-31T23:00:00Z",
                    },
                    "dead_letters_24h": 3,
                    "unknown_lamps_pending": 1,
                }
            ]
        }
    )

    generated_at: datetime
    time_zone: str
    lamps_total: int
    lamps_by_state: dict[str, int] = Field(description="Every state, zero included.")
    connectivity: ConnectivityCounts = Field(description="Over lamps not retired.")
    lamps_out: int = Field(description="Lamps not retired that are faulty or have an open lamp_failure event.")
    energy: Energy
    dead_letters_24h: int
    unknown_lamps_pending: int


class FleetMap(BaseModel):
    """Every lamp with coordinates, as parallel arrays: item i of each array is the same lamp."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "generated_at": "2026-11-25T17:05:00Z",
                    "lamps": 3,
                    "without_position": 1,
                    "states": ["planned", "in_service", "faulty", "under_repair", "retired"],
                    "lamp_id": ["L-0041", "L-0042", "L-0043"],
                    "lat": [48.856512, 48.8566, 48.856702],
                    "lon": [2.352104, 2.3522, 2.352297],
                    "state": [1, 2, 1],
                    "online": [True, False, None],
                }
            ]
        }
    )

    generated_at: datetime
    lamps: int = Field(description="Lamps on the map (those with coordinates), the length of each array.")
    without_position: int = Field(description="Lamps left out because their coordinates are not known.")
    states: list[LampState] = Field(description="The states that `state` refers to, by position.")
    lamp_id: list[str] = Field(description="In id order.")
    lat: list[float] = Field(description="WGS 84 degrees, rounded to 6 decimals (about 0.1 m).")
    lon: list[float] = Field(description="WGS 84 degrees, rounded to 6 decimals.")
    state: list[int] = Field(description="Each lamp's inventory state, as its position in `states`.")
    online: list[bool | None] = Field(description="Last reported connection; null when never reported.")
