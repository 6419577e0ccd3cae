"""The fleet at a glance (any role): lamps by state and connection, lamps out, energy, ingest trouble."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from api import problems
from api.deps import Conn, Db, Reader, SettingsDep
from api.fleet import queries
from api.fleet.schemas import FleetMap, FleetSummary
from api.fleet.summary import CACHE_S

router = APIRouter(prefix="/api/v1", tags=["fleet"], responses=problems.responses(401, 403))


@router.get(
    "/fleet/summary",
    response_model=FleetSummary,
    summary="Lamps by state and connection, lamps out, energy today and this month, dead letters",
    description="Energy: per lamp, the rise of its cumulative energy_wh between its first and last reading "
    "within the local day (month), summed over lamps, in kWh. Days and months are the town's (time_zone). "
    f"Recomputed in the background at most once per {CACHE_S:.0f} s by each server process, never while a"
    " caller waits (except the very first); generated_at says when.",
    responses=problems.responses(503),
)
def fleet_summary(db: Db, who: Reader, request: Request, settings: SettingsDep) -> Response:
    state = request.app.state
    computed = state.fleet_summary.get(db, state.pool, settings.town_timezone)
    return Response(computed.body, media_type="application/json")


@router.get(
    "/fleet/map",
    response_model=FleetMap,
    summary="Every lamp's position, state and connection, compactly, for drawing the fleet map",
    description="One answer for the whole fleet, as parallel arrays in lamp id order (item i of each array is "
    "the same lamp), rather than pages of full lamp records: a city's map is a few bytes per lamp. Lamps "
    "without coordinates are only counted (without_position). Retired lamps are included, with their state.",
)
def fleet_map(conn: Conn, who: Reader) -> Response:
    generated_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return Response(queries.fleet_map_json(conn, generated_at), media_type="application/json")
