"""The HTTP side: one FastAPI application for the JSON API and the web console."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from api import console, problems
from api.admission import AdmissionLimit
from api.console import dimming as dimming_pages
from api.console import technicians as technician_pages
from api.routes import (
    audit,
    auth,
    commissioning,
    dimming,
    energy,
    events,
    fleet,
    health,
    lamps,
    metrics,
    plans,
    predictions,
    telemetry,
    users,
    work_orders,
)
from core.settings import Settings, get_settings

# One line per router; each module owns its endpoints.
ROUTERS = (
    health.router,
    lamps.router,
    telemetry.router,
    events.router,
    commissioning.router,
    fleet.router,
    metrics.router,
    auth.router,
    users.router,
    audit.router,
    predictions.router,
    work_orders.router,
    dimming.router,
    plans.router,
    energy.router,
    console.router,
    technician_pages.router,
    dimming_pages.router,
)


def create_app(
    pool: ConnectionPool,
    *,
    readiness: Callable[[], dict[str, bool]] | None = None,
    settings: Settings | None = None,
    ingest_stats: Callable[[], dict] | None = None,
) -> FastAPI:
    """`ingest_stats`: the in-process ingester's `stats.snapshot`, exposed as metrics."""
    app = FastAPI(
        title="streetlight",
        version="0.1.0",
        summary="Connected street lighting: inventory, telemetry, failures, dimming.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.pool = pool
    app.state.readiness = readiness
    app.state.settings = settings or get_settings()
    app.state.fleet_summary = fleet.SummaryCache()
    # One request per pooled connection at a time; the rest wait without a thread.
    app.add_middleware(AdmissionLimit, limit=pool.max_size)
    problems.install(app)
    metrics.install(app, ingest_stats)
    for router in ROUTERS:
        app.include_router(router)
    return app
