"""Request and response bodies of the energy endpoints: profile preview, dimming curve, estimates, consumption.

Energy is in kWh, power in W, money in EUR, CO2 in kg; `full_kwh` is every lamp at its
rated power from dusk to dawn, the reference the savings are counted against.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from core.columns import Text
from dimming import Step, Twilight

# The days a night is computed for: far enough from Python's date limits (years 1 and 9999) that a night's
# dawn, the month around it and their instants in UTC are dates too.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)

_STEPS_EXAMPLE: list[JsonValue] = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
_POINTS_EXAMPLE: list[JsonValue] = [
    {"at": "2027-01-15T16:24:00Z", "level": 100},
    {"at": "2027-01-15T22:00:00Z", "level": 50},
    {"at": "2027-01-16T04:00:00Z", "level": 100},
    {"at": "2027-01-16T07:36:00Z", "level": 0},
]
_NIGHT_EXAMPLE: JsonDict = {"full_kwh": 1.52, "dimmed_kwh": 1.229, "saved_kwh": 0.291, "saved_share": 0.191}


class Place(BaseModel):
    lat: float
    lon: float
    group: str | None = Field(description="The group whose lamps' mean position this is; null for a given point.")


class CurvePoint(BaseModel):
    at: datetime = Field(description="Switch time, UTC.")
    level: int = Field(description="Light level from this time on, % (0 = off).")


class StepProblem(BaseModel):
    step: int | None = Field(description="The step at fault, counted from 1; null for the profile as a whole.")
    field: str | None = Field(description="The step's field at fault: anchor, offset_min, time or level.")
    message: str


class EnergyFigures(BaseModel):
    """Energy over one night or a period, with the profile against full power all night."""

    nights: int = Field(1, description="Nights counted.")
    night_hours: float = Field(description="Hours from dusk to dawn, all nights together.")
    full_kwh: float = Field(description="At rated power from dusk to dawn.")
    dimmed_kwh: float = Field(description="Following the profile.")
    saved_kwh: float
    saved_share: float = Field(description="Saved share of full_kwh, 0-1.")


class Savings(BaseModel):
    kwh: float
    cost_eur: float = Field(description="At the configured electricity price.")
    co2_kg: float = Field(description="At the configured grid emission factor.")


class NightCurve(BaseModel):
    """A profile's curve for the night starting on `date` at a place, with its energy."""

    date: dt.date
    place: Place
    lamps: int = Field(description="Lamps counted in rated_power_w (0 for a given point and power).")
    rated_power_w: float = Field(description="Total rated power the energy is computed for.")
    dusk: datetime | None = Field(description="UTC; null when the sun does not set (or rise) that day.")
    dawn: datetime | None
    polar: Literal["day", "night"] | None = Field(description="day: the sun does not set; night: it does not rise.")
    points: list[CurvePoint] = Field(description="Switch points of the night, UTC, ending with level 0.")
    night: EnergyFigures | None = Field(description="This night's energy; null when the profile has errors.")


class PreviewRequest(BaseModel):
    """An unsaved profile, the night to show and where."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"twilight": "sunset", "steps": _STEPS_EXAMPLE, "date": "2027-01-15", "group": "centre"}]
        },
    )

    twilight: Twilight = "sunset"
    steps: list[Step] = Field(max_length=200)
    date: dt.date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="Local date the night starts on, 1900 to 2999; default today."
    )
    lat: float | None = Field(None, ge=-90, le=90, description="With lon: a place; otherwise the group's lamps.")
    lon: float | None = Field(None, ge=-180, le=180)
    group: Text | None = Field(
        None, description="Lamps of this group: their mean position and total rated power. Neither: the whole town."
    )
    rated_power_w: float | None = Field(
        None, gt=0, le=10_000_000, description="Total rated power; default: the lamps', or 100 W for a given place."
    )


class Preview(NightCurve):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2027-01-15",
                    "place": {"lat": 48.85, "lon": 2.35, "group": None},
                    "lamps": 0,
                    "rated_power_w": 100.0,
                    "dusk": "2027-01-15T16:24:00Z",
                    "dawn": "2027-01-16T07:36:00Z",
                    "polar": None,
                    "points": _POINTS_EXAMPLE,
                    "night": _NIGHT_EXAMPLE | {"nights": 1, "night_hours": 15.2},
                    "month": {
                        "nights": 31,
                        "night_hours": 460.1,
                        "full_kwh": 46.01,
                        "dimmed_kwh": 36.99,
                        "saved_kwh": 9.02,
                        "saved_share": 0.196,
                    },
                    "month_savings": {"kwh": 9.02, "cost_eur": 1.8, "co2_kg": 0.47},
                    "errors": [],
                }
            ]
        }
    )

    month: EnergyFigures | None = Field(description="Every night starting in the month of `date`.")
    month_savings: Savings | None
    errors: list[StepProblem] = Field(description="What is wrong with the profile, per step; empty when it is valid.")


class ProfileCurve(NightCurve):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "profile_id": 3,
                    "profile_version": 2,
                    "name": "Residential streets",
                    "date": "2027-01-15",
                    "place": {"lat": 48.85, "lon": 2.35, "group": "centre"},
                    "lamps": 120,
                    "rated_power_w": 6480.0,
                    "dusk": "2027-01-15T16:24:00Z",
                    "dawn": "2027-01-16T07:36:00Z",
                    "polar": None,
                    "points": _POINTS_EXAMPLE,
                    "night": _NIGHT_EXAMPLE | {"nights": 1, "night_hours": 15.2},
                }
            ]
        }
    )

    profile_id: int
    profile_version: int
    name: str


class MonthEstimate(EnergyFigures):
    month: str = Field(description="YYYY-MM")
    savings: Savings


class Estimate(BaseModel):
    """A profile's estimated energy per month for a group (or the town) against full power all night."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "profile_id": 3,
                    "profile_version": 2,
                    "name": "Residential streets",
                    "place": {"lat": 48.85, "lon": 2.35, "group": "centre"},
                    "lamps": 120,
                    "rated_power_w": 6480.0,
                    "price_eur_per_kwh": 0.2,
                    "emission_g_co2_per_kwh": 52.0,
                    "months": [
                        {
                            "month": "2027-01",
                            "nights": 31,
                            "night_hours": 460.1,
                            "full_kwh": 2981.5,
                            "dimmed_kwh": 2397.0,
                            "saved_kwh": 584.5,
                            "saved_share": 0.196,
                            "savings": {"kwh": 584.5, "cost_eur": 116.9, "co2_kg": 30.39},
                        }
                    ],
                    "total": {
                        "nights": 31,
                        "night_hours": 460.1,
                        "full_kwh": 2981.5,
                        "dimmed_kwh": 2397.0,
                        "saved_kwh": 584.5,
                        "saved_share": 0.196,
                    },
                    "total_savings": {"kwh": 584.5, "cost_eur": 116.9, "co2_kg": 30.39},
                }
            ]
        }
    )

    profile_id: int
    profile_version: int
    name: str
    place: Place
    lamps: int
    rated_power_w: float
    price_eur_per_kwh: float
    emission_g_co2_per_kwh: float
    months: list[MonthEstimate]
    total: EnergyFigures
    total_savings: Savings


class ConsumptionFigures(BaseModel):
    """A period measured, and for the same lamps and hours full power and the schedules' estimate."""

    month: str = Field(
        description="YYYY-MM, town time; for the whole period, the first and last month as YYYY-MM/YYYY-MM."
    )
    lamps: int = Field(description="Lamps with a place and a rated power (the most in any month, for a period).")
    lamps_reporting: int = Field(description="Lamps whose energy counters covered some of the period.")
    lamp_hours: float = Field(description="Lamps times the hours of the period gone by.")
    measured_lamp_hours: float = Field(description="Lamp-hours covered by counter differences.")
    coverage: float = Field(description="measured_lamp_hours / lamp_hours, 0-1.")
    partial: bool = Field(
        description="Whether some of the period's lamp-hours were not measured (coverage under 0.99)."
    )
    full_kwh: float = Field(description="The lamps measured, at rated power through the night hours measured.")
    estimated_kwh: float = Field(description="The same lamps and hours at their schedules' levels.")
    measured_kwh: float | None = Field(description="From the energy counters; null when none reported.")
    saved_kwh: float | None = Field(description="full_kwh − measured_kwh; null without a measurement.")
    cost_saved_eur: float | None
    co2_saved_kg: float | None


class ConsumptionRow(ConsumptionFigures):
    group: str = Field(description='The group ("" for lamps in no group).')


_ROW_EXAMPLE: JsonDict = {
    "month": "2027-01",
    "lamps": 120,
    "lamps_reporting": 118,
    "lamp_hours": 89280.0,
    "measured_lamp_hours": 87100.5,
    "coverage": 0.9756,
    "partial": True,
    "full_kwh": 2930.1,
    "estimated_kwh": 2356.4,
    "measured_kwh": 2371.9,
    "saved_kwh": 558.2,
    "cost_saved_eur": 111.64,
    "co2_saved_kg": 29.026,
}


class Consumption(BaseModel):
    """Measured energy against full power and the schedules' estimate for the same lamps and hours."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2027-01",
                    "to": "2027-01",
                    "price_eur_per_kwh": 0.2,
                    "emission_g_co2_per_kwh": 52.0,
                    "summary": _ROW_EXAMPLE | {"month": "2027-01/2027-01"},
                    "months": [_ROW_EXAMPLE],
                    "rows": [_ROW_EXAMPLE | {"group": "centre"}],
                    "total": {"kwh": 558.2, "cost_eur": 111.64, "co2_kg": 29.026},
                }
            ]
        },
        populate_by_name=True,
    )

    from_month: str = Field(alias="from", description="YYYY-MM")
    to_month: str = Field(alias="to", description="YYYY-MM, included")
    price_eur_per_kwh: float
    emission_g_co2_per_kwh: float
    summary: ConsumptionFigures = Field(description="The whole period, every group (or the group asked for).")
    months: list[ConsumptionFigures] = Field(description="Each month begun, every group added up.")
    rows: list[ConsumptionRow] = Field(description="Each group's months, by group then month.")
    total: Savings = Field(description="Measured savings over the period (the summary's).")
