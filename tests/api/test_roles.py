"""Who may call what: every endpoint of the application, every role and the anonymous.

The table below must name every route the application has (a new endpoint fails this
test until it is added), with a valid request for each, so that an allowed call really
succeeds and a refused one is refused for its role, not for a bad request.

The JSON API is called with each role's bearer token; the console's pages with each
role's session cookie (they never accept a token), and send the anonymous to the
sign-in page (303) where the API answers 401.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import fastapi.routing
import psycopg
import pytest

from accounts import sha256_hex
from api.principals import SESSION_COOKIE
from core.vocabulary import Role
from tests.api import roles_dimming, roles_energy, roles_plans, roles_prediction
from tests.api.factories import PASSWORD, make_account, make_user
from tests.api.fleet_factories import add_reading, add_unknown_lamp, api_client, bearer, make_lamp
from tests.api.role_kit import (
    ANONYMOUS,
    CALLERS,
    VENDOR_STATUS,
    Call,
    Request,
    World,
    admin_only,
    any_role,
    everyone,
    field_staff,
    fixed,
    page,
    signed_in_page,
)

T0 = datetime(2026, 11, 25, tzinfo=UTC)
HOUR = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z"}

# (method, route path) -> (request, expected status per caller)
TABLE: dict[tuple[str, str], tuple[Request, dict[str, int]]] = {
    # health and the documentation are open
    ("GET", "/healthz"): (fixed("/healthz"), everyone(200)),
    ("GET", "/readyz"): (fixed("/readyz"), everyone(200)),
    ("GET", "/api/openapi.json"): (fixed("/api/openapi.json"), everyone(200)),
    ("GET", "/api/docs"): (fixed("/api/docs"), everyone(VENDOR_STATUS)),  # Swagger UI from node_modules
    ("GET", "/api/redoc"): (fixed("/api/redoc"), everyone(VENDOR_STATUS)),
    # inventory
    ("GET", "/api/v1/lamps"): (fixed("/api/v1/lamps", q="L"), any_role(200)),
    ("POST", "/api/v1/lamps"): (
        lambda world, caller: Call("/api/v1/lamps", {"lamp_id": f"NEW-{caller}", "name": "new"}),
        admin_only(201),
    ),
    ("GET", "/api/v1/lamps/{lamp_id}"): (fixed("/api/v1/lamps/L1"), any_role(200)),
    ("PATCH", "/api/v1/lamps/{lamp_id}"): (fixed("/api/v1/lamps/L1", {"name": "renamed"}), admin_only(200)),
    ("POST", "/api/v1/lamps/{lamp_id}/retire"): (fixed("/api/v1/lamps/L2/retire"), admin_only(200)),
    # telemetry
    ("GET", "/api/v1/lamps/{lamp_id}/telemetry"): (fixed("/api/v1/lamps/L1/telemetry", **HOUR), any_role(200)),
    ("GET", "/api/v1/groups/{group_name}/telemetry"): (fixed("/api/v1/groups/g1/telemetry", **HOUR), any_role(200)),
    ("GET", "/api/v1/circuits/{circuit}/telemetry"): (fixed("/api/v1/circuits/c1/telemetry", **HOUR), any_role(200)),
    # events
    ("GET", "/api/v1/events"): (fixed("/api/v1/events", open="true"), any_role(200)),
    ("POST", "/api/v1/lamps/{lamp_id}/events"): (
        lambda world, caller: Call(
            "/api/v1/lamps/L1/events",
            {
                "type": "day_burning",
                "detail": caller,
                "ts": (T0 + timedelta(minutes=CALLERS.index(caller))).isoformat(),
            },
        ),
        field_staff(201),
    ),
    # dead letters and commissioning
    ("GET", "/api/v1/dead-letters"): (fixed("/api/v1/dead-letters", reason="invalid_json"), field_staff(200)),
    ("GET", "/api/v1/unknown-lamps"): (fixed("/api/v1/unknown-lamps"), field_staff(200)),
    ("POST", "/api/v1/unknown-lamps/{lamp_id}/commission"): (
        fixed("/api/v1/unknown-lamps/U1/commission", {"name": "found", "lat": 48.85, "lon": 2.35}),
        admin_only(201),
    ),
    ("POST", "/api/v1/unknown-lamps/{lamp_id}/dismiss"): (fixed("/api/v1/unknown-lamps/U2/dismiss"), admin_only(200)),
    # fleet and operations
    ("GET", "/api/v1/fleet/summary"): (fixed("/api/v1/fleet/summary"), any_role(200)),
    ("GET", "/api/v1/fleet/map"): (fixed("/api/v1/fleet/map"), any_role(200)),
    ("GET", "/metrics"): (fixed("/metrics"), any_role(200)),
    # accounts: signing in is open; one's own account and tokens for any role
    ("POST", "/api/v1/auth/login"): (
        fixed("/api/v1/auth/login", {"username": "signer", "password": PASSWORD}),
        everyone(200),
    ),
    ("POST", "/api/v1/auth/logout"): (fixed("/api/v1/auth/logout"), any_role(204)),
    ("GET", "/api/v1/auth/me"): (fixed("/api/v1/auth/me"), any_role(200)),
    ("PATCH", "/api/v1/auth/me"): (fixed("/api/v1/auth/me", {"locale": "en"}), any_role(200)),
    ("POST", "/api/v1/auth/tokens"): (fixed("/api/v1/auth/tokens", {"name": "script"}), any_role(201)),
    ("GET", "/api/v1/auth/tokens"): (fixed("/api/v1/auth/tokens"), any_role(200)),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): (
        lambda world, caller: Call(f"/api/v1/auth/tokens/{world.spare_token_ids.get(caller, 1)}"),
        any_role(204),
    ),
    # accounts and the audit log: administrators only
    ("GET", "/api/v1/users"): (fixed("/api/v1/users"), admin_only(200)),
    ("POST", "/api/v1/users"): (
        lambda world, caller: Call("/api/v1/users", {"username": f"new-{caller}", "role": "technician"}),
        admin_only(201),
    ),
    ("GET", "/api/v1/users/{username}"): (fixed("/api/v1/users/someone"), admin_only(200)),
    ("PATCH", "/api/v1/users/{username}"): (fixed("/api/v1/users/someone", {"display_name": "S."}), admin_only(200)),
    ("GET", "/api/v1/audit"): (fixed("/api/v1/audit"), admin_only(200)),
    # the console's pages and files
    ("GET", "/login"): (page("/login"), everyone(303) | {ANONYMOUS: 200}),  # the signed-in go on
    ("GET", "/"): (page("/"), signed_in_page(any_role(200))),
    ("GET", "/lamps/{lamp_id}"): (page("/lamps/L1"), signed_in_page(any_role(200))),
    ("GET", "/lists/{kind}"): (page("/lists/unknown"), signed_in_page(field_staff(200))),
    ("GET", "/admin/users"): (page("/admin/users"), signed_in_page(admin_only(200))),
    ("GET", "/console/static/{name:path}"): (fixed("/console/static/console.css"), everyone(200)),
    ("GET", "/console/vendor/{package}/{name:path}"): (
        fixed("/console/vendor/leaflet/leaflet.js"),
        everyone(VENDOR_STATUS),
    ),
}


AREAS = (roles_prediction, roles_dimming, roles_plans, roles_energy)
for _area in AREAS:
    assert not _area.TABLE.keys() & TABLE.keys(), f"{_area.__name__} repeats rows of the table"
    TABLE |= _area.TABLE


def app_endpoints(app) -> set[tuple[str, str]]:
    """(method, path) of every route, those of included routers too; HEAD goes with GET."""
    routes = app.routes
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI with lazily included routers
    endpoints = set()
    for route in flatten(routes) if flatten else routes:
        methods = route.methods or {"MOUNT"}
        endpoints |= {(method, route.path) for method in methods if method != "HEAD"}
    return endpoints


@pytest.fixture
def world(timescale_url: str) -> World:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        tokens = {role.value: make_user(conn, role, role.value) for role in Role}
        spare = {
            username: token_id
            for username, token_id in conn.execute(
                """INSERT INTO api_tokens (user_id, name, token_sha256)
                   SELECT user_id, 'spare', 'spare-' || username FROM users RETURNING
                   (SELECT username FROM users u WHERE u.user_id = api_tokens.user_id), token_id"""
            ).fetchall()
        }
        sessions = {role.value: secrets.token_urlsafe(24) for role in Role}
        for username, session_id in sessions.items():
            conn.execute(
                """INSERT INTO sessions (session_sha256, user_id, csrf_token, expires_at)
                   SELECT %s, user_id, 'csrf', now() + interval '1 hour' FROM users WHERE username = %s""",
                (sha256_hex(session_id), username),
            )
        make_account(conn, Role.TECHNICIAN, "signer")
        make_account(conn, Role.TECHNICIAN, "someone")
        make_lamp(conn, "L1", group_name="g1", circuit="c1")
        make_lamp(conn, "L2")
        add_reading(conn, "L1", datetime(2026, 11, 25, 0, 10, tzinfo=UTC), power_w=50.0)
        add_unknown_lamp(conn, "U1")
        add_unknown_lamp(conn, "U2")
        world = World(tokens, sessions, spare)
        for area in AREAS:
            area.prepare(conn, world)
    return world


def test_every_endpoint_answers_each_role_as_the_table_says(world, timescale_url):
    with api_client(timescale_url, readiness=lambda: {"broker": True}) as client:
        endpoints = app_endpoints(client.app)
        assert endpoints - TABLE.keys() == set(), "add these endpoints to the table, with a valid request"
        assert TABLE.keys() - endpoints == set(), "these endpoints are gone: remove them from the table"

        wrong = []
        for (method, route), (request, expected) in TABLE.items():
            assert set(expected) == set(CALLERS), f"{method} {route}: give a status for every caller"
            for caller in CALLERS:
                call = request(world, caller)
                headers, cookies = {}, {}
                if caller != ANONYMOUS and call.page:
                    cookies = {SESSION_COOKIE: world.sessions[caller]}
                elif caller != ANONYMOUS:
                    headers = bearer(world.tokens[caller])
                client.cookies.clear()  # a sign-in must not authenticate the next caller
                client.cookies.update(cookies)
                response = client.request(
                    method, call.path, json=call.json, params=call.params, headers=headers, follow_redirects=False
                )
                if response.status_code != expected[caller]:
                    wrong.append(
                        f"{method} {route} as {caller}: {response.status_code}, expected {expected[caller]}"
                        f" ({response.text[:200]})"
                    )
    assert wrong == []
