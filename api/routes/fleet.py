"""The fleet at a glance (any role): lamps by state and connection, lamps out, energy, ingest trouble."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Request, status

from api import problems
from api.deps import Conn, Reader
from api.problems import ProblemException
from api.queries import fleet as queries
from api.queries import limit_statement_time
from api.schemas import ConnectivityCounts, Energy, FleetSummary

router = APIRouter(prefix="/api/v1", tags=["fleet"], responses=problems.responses(401, 403))

QUERY_TIMEOUT_S = 30.0
# The summary is computed at most once per this many seconds in each server process and
# shared by every caller in between: a dashboard on every desk must not cost the
# database a summary each. `generated_at` tells its age.
CACHE_S = 30.0
_refresh = threading.Lock()


@router.get(
    "/fleet/summary",
    response_model=FleetSummary,
    summary="Lamps by state and connection, lamps out, energy today and this month, dead letters",
    description="Energy: per lamp, the rise of its cumulative energy_wh between its first and last reading "
    "within the local day (month), summed over lamps, in kWh. Days and months are the town's (time_zone). "
    f"Computed at most once per {CACHE_S:.0f} s by each server process; generated_at says when.",
    responses=problems.responses(503),
)
def fleet_summary(conn: Conn, who: Reader, request: Request) -> FleetSummary:
    state = request.app.state
    # One computation at a time: callers arriving meanwhile wait for it rather than start their own.
    with _refresh:
        cached = getattr(state, "fleet_summary", None)
        if cached is None or cached[0] <= time.monotonic():
            summary = compute_summary(conn, state.settings.town_timezone)
            cached = state.fleet_summary = (time.monotonic() + CACHE_S, summary)
    return cached[1]


def compute_summary(conn: psycopg.Connection, time_zone: str) -> FleetSummary:
    now = datetime.now(timezone.utc)
    periods = queries.calendar_periods(now, ZoneInfo(time_zone))
    limit_statement_time(conn, QUERY_TIMEOUT_S)
    try:
        by_state = queries.lamps_by_state(conn)
        energy = queries.energy_wh(conn, periods)
        return FleetSummary(
            generated_at=now,
            time_zone=time_zone,
            lamps_total=sum(by_state.values()),
            lamps_by_state=by_state,
            connectivity=ConnectivityCounts(**queries.connectivity_counts(conn)),
            lamps_out=queries.count_lamps_out(conn),
            energy=Energy(
                today_kwh=energy["day_wh"] / 1000,
                month_kwh=energy["month_wh"] / 1000,
                today_from=periods.day_start,
                month_from=periods.month_start,
            ),
            dead_letters_24h=queries.count_recent_dead_letters(conn, hours=24),
            unknown_lamps_pending=queries.count_pending_unknown_lamps(conn),
        )
    except psycopg.errors.QueryCanceled:
        raise ProblemException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the summary took more than {QUERY_TIMEOUT_S:.0f} s to compute",
            type=problems.QUERY_TIMEOUT,
        ) from None
