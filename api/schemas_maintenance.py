"""Request and response bodies of the maintenance API: failure predictions, work orders, the daily round.

Vocabulary: a *prediction* is one score of one lamp by the nightly job (the probability that
the lamp fails within `horizon_days`, with its reasons, strongest first); a *supply warning* is
the same job's score of a lighting circuit (the probability of a supply loss: a failing cable,
joint or cabinet that cuts the circuit's lamps), checked in one visit at the cabinet; a *work
order* is a visit to a lamp, made from a prediction, a fault or by hand, `open` until it is
`scheduled` for a day and `done` once closed with an outcome; the *round* is the list of visits
of one day, lamps and circuits, grouped by street.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import LAMP_ID_PATTERN, LampState

WorkOrderSource = Literal["prediction", "fault", "manual"]
WorkOrderStatus = Literal["open", "scheduled", "done", "cancelled"]
Outcome = Literal["repaired", "replaced", "false_alarm", "no_fault_found"]
Language = Literal["en", "fr"]

_REASON_EXAMPLE = {
    "feature": "power_factor_trend_10d",
    "signal": "power_factor",
    "text": "power factor fell from 0.96 to 0.88 over 10 days",
    "text_fr": "le facteur de puissance est passé de 0,96 à 0,88 en 10 jours",
    "weight": 0.31,
}
_OPEN_ORDER_EXAMPLE = {"id": 12, "status": "scheduled", "scheduled_for": "2026-11-26", "source": "prediction"}
_PREDICTION_EXAMPLE = {
    "lamp_id": "L-0042",
    "name": "Rue des Tilleuls 12",
    "street": "Rue des Tilleuls",
    "address": "12 rue des Tilleuls",
    "circuit": "C-07",
    "group_name": "centre",
    "lat": 48.8566,
    "lon": 2.3522,
    "state": "in_service",
    "probability": 0.83,
    "horizon_days": 14,
    "model_version": "20261125T021700Z",
    "scored_at": "2026-11-25T01:17:00Z",
    "feature_day": "2026-11-24",
    "reasons": [_REASON_EXAMPLE],
    "work_order": _OPEN_ORDER_EXAMPLE,
}


# --- predictions ----------------------------------------------------------


class Reason(BaseModel):
    """Why the model gives a lamp its risk, in plain words (English and French)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REASON_EXAMPLE]})

    feature: str = Field(description="The model's feature behind the reason.")
    signal: str = Field(
        description="What to look at: power_w, power_factor, voltage_v, driver_temp_c, dim_level, switch_cycles, "
        "burning_hours (telemetry fields), or reports, events, age."
    )
    text: str = Field(description="The reason in English.")
    text_fr: str = Field("", description="The same in French.")
    weight: float = Field(description="How much it adds to the risk; the list is strongest first.")


class OpenWorkOrder(BaseModel):
    """A lamp's work order that is not closed yet (there is at most one)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OPEN_ORDER_EXAMPLE]})

    id: int
    status: Literal["open", "scheduled"]
    scheduled_for: date | None
    source: WorkOrderSource


class Prediction(BaseModel):
    """A lamp's latest score, with where the lamp stands and its open work order."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PREDICTION_EXAMPLE]})

    lamp_id: str
    name: str
    street: str
    address: str
    circuit: str
    group_name: str
    lat: float | None
    lon: float | None
    state: LampState
    probability: float = Field(description="Probability (0 to 1) that the lamp fails within horizon_days.")
    horizon_days: int
    model_version: str
    scored_at: datetime = Field(description="When the lamp was scored.")
    feature_day: date = Field(description="The day whose telemetry was scored.")
    reasons: list[Reason] = Field(description="Strongest first.")
    work_order: OpenWorkOrder | None = Field(description="The lamp's open work order; null when there is none.")


class PredictionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                    "latest_scored_at": "2026-11-25T01:17:00Z",
                    "items": [_PREDICTION_EXAMPLE],
                }
            ]
        }
    )

    total: int = Field(description="How many lamps match the filters, over all pages.")
    limit: int
    offset: int
    latest_scored_at: datetime | None = Field(description="When the latest scoring run scored; null before the first.")
    items: list[Prediction] = Field(description="Highest probability first.")


_CIRCUIT_REASON_EXAMPLE = {
    "feature": "voltage_sag_7d",
    "signal": "voltage_v",
    "text": "the circuit's voltage sagged by 9 V over 7 days",
    "text_fr": "la tension du circuit a baissé de 9 V en 7 jours",
    "weight": 0.42,
}
_CIRCUIT_PREDICTION_EXAMPLE = {
    "circuit": "C-03",
    "probability": 0.64,
    "horizon_days": 14,
    "feature_day": "2026-11-24",
    "scored_at": "2026-11-25T01:17:00Z",
    "model_version": "20261125T021700Z",
    "lamps": 27,
    "streets": ["Rue des Tilleuls", "Allée des Saules"],
    "lat": 48.8571,
    "lon": 2.3519,
    "open_work_orders": 1,
    "reasons": [_CIRCUIT_REASON_EXAMPLE],
}


class CircuitPrediction(BaseModel):
    """A circuit's supply warning from the newest scoring run, with where its lamps are."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CIRCUIT_PREDICTION_EXAMPLE]})

    circuit: str
    probability: float = Field(
        description="Probability (0 to 1) of a supply loss on the circuit (a failing cable, joint or cabinet) "
        "within horizon_days."
    )
    horizon_days: int
    feature_day: date = Field(description="The day whose telemetry was scored.")
    scored_at: datetime = Field(description="When the circuit was scored (the run's instant, as its lamps').")
    model_version: str
    lamps: int = Field(description="The circuit's lamps that reported on feature_day, as the run counted them.")
    streets: list[str] = Field(
        description="The streets of the circuit's lamps not retired, the street with most lamps first."
    )
    lat: float | None = Field(description="Centroid of the circuit's lamps not retired that have coordinates; "
                              "null when none has.")
    lon: float | None
    open_work_orders: int = Field(description="Work orders open or scheduled on the circuit's lamps not retired.")
    reasons: list[Reason] = Field(description="Strongest first.")


class CircuitPredictionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "limit": 100,
                    "offset": 0,
                    "latest_scored_at": "2026-11-25T01:17:00Z",
                    "items": [_CIRCUIT_PREDICTION_EXAMPLE],
                }
            ]
        }
    )

    total: int = Field(description="How many circuits of the newest run match the filters, over all pages.")
    limit: int
    offset: int
    latest_scored_at: datetime | None = Field(
        description="When the newest run that scored circuits scored; null before the first."
    )
    items: list[CircuitPrediction] = Field(description="Highest probability first; equal ones by circuit.")


class PredictionPoint(BaseModel):
    scored_at: datetime
    feature_day: date
    probability: float
    horizon_days: int
    model_version: str


class LampPrediction(PredictionPoint):
    reasons: list[Reason]


class LampPredictions(BaseModel):
    """One lamp's scores over time (for a chart), and its latest reasons."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lamp_id": "L-0042",
                    "latest": {
                        "scored_at": "2026-11-25T01:17:00Z",
                        "feature_day": "2026-11-24",
                        "probability": 0.83,
                        "horizon_days": 14,
                        "model_version": "20261125T021700Z",
                        "reasons": [_REASON_EXAMPLE],
                    },
                    "history": [
                        {
                            "scored_at": "2026-11-24T01:16:00Z",
                            "feature_day": "2026-11-23",
                            "probability": 0.61,
                            "horizon_days": 14,
                            "model_version": "20261120T021500Z",
                        },
                        {
                            "scored_at": "2026-11-25T01:17:00Z",
                            "feature_day": "2026-11-24",
                            "probability": 0.83,
                            "horizon_days": 14,
                            "model_version": "20261125T021700Z",
                        },
                    ],
                }
            ]
        }
    )

    lamp_id: str
    latest: LampPrediction | None = Field(description="The newest score; null when the lamp was never scored.")
    history: list[PredictionPoint] = Field(description="Oldest first, ending with the newest score.")


# --- work orders ----------------------------------------------------------

_WORK_ORDER_EXAMPLE = {
    "id": 12,
    "lamp_id": "L-0042",
    "lamp_name": "Rue des Tilleuls 12",
    "street": "Rue des Tilleuls",
    "address": "12 rue des Tilleuls",
    "circuit": "C-07",
    "group_name": "centre",
    "lat": 48.8566,
    "lon": 2.3522,
    "lamp_state": "in_service",
    "source": "prediction",
    "prediction_scored_at": "2026-11-25T01:17:00Z",
    "prediction_probability": 0.83,
    "reasons": [_REASON_EXAMPLE],
    "fault_event_ts": None,
    "fault_event_type": None,
    "latest_probability": 0.83,
    "status": "scheduled",
    "scheduled_for": "2026-11-26",
    "outcome": None,
    "failure_found": False,
    "notes": "bring a 54 W driver",
    "created_by": "amelie",
    "created_at": "2026-11-25T07:40:00Z",
    "updated_at": "2026-11-25T07:45:00Z",
    "closed_at": None,
    "closed_by": None,
}


class WorkOrder(BaseModel):
    """A visit to a lamp: why, when, and how it ended."""

    model_config = ConfigDict(json_schema_extra={"examples": [_WORK_ORDER_EXAMPLE]})

    id: int
    lamp_id: str
    lamp_name: str
    street: str
    address: str
    circuit: str
    group_name: str
    lat: float | None
    lon: float | None
    lamp_state: LampState = Field(description="The lamp's inventory state now.")
    source: WorkOrderSource
    prediction_scored_at: datetime | None = Field(description="The prediction it was made from (source prediction).")
    prediction_probability: float | None = Field(description="That prediction's probability.")
    reasons: list[Reason] = Field(description="That prediction's reasons; empty for other sources.")
    fault_event_ts: datetime | None = Field(description="The fault it was made from (source fault).")
    fault_event_type: str | None
    latest_probability: float | None = Field(description="The lamp's newest score; null when it was never scored.")
    status: WorkOrderStatus
    scheduled_for: date | None = Field(description="The day of the visit (town calendar).")
    outcome: Outcome | None
    failure_found: bool = Field(description="Whether the technician found the lamp failing.")
    notes: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closed_by: str | None


class WorkOrderPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_WORK_ORDER_EXAMPLE]}]
        }
    )

    total: int
    limit: int
    offset: int
    items: list[WorkOrder] = Field(description="Newest first.")


class WorkOrderCreate(BaseModel):
    """A work order for a lamp: from its latest prediction, from a fault event, or by hand (say why in notes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lamp_id": "L-0042", "source": "prediction"},
                {
                    "lamp_id": "L-0042",
                    "source": "fault",
                    "fault_event_ts": "2026-11-25T17:04:12Z",
                    "fault_event_type": "lamp_failure",
                },
                {"lamp_id": "L-0042", "source": "manual", "notes": "pole hit by a van", "scheduled_for": "2026-11-26"},
            ]
        },
    )

    lamp_id: str = Field(pattern=LAMP_ID_PATTERN)
    source: WorkOrderSource
    fault_event_ts: datetime | None = Field(None, description="Source fault: the event's instant (with offset).")
    fault_event_type: str | None = Field(None, max_length=64, description="Source fault: the event's type.")
    notes: str = Field("", max_length=2000, description="Required for a manual work order: what is to be done.")
    scheduled_for: date | None = Field(None, description="Schedule the visit at once for this day.")

    @model_validator(mode="after")
    def _source_fields(self) -> WorkOrderCreate:
        is_fault = self.source == "fault"
        if is_fault and (self.fault_event_ts is None or self.fault_event_type is None):
            raise ValueError("a work order from a fault needs fault_event_ts and fault_event_type")
        if not is_fault and (self.fault_event_ts is not None or self.fault_event_type is not None):
            raise ValueError("fault_event_ts and fault_event_type belong to a work order from a fault")
        if self.source == "manual" and not self.notes.strip():
            raise ValueError("a manual work order needs notes saying what is to be done")
        return self


class WorkOrderUpdate(BaseModel):
    """The fields to change. A date schedules the visit; status open (or a null date) unschedules it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"scheduled_for": "2026-11-26", "notes": "bring a 54 W driver"}]},
    )

    status: Literal["open", "scheduled"] | None = None
    scheduled_for: date | None = None
    notes: str | None = Field(None, max_length=2000, description="Replaces the notes.")

    @model_validator(mode="after")
    def _consistent(self) -> WorkOrderUpdate:
        given = self.model_fields_set
        if "notes" in given and self.notes is None:
            raise ValueError("notes cannot be null")
        if "status" in given and self.status is None:
            raise ValueError("status cannot be null")
        if self.status == "open" and self.scheduled_for is not None:
            raise ValueError("an open work order has no scheduled_for; send status scheduled with the date")
        return self


class WorkOrderClose(BaseModel):
    """How the visit ended. repaired and replaced record the repair (and first the failure, if one was found)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "repaired", "failure_found": True, "notes": "driver replaced"},
                {"outcome": "false_alarm", "notes": "lamp fine, readings normal on site"},
            ]
        },
    )

    outcome: Outcome
    failure_found: bool = Field(False, description="The lamp was failing when the technician came.")
    notes: str = Field("", max_length=2000, description="Added to the work order's notes.")

    @model_validator(mode="after")
    def _failure_needs_a_repair(self) -> WorkOrderClose:
        if self.failure_found and self.outcome not in ("repaired", "replaced"):
            raise ValueError(f"a {self.outcome} cannot have failure_found: a failure found is repaired or replaced")
        return self


class WorkOrderCancel(BaseModel):
    """Why the visit is called off (a duplicate, the lamp was retired, made by mistake)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "duplicate of work order 11"}]})

    reason: str = Field(min_length=1, max_length=2000, description="Added to the work order's notes.")


# --- the daily round ------------------------------------------------------

_VISIT_EXAMPLE = {
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
_CIRCUIT_VISIT_EXAMPLE = {
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
