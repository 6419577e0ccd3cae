"""The HTTP side: one FastAPI application for the JSON API and the web console."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi import FastAPI
from psycopg_pool import ConnectionPool

import accounts
from api import console, problems
from api.accounts.audit import routes as audit
from api.accounts.auth import routes as auth
from api.accounts.users import routes as users
from api.admission import AdmissionLimit
from api.console import dimming as dimming_pages
from api.console import technicians as technician_pages
from api.database import check_before_lending
from api.dimming import routes as dimming
from api.dimming.push import routes as plans
from api.energy import routes as energy
from api.fleet import routes as fleet
from api.fleet.summary import SummaryCache
from api.input_discipline import InputDiscipline
from api.lamps import routes as lamps
from api.maintenance.commissioning import routes as commissioning
from api.maintenance.events import routes as events
from api.maintenance.round import routes as daily_round
from api.maintenance.work_orders import routes as work_orders
from api.ops import docs, health, metrics
from api.predictions import routes as predictions
from api.principals import forget_principals
from api.telemetry import routes as telemetry
from core.settings import Settings, get_settings

# One line per router, in the order of the OpenAPI document; each module owns its endpoints.
ROUTERS = (
    health.router,
    docs.router,
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
    daily_round.router,
    dimming.router,
    plans.router,
    energy.router,
    console.router,
    technician_pages.router,
    dimming_pages.router,
)


def open_pool(database_url: str, settings: Settings) -> ConnectionPool:
    """The API's connections, as the service opens them (`db_pool_size` at most).

    Each one is set up once, when it is made, so that no request needs a statement for it:
    it cancels a statement after `api_statement_timeout_s` (a `SET LOCAL` per request
    would only last for its transaction, and GET requests run in autocommit).

    Prepared statements keep PostgreSQL's default plan cache mode, on purpose: a statement
    on the readings hypertable is then planned for its own time range, which reads the
    chunks of that range alone. A generic plan holds every chunk and locks them all on
    each execution, which slows every chart (`docs/performance.md`).

    A connection is tried before it is lent (`api.database.check_before_lending`), so that
    after a database restart or failover no request is given a broken one.
    """
    timeout_ms = str(round(settings.api_statement_timeout_s * 1000))

    def configure(conn: psycopg.Connection) -> None:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (timeout_ms,))
        conn.commit()

    pool: ConnectionPool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=settings.db_pool_size,
        configure=configure,
        check=check_before_lending(lambda: pool),
        open=True,
    )
    return pool


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
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by api.ops.docs from the service itself, not from a CDN
        redoc_url=None,
    )
    app.state.pool = pool
    app.state.readiness = readiness
    app.state.settings = settings or get_settings()
    app.state.fleet_summary = SummaryCache()
    # A change to an account, token or session made in this process reaches its memory of principals at once.
    accounts.on_credentials_change(forget_principals)
    # One request per pooled connection at a time; the rest wait without a thread.
    app.add_middleware(AdmissionLimit, limit=pool.max_size)
    # Outside the admission limit: a body is read and checked before it may take a connection.
    app.add_middleware(InputDiscipline)
    problems.install(app)
    console.install_error_pages(app)
    metrics.install(app, ingest_stats)
    for router in ROUTERS:
        app.include_router(router)
    return app
