"""Prometheus metrics: ingest counters, ingest lag, lamps online, API request latency, sign-in refusals.

`install` adds the latency middleware (one histogram per application, labelled by
route template, never by the raw path, so ids do not multiply the series) and the
counter of attempts the sign-in limit refused (`count_login_throttled`). The
endpoint builds a registry per scrape from the application's histogram, the
ingester's counters (when the ingester runs in this process) and a few cheap
database queries. Like every endpoint but health, it needs a role or a token;
Prometheus sends one with `authorization: {credentials: ...}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import accounts
from api import problems
from api.database import DictConnection
from api.deps import Conn, Reader
from api.fleet import queries as fleet_queries

router = APIRouter(tags=["metrics"], responses=problems.responses(401, 403))

IngestStats = Callable[[], dict[str, Any]]

_EXAMPLE = """# HELP streetlight_lamps_online Lamps not retired whose controller last reported online
# TYPE streetlight_lamps_online gauge
streetlight_lamps_online 1170.0
# HELP streetlight_ingest_lag_seconds Seconds since the newest reading (by measurement time) was received
# TYPE streetlight_ingest_lag_seconds gauge
streetlight_ingest_lag_seconds 12.5
"""


class RequestLatency:
    """ASGI middleware observing each HTTP request's duration by method, route template and status."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500  # an exception escaping the app answers 500

        async def send_observed(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.histogram.labels(scope["method"], route, str(status_code)).observe(time.perf_counter() - started)


def install(app: FastAPI, ingest_stats: IngestStats | None) -> None:
    histogram = Histogram(
        "streetlight_http_request_duration_seconds",
        "HTTP request duration by method, route template and status",
        ["method", "route", "status"],
        registry=None,
    )
    app.state.request_latency = histogram
    app.state.ingest_stats = ingest_stats
    app.add_middleware(RequestLatency, histogram=histogram)
    login_throttled = Counter(
        "streetlight_login_throttled",
        "Sign-in and password-change attempts refused by the sign-in limit, by the limit that refused",
        ["limit"],
        registry=None,
    )
    for limit in accounts.LOGIN_LIMIT_NAMES:
        login_throttled.labels(limit)  # shown from the start, at 0
    app.state.login_throttled = login_throttled


def count_login_throttled(request: Request, limit: str) -> None:
    """Count one attempt the sign-in limit refused; `limit`: one of accounts.LOGIN_LIMIT_NAMES."""
    request.app.state.login_throttled.labels(limit).inc()


@router.get(
    "/metrics",
    summary="Prometheus metrics (any role, or a token)",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"example": _EXAMPLE}}}},
)
def metrics(conn: Conn, who: Reader, request: Request) -> Response:
    families = database_metrics(conn)
    ingest_stats = request.app.state.ingest_stats
    if ingest_stats is not None:
        families += ingest_metrics(ingest_stats())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(request.app.state.request_latency)
    registry.register(request.app.state.login_throttled)
    registry.register(_Families(families))
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)


class _Families:
    """A collector handing out metric families computed for this scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def database_metrics(conn: DictConnection) -> list[Metric]:
    connectivity = fleet_queries.connectivity_counts(conn)
    families: list[Metric] = [
        GaugeMetricFamily(
            "streetlight_lamps_online",
            "Lamps not retired whose controller last reported online",
            value=connectivity["online"],
        ),
        GaugeMetricFamily(
            "streetlight_lamps_offline",
            "Lamps not retired whose controller last reported offline",
            value=connectivity["offline"],
        ),
        GaugeMetricFamily(
            "streetlight_lamps_status_unknown",
            "Lamps not retired whose controller never reported its connection",
            value=connectivity["unknown"],
        ),
    ]
    lag_s = fleet_queries.ingest_lag_s(conn)
    if lag_s is not None:
        families.append(
            GaugeMetricFamily(
                "streetlight_ingest_lag_seconds",
                "Seconds since the newest reading (by measurement time) was received",
                value=max(lag_s, 0.0),
            )
        )
    recent = GaugeMetricFamily(
        "streetlight_dead_letters_last_24h", "Dead letters stored in the last 24 hours, by reason", labels=["reason"]
    )
    for reason, count in fleet_queries.dead_letters_by_reason(conn, hours=24).items():
        recent.add_metric([reason], count)
    families.append(recent)
    return families


def ingest_metrics(snapshot: dict[str, Any]) -> list[Metric]:
    """The in-process ingester's counters since it started (see ingest.service.IngestStats). Pure."""
    families: list[Metric] = [
        CounterMetricFamily(f"streetlight_ingest_{name}", help_text, value=snapshot[name])
        for name, help_text in (
            ("messages_received", "MQTT messages received"),
            ("messages_acked", "MQTT messages acknowledged after their commit"),
            ("readings_stored", "Readings stored"),
            ("readings_duplicate", "Readings received again and not stored twice"),
            ("events_stored", "Events stored"),
            ("database_outages", "Times the ingester lost the database"),
            ("batches_rolled_back", "Batches the database rolled back (deadlock, serialization) and written again"),
        )
    ]
    dead = CounterMetricFamily(
        "streetlight_ingest_dead_letters", "Messages dead-lettered, by reason", labels=["reason"]
    )
    for reason, count in sorted(snapshot["dead_letters"].items()):
        dead.add_metric([reason], count)
    families.append(dead)
    families.append(
        GaugeMetricFamily(
            "streetlight_ingest_database_available",
            "1 while the ingester can write to the database",
            value=1.0 if snapshot["database_available"] else 0.0,
        )
    )
    families.append(
        GaugeMetricFamily(
            "streetlight_ingest_broker_connected",
            "1 while the ingester is connected to the broker",
            value=1.0 if snapshot["broker_connected"] else 0.0,
        )
    )
    return families
