"""Response bodies of the fleet endpoints: the summary and the map."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.vocabulary import LampState


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
