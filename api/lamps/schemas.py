"""Request and response bodies of the lamp inventory endpoints.

Names follow the wire contract and the inventory columns; units are in the names
(`rated_power_w`). A lamp's `state` is the inventory's life cycle; `online` is the
controller's connection as last reported on its status topic.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from api.maintenance.events.schemas import Event
from api.paging import Page
from api.vocabulary import LampState, Technology
from core.columns import FitsReal, JsonObject, NoNul, Text

LAMP_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Connectivity = Literal["online", "offline", "unknown"]
# A lamp's rated power, as its `real` column holds it.
RatedPowerW = Annotated[float, Field(gt=0, le=10000), FitsReal]

_LAMP_EXAMPLE: JsonDict = {
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


class LampPage(Page[Lamp]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_LAMP_EXAMPLE]}]}
    )

    total: int = Field(description="How many lamps match the filters, over all pages.")


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


class LampFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field("", max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    street: Text = Field("", max_length=200)
    address: Text = Field("", max_length=500)
    circuit: Text = Field("", max_length=100)
    group_name: Text = Field("", max_length=100)
    lighting_class: Text = Field("", max_length=20, description="EN 13201 class, e.g. M3, C2, P4.")
    model: Text = Field("", max_length=200)
    technology: Technology = "LED"
    rated_power_w: RatedPowerW | None = None
    install_date: date | None = None
    state: LampState = "in_service"
    properties: JsonObject = Field(default_factory=dict, description="Anything else worth keeping.")


class LampCreate(LampFields):
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


class LampCommission(LampFields):
    """Inventory data for a lamp seen on the wire: where it stands is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Place du Marché 3", "lat": 48.857, "lon": 2.351, "circuit": "C-02"}]},
    )

    name: Text = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


# Inventory columns that are NOT NULL: a patch may change them but not clear them.
_REQUIRED_COLUMNS = (
    "name",
    "street",
    "address",
    "circuit",
    "group_name",
    "lighting_class",
    "model",
    "technology",
    "state",
    "properties",
)


class LampUpdate(BaseModel):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"group_name": "centre-night-low", "rated_power_w": 36}]},
    )

    # An optional text's bounds go inside, before the NUL check, to stay JSON Schema keywords.
    name: Annotated[str, Field(max_length=200), NoNul] | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    street: Annotated[str, Field(max_length=200), NoNul] | None = None
    address: Annotated[str, Field(max_length=500), NoNul] | None = None
    circuit: Annotated[str, Field(max_length=100), NoNul] | None = None
    group_name: Annotated[str, Field(max_length=100), NoNul] | None = None
    lighting_class: Annotated[str, Field(max_length=20), NoNul] | None = None
    model: Annotated[str, Field(max_length=200), NoNul] | None = None
    technology: Technology | None = None
    rated_power_w: RatedPowerW | None = None
    install_date: date | None = None
    state: LampState | None = None
    properties: JsonObject | None = None

    @model_validator(mode="after")
    def _required_not_cleared(self) -> LampUpdate:
        cleared = [name for name in _REQUIRED_COLUMNS if name in self.model_fields_set and getattr(self, name) is None]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}
