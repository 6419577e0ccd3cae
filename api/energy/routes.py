"""Energy: a profile's curve and estimated saving (preview while editing, or saved), measured consumption.

The preview is for every role (technicians read schedules too); estimates,
curves of saved profiles and measured consumption are for the energy staff.
The arithmetic, the counters' SQL and the measured-against-estimated rows are the
dimming package's; these routes only gather the inputs and shape the answers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

import dimming
from api import problems
from api.database import DictConnection
from api.deps import Conn, EnergyManager, Reader, SettingsDep
from api.energy.schemas import (
    FIRST_DAY,
    LAST_DAY,
    Consumption,
    ConsumptionFigures,
    ConsumptionRow,
    CurvePoint,
    EnergyFigures,
    Estimate,
    MonthEstimate,
    Place,
    Preview,
    PreviewRequest,
    ProfileCurve,
    Savings,
    StepProblem,
)
from api.problems import ProblemException
from core.columns import BIGINT_MAX, Text
from core.settings import Settings
from dimming import ProfileError, ProfileSpec, Step, Twilight

router = APIRouter(prefix="/api/v1", tags=["energy"], responses=problems.responses(401, 403))

DEFAULT_POWER_W = 100.0  # a place given without a power: figures for one 100 W lamp
MAX_MONTHS = 24
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CSV_COLUMNS = (
    "group",
    "month",
    "lamps",
    "lamps_reporting",
    "lamp_hours",
    "measured_lamp_hours",
    "coverage",
    "partial",
    "full_kwh",
    "estimated_kwh",
    "measured_kwh",
    "saved_kwh",
    "cost_saved_eur",
    "co2_saved_kg",
)

MonthParam = Annotated[
    str | None,
    Query(pattern=MONTH_RE.pattern, description="YYYY-MM, town time, 1900-01 to 2999-12", examples=["2027-01"]),
]
GroupParam = Annotated[Text | None, Query(description="A group's lamps; default the whole town.")]


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.town_timezone)


def _today(tz: ZoneInfo) -> date:
    return datetime.now(UTC).astimezone(tz).date()


# --- where, and for how many watts ------------------------------------------------------------------


def _scope(
    conn: DictConnection, group: str | None, lat: float | None, lon: float | None, rated_power_w: float | None
) -> tuple[Place, int, float]:
    """(place, lamps counted, total rated power) for a given point or for a group's (or the town's) lamps."""
    if (lat is None) != (lon is None):
        raise problems.invalid("lat" if lat is None else "lon", "give both lat and lon, or neither")
    lamps = dimming.rated_lamps(conn, group) if lat is None or group is not None else []
    if lat is not None:
        place = Place(lat=lat, lon=lon, group=group)
    else:
        centre = dimming.group_place(conn, group)
        if centre is None:
            where = f"group {group}" if group is not None else "the town"
            raise ProblemException(status.HTTP_404_NOT_FOUND, f"no lamp of {where} has coordinates; give lat and lon")
        place = Place(lat=centre[0], lon=centre[1], group=group)
    rated = [lamp.rated_power_w for lamp in lamps if lamp.rated_power_w]
    if rated_power_w is not None:
        return place, len(rated), rated_power_w
    if rated:
        return place, len(rated), sum(rated)
    return place, 0, DEFAULT_POWER_W


def _figures(estimate: dimming.NightEstimate | dimming.PeriodEstimate) -> EnergyFigures:
    period = estimate if isinstance(estimate, dimming.PeriodEstimate) else dimming.add_up([estimate])
    return EnergyFigures(
        nights=period.nights,
        night_hours=round(period.night_hours, 3),
        full_kwh=round(period.full_kwh, 4),
        dimmed_kwh=round(period.dimmed_kwh, 4),
        saved_kwh=round(period.saved_kwh, 4),
        saved_share=round(period.saved_share, 4),
    )


def _savings(saved_kwh: float, settings: Settings) -> Savings:
    worth = dimming.rounded_savings(
        saved_kwh,
        price_eur_per_kwh=settings.energy_price_eur_per_kwh,
        emission_g_co2_per_kwh=settings.emission_g_co2_per_kwh,
    )
    return Savings(kwh=worth.kwh, cost_eur=worth.cost_eur, co2_kg=worth.co2_kg)


def _night_curve(
    steps: list[Step], twilight: Twilight, day: date, place: Place, lamps: int, power_w: float, tz: ZoneInfo
) -> dict[str, Any]:
    sun = dimming.twilight_times(place.lat, place.lon, day, tz, twilight)
    points, hours = dimming.night_curve(steps, twilight, day, place.lat, place.lon, tz)
    night = dimming.night_estimate(day, points, hours, power_w)
    return {
        "date": day,
        "place": place,
        "lamps": lamps,
        "rated_power_w": power_w,
        "dusk": sun.dusk,
        "dawn": sun.dawn,
        "polar": sun.polar,
        "points": [CurvePoint(at=at, level=level) for at, level in points],
        "night": _figures(night),
    }


# --- preview ------------------------------------------------------------------------------------------


@router.post(
    "/dimming/preview",
    response_model=Preview,
    summary="Curve and estimated saving of an unsaved profile, with its errors per step",
    responses=problems.responses(404, 422),
)
def preview(conn: Conn, who: Reader, settings: SettingsDep, body: PreviewRequest) -> Preview:
    tz = _zone(settings)
    day = body.date or _today(tz)
    place, lamps, power_w = _scope(conn, body.group, body.lat, body.lon, body.rated_power_w)
    spec = ProfileSpec(name="preview", twilight=body.twilight, steps=body.steps)
    try:
        dimming.validate_profile(spec, min_level=settings.dimming_min_level, max_steps=settings.dimming_max_steps)
    except ProfileError as error:
        sun = dimming.twilight_times(place.lat, place.lon, day, tz, body.twilight)
        return Preview(
            date=day,
            place=place,
            lamps=lamps,
            rated_power_w=power_w,
            dusk=sun.dusk,
            dawn=sun.dawn,
            polar=sun.polar,
            points=[],
            night=None,
            month=None,
            month_savings=None,
            errors=[StepProblem(step=e.step, field=e.field, message=e.message) for e in error.errors],
        )
    curve = _night_curve(body.steps, body.twilight, day, place, lamps, power_w, tz)
    month = dimming.estimate_month(body.steps, body.twilight, day.year, day.month, place.lat, place.lon, tz, power_w)
    return Preview(**curve, month=_figures(month), month_savings=_savings(month.saved_kwh, settings), errors=[])


# --- a saved profile ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Saved:
    """The version in force of a saved profile."""

    id: int
    version: int
    name: str
    twilight: Twilight
    steps: list[Step]


def _profile(conn: DictConnection, profile_id: int) -> _Saved:
    try:
        row = dimming.get_profile(conn, profile_id)
    except dimming.NotFound:
        raise ProblemException(status.HTTP_404_NOT_FOUND, f"no dimming profile {profile_id}") from None
    return _Saved(row["id"], row["version"], row["name"], row["twilight"], [Step(**step) for step in row["steps"]])


@router.get(
    "/energy/curve",
    response_model=ProfileCurve,
    summary="A saved profile's dimming curve and energy for one night at a place",
    responses=problems.responses(404, 422),
)
def profile_curve(
    conn: Conn,
    who: EnergyManager,
    settings: SettingsDep,
    profile_id: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
    date_: Annotated[
        date | None,
        Query(
            alias="date",
            ge=FIRST_DAY,
            le=LAST_DAY,
            description="Local date the night starts on, 1900 to 2999; default today",
        ),
    ] = None,
    group: GroupParam = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    rated_power_w: Annotated[float | None, Query(gt=0, le=10_000_000)] = None,
) -> ProfileCurve:
    tz = _zone(settings)
    profile = _profile(conn, profile_id)
    place, lamps, power_w = _scope(conn, group, lat, lon, rated_power_w)
    curve = _night_curve(profile.steps, profile.twilight, date_ or _today(tz), place, lamps, power_w, tz)
    return ProfileCurve(**curve, profile_id=profile.id, profile_version=profile.version, name=profile.name)


def _month(text: str, field: str) -> tuple[int, int]:
    match = MONTH_RE.match(text)
    assert match is not None  # the Query pattern checked it
    year, month = int(match.group(1)), int(match.group(2))
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise problems.invalid(field, f"a month from {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}")
    return year, month


def _month_range(first: str | None, last: str | None, tz: ZoneInfo, default_months: int) -> list[tuple[int, int]]:
    today = _today(tz)
    end = _month(last, "to") if last else (today.year, today.month)
    if first:
        start = _month(first, "from")
    else:
        index = end[0] * 12 + end[1] - 1 - (default_months - 1)
        start = (index // 12, index % 12 + 1)
    months = dimming.months_between(date(*start, 1), date(*end, 1))
    if not months:
        raise problems.invalid("from", "from must not be after to")
    if len(months) > MAX_MONTHS:
        raise problems.invalid("from", f"at most {MAX_MONTHS} months at a time")
    return months


@router.get(
    "/energy/estimate",
    response_model=Estimate,
    summary="A profile's estimated energy and saving per month for a group or the town",
    responses=problems.responses(404, 422),
)
def estimate(
    conn: Conn,
    who: EnergyManager,
    settings: SettingsDep,
    profile_id: Annotated[int, Query(ge=1, le=BIGINT_MAX)],
    group: GroupParam = None,
    from_: Annotated[MonthParam, Query(alias="from")] = None,
    to: MonthParam = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    rated_power_w: Annotated[float | None, Query(gt=0, le=10_000_000)] = None,
) -> Estimate:
    tz = _zone(settings)
    profile = _profile(conn, profile_id)
    place, lamps, power_w = _scope(conn, group, lat, lon, rated_power_w)
    months = _month_range(from_, to, tz, default_months=12)
    per_month = [
        (
            year,
            month,
            dimming.estimate_month(profile.steps, profile.twilight, year, month, place.lat, place.lon, tz, power_w),
        )
        for year, month in months
    ]
    total = dimming.PeriodEstimate(
        nights=sum(m.nights for _, _, m in per_month),
        night_hours=sum(m.night_hours for _, _, m in per_month),
        full_kwh=sum(m.full_kwh for _, _, m in per_month),
        dimmed_kwh=sum(m.dimmed_kwh for _, _, m in per_month),
    )
    return Estimate(
        profile_id=profile.id,
        profile_version=profile.version,
        name=profile.name,
        place=place,
        lamps=lamps,
        rated_power_w=power_w,
        price_eur_per_kwh=settings.energy_price_eur_per_kwh,
        emission_g_co2_per_kwh=settings.emission_g_co2_per_kwh,
        months=[
            MonthEstimate(
                month=f"{year:04d}-{month:02d}", **_figures(m).model_dump(), savings=_savings(m.saved_kwh, settings)
            )
            for year, month, m in per_month
        ],
        total=_figures(total),
        total_savings=_savings(total.saved_kwh, settings),
    )


# --- measured consumption -----------------------------------------------------------------------------


@router.get(
    "/energy/consumption",
    response_model=Consumption,
    summary="Measured consumption per group and month against full power and the plan for the same hours, with the savings and the share measured (CSV with format=csv)",
    responses={**problems.responses(422, 503), 200: {"content": {"text/csv": {}}}},
)
def measured(
    conn: Conn,
    who: EnergyManager,
    settings: SettingsDep,
    from_: Annotated[MonthParam, Query(alias="from")] = None,
    to: MonthParam = None,
    group: GroupParam = None,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")] = "json",
) -> Consumption | Response:
    tz = _zone(settings)
    months = _month_range(from_, to, tz, default_months=12)
    report = dimming.consumption_by_group_month(
        conn,
        months,
        tz,
        group,
        price_eur_per_kwh=settings.energy_price_eur_per_kwh,
        emission_g_co2_per_kwh=settings.emission_g_co2_per_kwh,
    )
    rows = [ConsumptionRow(**_consumption_figures(row), group=row.group or "") for row in report.rows]
    summary = ConsumptionFigures(**_consumption_figures(report.total))
    body = Consumption(
        from_month=f"{months[0][0]:04d}-{months[0][1]:02d}",
        to_month=f"{months[-1][0]:04d}-{months[-1][1]:02d}",
        price_eur_per_kwh=settings.energy_price_eur_per_kwh,
        emission_g_co2_per_kwh=settings.emission_g_co2_per_kwh,
        summary=summary,
        months=[ConsumptionFigures(**_consumption_figures(month)) for month in report.months],
        rows=rows,
        total=_savings(summary.saved_kwh or 0.0, settings),
    )
    if format == "csv":
        return Response(
            csv_text(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="consumption-{body.from_month}-{body.to_month}.csv"'
            },
        )
    return body


def _consumption_figures(row: dimming.GroupMonthConsumption) -> dict[str, Any]:
    coverage = row.coverage
    return {
        "month": row.month,
        "lamps": coverage.lamps,
        "lamps_reporting": coverage.lamps_reporting,
        "lamp_hours": round(coverage.lamp_hours, 3),
        "measured_lamp_hours": round(coverage.measured_lamp_hours, 3),
        "coverage": round(coverage.share, 4),
        "partial": coverage.partial,
        "full_kwh": row.full_kwh,
        "estimated_kwh": row.estimated_kwh,
        "measured_kwh": row.measured_kwh,
        "saved_kwh": row.saved_kwh,
        "cost_saved_eur": row.cost_saved_eur,
        "co2_saved_kg": row.co2_saved_kg,
    }


def csv_text(rows: list[ConsumptionRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = row.model_dump()
        writer.writerow(["" if values[column] is None else values[column] for column in CSV_COLUMNS])
    return out.getvalue()
