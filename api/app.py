"""The HTTP side: one FastAPI application for the JSON API and the web console."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from api.routes import health, lamps

# One line per router; each module owns its endpoints.
ROUTERS = (
    health.router,
    lamps.router,
)


def create_app(pool: ConnectionPool, *, readiness: Callable[[], dict[str, bool]] | None = None) -> FastAPI:
    app = FastAPI(
        title="streetlight",
        version="0.1.0",
        summary="Connected street lighting: inventory, telemetry, failures, dimming.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.state.pool = pool
    app.state.readiness = readiness
    for router in ROUTERS:
        app.include_router(router)
    return app
