"""Response bodies of the daily round: the visits of one day, lamps and circuits, grouped by street."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.vocabulary import WorkOrderSource

_VISIT_EXAMPLE: JsonDict = {
    "position": 1,
    "kind": "lamp",
    "work_order_id": 12,
    "status": "scheduled",
    "scheduled_for": "2026-11-26",
    "source": "prediction",
    "lamp_id": "L-0042",
    "circuit": "C-07",
    "lamps": None,
    "streets": [],
    "name": "Rue des Tilleuls 12",
    "street": "Rue des Tilleuls",
    "address": "12 rue des Tilleuls",
    "lat": 48.8566,
    "lon": 2.3522,
    "probability": 0.83,
    "reason": "power factor fell from 0.96 to 0.88 over 10 days",
    "notes": "bring a 54 W driver",
}
_CIRCUIT_VISIT_EXAMPLE: JsonDict = {
    "position": 2,
    "kind": "circuit",
    "work_order_id": None,
    "status": None,
    "scheduled_for": None,
    "source": None,
    "lamp_id": None,
    "circuit": "C-03",
    "lamps": 27,
    "streets": ["Rue des Tilleuls", "Allée des Saules"],
    "name": "Circuit C-03 (27 lamps)",
    "street": "Rue des Tilleuls",
    "address": "",
    "lat": 48.8571,
    "lon": 2.3519,
    "probability": 0.64,
    "reason": "the circuit's voltage sagged by 9 V over 7 days",
    "notes": "",
}


class Visit(BaseModel):
    """A stop of the round: a lamp's work order, or a circuit to check at its cabinet (one visit for all its
    lamps)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VISIT_EXAMPLE, _CIRCUIT_VISIT_EXAMPLE]})

    position: int = Field(description="Order of urgency over the whole round, from 1.")
    kind: Literal["lamp", "circuit"]
    work_order_id: int | None = Field(description="The lamp's work order; null for a circuit.")
    status: Literal["open", "scheduled"] | None = Field(description="The work order's; null for a circuit.")
    scheduled_for: date | None
    source: WorkOrderSource | None = Field(description="The work order's; null for a circuit.")
    lamp_id: str | None = Field(description="Null for a circuit.")
    circuit: str = Field(description="The circuit checked, or the lamp's circuit (empty when it has none).")
    lamps: int | None = Field(description="A circuit's lamps, as its score counted them; null for a lamp.")
    streets: list[str] = Field(
        description="A circuit's streets, the one with most lamps first (the first is `street`); empty for a lamp."
    )
    name: str = Field(description="The lamp's name; for a circuit, its name and lamps in the requested language.")
    street: str
    address: str = Field(description="The lamp's address; empty for a circuit.")
    lat: float | None = Field(description="The lamp's position, or the centroid of a circuit's lamps.")
    lon: float | None
    probability: float | None = Field(
        description="The lamp's newest failure score (null when never scored), or the circuit's probability of a "
        "supply loss."
    )
    reason: str = Field(description="Why the lamp or circuit is visited, in the requested language.")
    notes: str


class RoundStreet(BaseModel):
    street: str = Field(description="Empty for lamps, or circuits, without a street in the inventory.")
    visits: list[Visit]


class DailyRound(BaseModel):
    """The visits of one day, lamps and circuits, grouped by street, the most urgent street first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2026-11-26",
                    "capacity": 20,
                    "scheduled": 1,
                    "circuits": 1,
                    "total": 2,
                    "streets": [{"street": "Rue des Tilleuls", "visits": [_VISIT_EXAMPLE, _CIRCUIT_VISIT_EXAMPLE]}],
                }
            ]
        }
    )

    day: date
    capacity: int = Field(description="Visits the crews can make in a day (STREETLIGHT_CREW_VISITS_PER_DAY).")
    scheduled: int = Field(description="Visits scheduled for the day; they are always in the round.")
    circuits: int = Field(
        description="Circuits to check, one visit each: those of the newest run at "
        "STREETLIGHT_CIRCUIT_ROUND_MIN_PROBABILITY or above that fit in the day."
    )
    total: int = Field(description="Visits in the round, lamps and circuits.")
    streets: list[RoundStreet]
