"""The daily round (technician, admin): the lamps and circuits to visit on a day, grouped by street,
as JSON or CSV. Which visits, in which order, is decided in `plan`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api import problems
from api.console.i18n import DEFAULT_LANGUAGE, supported
from api.database import DictConnection
from api.deps import Conn, FieldStaff, SettingsDep
from api.maintenance.round import plan
from api.maintenance.round.schemas import DailyRound, RoundStreet, Visit
from api.maintenance.work_orders import queries as work_order_queries
from api.predictions import queries as prediction_queries
from api.principals import Principal
from api.vocabulary import Locale
from core.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["work-orders"], responses=problems.responses(401, 403))

Day = Annotated[date | None, Query(description="YYYY-MM-DD; today in the town's time zone by default.")]
Lang = Annotated[Locale | None, Query(description="Language of the reasons; the account's language by default.")]

_CSV_EXAMPLE = (
    "street,lamp,name,address,reason,work_order,probability,lat,lon,circuit\r\n"
    "Rue des Tilleuls,L-0042,Rue des Tilleuls 12,12 rue des Tilleuls,"
    "power factor fell from 0.96 to 0.88 over 10 days,12,0.83,48.8566,2.3522,C-07\r\n"
    "Rue des Tilleuls,,Circuit C-03 (27 lamps),,the circuit's voltage sagged by 9 V over 7 days,,0.64,48.8571,"
    "2.3519,C-03\r\n"
)


@router.get(
    "/round",
    response_model=DailyRound,
    summary="The lamps and circuits to visit on a day, grouped by street (technician, admin)",
    description="The work orders scheduled for the day, then the others not closed and the circuits of the newest "
    "run at risk of a supply loss (STREETLIGHT_CIRCUIT_ROUND_MIN_PROBABILITY or more, one visit each), most urgent "
    "first (faults, then the highest probabilities), up to the crews' visits per day "
    "(STREETLIGHT_CREW_VISITS_PER_DAY). A circuit is listed under its main street.",
)
def get_round(conn: Conn, who: FieldStaff, settings: SettingsDep, day: Day = None, lang: Lang = None) -> DailyRound:
    return _daily_round(conn, who, settings, day, lang)


@router.get(
    "/round.csv",
    response_class=Response,
    summary="The day's round as CSV: street, lamp, name, address, reason, work order, probability, lat, lon, circuit",
    description="One line per visit, in the order of the round. A circuit's line has no lamp and no work order, "
    "and the centroid of its lamps as lat, lon; a lamp's line names the lamp's circuit.",
    responses={
        200: {"description": "UTF-8 CSV, one line per visit", "content": {"text/csv": {"example": _CSV_EXAMPLE}}}
    },
)
def get_round_csv(conn: Conn, who: FieldStaff, settings: SettingsDep, day: Day = None, lang: Lang = None) -> Response:
    day_round = _daily_round(conn, who, settings, day, lang)
    text = plan.csv_text(
        [(street.street, [visit.model_dump() for visit in street.visits]) for street in day_round.streets]
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="round-{day_round.day.isoformat()}.csv"'},
    )


def _daily_round(
    conn: DictConnection, who: Principal, settings: Settings, day: date | None, lang: str | None
) -> DailyRound:
    day = day or datetime.now(ZoneInfo(settings.town_timezone)).date()
    lang = lang or supported(who.locale) or DEFAULT_LANGUAGE
    capacity = settings.crew_visits_per_day
    # More circuits than the crews' visits could never fit in the day.
    circuits = prediction_queries.list_latest_circuits(
        conn,
        prediction_queries.CircuitFilter(min_probability=settings.circuit_round_min_probability),
        limit=capacity,
        offset=0,
    )
    candidates = plan.with_circuit_stops(work_order_queries.round_candidates(conn, day), circuits)
    chosen = plan.select_visits(candidates, capacity)
    visits = [plan.visit(position, row, lang) for position, row in enumerate(chosen, start=1)]
    return DailyRound(
        day=day,
        capacity=capacity,
        scheduled=sum(1 for row in chosen if row["due"]),
        circuits=sum(1 for row in chosen if row["kind"] == plan.CIRCUIT),
        total=len(visits),
        streets=[
            RoundStreet(street=street, visits=[Visit(**v) for v in group])
            for street, group in plan.group_by_street(visits)
        ],
    )
