"""Request and response bodies of the work orders.

A *work order* is a visit to a lamp, made from a prediction, a fault or by hand, `open`
until it is `scheduled` for a day and `done` once closed with an outcome.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from api.lamps.schemas import LAMP_ID_PATTERN
from api.paging import Page
from api.predictions.schemas import REASON_EXAMPLE, Reason
from api.vocabulary import LampState, Outcome, WorkOrderSource, WorkOrderStatus
from core.columns import NoNul, Text

_WORK_ORDER_EXAMPLE: JsonDict = {
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
    "reasons": [REASON_EXAMPLE],
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


class WorkOrderPage(Page[WorkOrder]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "limit": 100, "offset": 0, "items": [_WORK_ORDER_EXAMPLE]}]}
    )

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
    fault_event_type: Annotated[str, Field(max_length=64), NoNul] | None = Field(
        None, description="Source fault: the event's type."
    )
    notes: Text = Field("", max_length=2000, description="Required for a manual work order: what is to be done.")
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
    notes: Annotated[str, Field(max_length=2000), NoNul] | None = Field(None, description="Replaces the notes.")

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
    notes: Text = Field("", max_length=2000, description="Added to the work order's notes.")

    @model_validator(mode="after")
    def _failure_needs_a_repair(self) -> WorkOrderClose:
        if self.failure_found and self.outcome not in ("repaired", "replaced"):
            raise ValueError(f"a {self.outcome} cannot have failure_found: a failure found is repaired or replaced")
        return self


class WorkOrderCancel(BaseModel):
    """Why the visit is called off (a duplicate, the lamp was retired, made by mistake)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "duplicate of work order 11"}]}
    )

    reason: Text = Field(min_length=1, max_length=2000, description="Added to the work order's notes.")
