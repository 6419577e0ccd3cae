"""Request and response bodies of the failure predictions: each lamp's latest score, one lamp's scores
over time, and the circuits' supply warnings.

A *prediction* is one score of one lamp by the nightly job (the probability that the lamp
fails within `horizon_days`, with its reasons, strongest first); a *supply warning* is the
same job's score of a lighting circuit (the probability of a supply loss: a failing cable,
joint or cabinet that cuts the circuit's lamps), checked in one visit at the cabinet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.paging import ItemT, PageBounds
from api.vocabulary import LampState, WorkOrderSource
from core.columns import FitsReal

# A probability as the `real` columns hold it, and as a filter compared with them.
Probability = Annotated[float, Field(ge=0, le=1), FitsReal]

REASON_EXAMPLE: JsonDict = {
    "feature": "power_factor_trend_10d",
    "signal": "power_factor",
    "text": "power factor fell from 0.96 to 0.88 over 10 days",
    "text_fr": "le facteur de puissance est passé de 0,96 à 0,88 en 10 jours",
    "weight": 0.31,
}
_OPEN_ORDER_EXAMPLE: JsonDict = {"id": 12, "status": "scheduled", "scheduled_for": "2026-11-26", "source": "prediction"}
_PREDICTION_EXAMPLE: JsonDict = {
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
    "reasons": [REASON_EXAMPLE],
    "work_order": _OPEN_ORDER_EXAMPLE,
}


class ScoredPage(PageBounds, Generic[ItemT]):
    # A page of one scoring run's results: when that run scored comes before the items.
    latest_scored_at: datetime | None
    items: list[ItemT]


class Reason(BaseModel):
    """Why the model gives a lamp its risk, in plain words (English and French)."""

    model_config = ConfigDict(json_schema_extra={"examples": [REASON_EXAMPLE]})

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


class PredictionPage(ScoredPage[Prediction]):
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
    latest_scored_at: datetime | None = Field(description="When the latest scoring run scored; null before the first.")
    items: list[Prediction] = Field(description="Highest probability first.")


_CIRCUIT_REASON_EXAMPLE: JsonDict = {
    "feature": "voltage_sag_7d",
    "signal": "voltage_v",
    "text": "the circuit's voltage sagged by 9 V over 7 days",
    "text_fr": "la tension du circuit a baissé de 9 V en 7 jours",
    "weight": 0.42,
}
_CIRCUIT_PREDICTION_EXAMPLE: JsonDict = {
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
    lat: float | None = Field(
        description="Centroid of the circuit's lamps not retired that have coordinates; null when none has."
    )
    lon: float | None
    open_work_orders: int = Field(description="Work orders open or scheduled on the circuit's lamps not retired.")
    reasons: list[Reason] = Field(description="Strongest first.")


class CircuitPredictionPage(ScoredPage[CircuitPrediction]):
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
                        "reasons": [REASON_EXAMPLE],
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
