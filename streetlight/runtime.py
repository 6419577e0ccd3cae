"""Composition of the running service: migrations, ingester, housekeeping jobs, HTTP server.

`streetlight serve` runs it against configured servers; `streetlight demo` runs it
against the embedded ones. Whatever is started is stopped, also on error.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import psycopg
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from accounts import demo_credentials, has_active_admin
from core import db
from core.mqtt import BrokerConfig
from core.settings import Settings
from dimming import schedule_energy_count
from dimming import service as dimming_service
from ingest import Ingester
from ingest.cli import ingest_config
from models import schedule_nightly

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    pass


FIRST_ADMIN_HINT = "create the first administrator with: streetlight users add NAME --role admin"


@dataclass(frozen=True, slots=True)
class Endpoints:
    database_url: str
    mqtt_url: str


def endpoints_from_settings(settings: Settings) -> Endpoints:
    missing = [
        name
        for name, value in (
            ("STREETLIGHT_DATABASE_URL", settings.database_url),
            ("STREETLIGHT_MQTT_URL", settings.mqtt_url),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            "serve needs " + ", ".join(missing) + " (run `streetlight demo` for the embedded default)"
        )
    broker = BrokerConfig.from_settings(settings)
    # A TLS client certificate identifies the service to the broker as a password does.
    has_credentials = bool(broker.username) or (broker.tls and broker.client_cert is not None)
    if not has_credentials and not _is_loopback(broker.host) and not settings.mqtt_allow_anonymous:
        raise ConfigurationError(
            f"the broker {broker} is not on this machine and neither STREETLIGHT_MQTT_USERNAME/PASSWORD"
            " nor STREETLIGHT_MQTT_CLIENT_CERT is set;"
            " production brokers need credentials (STREETLIGHT_MQTT_ALLOW_ANONYMOUS=true overrides)"
        )
    return Endpoints(settings.database_url, settings.mqtt_url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_service(
    settings: Settings,
    endpoints: Endpoints,
    *,
    host: str,
    port: int,
    stop: threading.Event,
    extra: ExitStack | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run until `stop` is set. `extra` holds whatever else the caller started (the demo's simulator)."""
    # FastAPI and the app's routes load here, so that the other commands start without them.
    from api.app import create_app, open_pool

    service_settings = settings.model_copy(
        update={"database_url": endpoints.database_url, "mqtt_url": endpoints.mqtt_url}
    )
    with ExitStack() as stack:
        if extra is not None:
            stack.push(extra)
        db.wait_for_database(endpoints.database_url, timeout_s=60)
        db.upgrade(endpoints.database_url, chunk_interval_hours=settings.chunk_interval_hours)
        with db.connect(endpoints.database_url) as conn:
            log.info("storage: %s", db.storage_info(conn).backend)

        ingester = Ingester(ingest_config(service_settings))
        ingester.start()
        stack.callback(ingester.stop)
        _start_jobs(stack, settings, endpoints.database_url)
        dimming_service.start(stack, settings, endpoints.database_url, BrokerConfig.from_settings(service_settings))

        pool = open_pool(endpoints.database_url, settings)
        stack.callback(pool.close)

        def readiness() -> dict[str, bool]:
            snap = ingester.stats.snapshot()
            return {"broker": snap["broker_connected"], "ingest_database": snap["database_available"]}

        app = create_app(pool, readiness=readiness, settings=settings, ingest_stats=ingester.stats.snapshot)
        _start_http(stack, app, host, port)
        log.info("HTTP API on http://%s:%d (health: /healthz, docs: /api/docs)", host, port)
        if on_ready:
            on_ready()
        stop.wait()
        log.info("shutting down")


def _start_jobs(stack: ExitStack, settings: Settings, database_url: str) -> None:
    """The housekeeping jobs: nightly retention, the models' training and scoring, the energy count."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        retention_job,
        "cron",
        hour=3,
        minute=17,
        args=[database_url, settings.retention_days],
        id="retention",
        coalesce=True,
        max_instances=1,
    )
    schedule_nightly(scheduler, settings, database_url)
    schedule_energy_count(scheduler, settings, database_url)
    scheduler.start()
    stack.callback(scheduler.shutdown, wait=False)


def _start_http(stack: ExitStack, app: FastAPI, host: str, port: int) -> None:
    """Serve `app` on its own thread; return once it listens, or raise if it cannot."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()

    def stop_http() -> None:
        server.should_exit = True
        thread.join(10)

    stack.callback(stop_http)
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise ConfigurationError(f"the HTTP server could not start on {host}:{port}")


def retention_lock_name(day: date) -> str:
    """The retention job's advisory lock on a (UTC) day: one replica runs it each night."""
    return f"retention {day.isoformat()}"


def retention_job(database_url: str, retention_days: int, *, today: date | None = None) -> int | None:
    """Drop the readings past retention, unless another replica is at it; the chunks or rows removed."""
    today = today or datetime.now(UTC).date()
    try:
        with db.connect(database_url) as conn, db.job_lock(conn, retention_lock_name(today)) as taken:
            if not taken:
                log.info("retention: skipped, another replica is running it")
                return None
            removed = db.apply_retention(conn, retention_days)
        log.info("retention: removed %d chunks/rows of readings older than %d days", removed, retention_days)
        return removed
    except Exception:
        log.exception("retention job failed; it runs again tomorrow")
        return None


def check_accounts(conn: psycopg.Connection) -> None:
    """Before serving: refuse the demo's credentials, and say how to make the first administrator.

    The demo prints its passwords and tokens and keeps them in its data folder, so a
    database it made is not served until each of them is replaced or revoked.
    """
    if found := demo_credentials(conn):
        accounts = "; ".join(f"{username}: {', '.join(what)}" for username, what in found.items())
        raise ConfigurationError(
            f"accounts still sign in with credentials made by `streetlight demo` ({accounts}). Before serving,"
            " set new passwords with `streetlight users passwd NAME` and revoke the demo tokens with"
            " `streetlight users revoke-token TOKEN_ID`, or deactivate the accounts with"
            " `streetlight users deactivate NAME`"
        )
    if not has_active_admin(conn):
        log.warning("no active administrator: %s", FIRST_ADMIN_HINT)


def serve(settings: Settings, *, host: str, port: int, stop: threading.Event) -> None:
    endpoints = endpoints_from_settings(settings)
    db.wait_for_database(endpoints.database_url, timeout_s=60)
    db.upgrade(endpoints.database_url, chunk_interval_hours=settings.chunk_interval_hours)
    with db.connect(endpoints.database_url) as conn:
        check_accounts(conn)
    run_service(settings, endpoints, host=host, port=port, stop=stop)
