"""Property-based testing of the whole HTTP API: schemathesis against the schema the app serves.

Every operation of the served OpenAPI schema is sent requests built from the schema (its
examples, valid data and invalid data), as each role with its API token and anonymously,
against the real application over a TimescaleDB database holding a small town. Every
answer must be no 5xx, carry a status code the operation declares, and have the declared
content type, headers and body. The anonymous caller must be refused by every operation but
the open ones (health, sign-in): 401 or 403, or its input refused before authentication.

The console's pages are not in the schema: they are fuzzed here with Hypothesis alone (path
segments and query strings) as each role with its session cookie and anonymously, and must never
answer 5xx; the anonymous is sent to the sign-in page (303), as the console's design has it.

Bounded for CI: at most `STREETLIGHT_FUZZ_EXAMPLES` requests per operation and caller (25 by
default; more while Hypothesis shrinks a failure), derandomized, so that every run sends the same
requests. Raise it locally to search further.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import fastapi.routing
import hypothesis
import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import sha256_hex
from api.app import create_app, open_pool
from api.openapi import openapi_schema
from api.principals import SESSION_COOKIE
from core.settings import Settings
from core.vocabulary import Role
from tests.api import roles_dimming, roles_energy, roles_prediction
from tests.api.factories import make_account, make_user
from tests.api.fleet_factories import (
    add_dead_letter,
    add_event,
    add_reading,
    add_unknown_lamp,
    bearer,
    make_lamp,
    set_status,
)
from tests.api.prediction_factories import add_circuit_prediction, add_prediction, reason
from tests.api.role_kit import ANONYMOUS, CALLERS, World

pytestmark = [pytest.mark.slow, pytest.mark.timescale]

EXAMPLES_PER_OPERATION = int(os.environ.get("STREETLIGHT_FUZZ_EXAMPLES", "25"))
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(hypothesis.HealthCheck),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Hostile text and numbers are generated too: the NUL character (schemathesis's default) and numbers
# beyond any column's range must be refused as 4xx by the input discipline (api/input_discipline.py,
# core/columns.py), which has plain tests of its own (tests/api/test_input_discipline.py).
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


# --- the town ---------------------------------------------------------------------------------------
# The operations, known without a database to name the tests; the fuzzer reads the served schema.
OPERATIONS = [(method.upper(), path) for path, item in openapi_schema()["paths"].items() for method in item]
NOW = datetime.now(UTC).replace(microsecond=0)


def _load_town(conn: psycopg.Connection, world: World) -> None:
    """A few lamps named as in the schema's examples (so that generated requests find them), two
    days of readings, events, predictions, dead letters, commissioning, accounts and schedules."""
    make_lamp(conn, "L-0041", street="Rue des Tilleuls", circuit="C-07", group_name="centre", lat=48.85, lon=2.35)
    make_lamp(conn, "L-0042", street="Rue des Tilleuls", circuit="C-07", group_name="centre", rated_power_w=54.0)
    make_lamp(conn, "L-0043", street="Place du Marché", circuit="C-02", group_name="north", state="faulty")
    make_lamp(conn, "L1", group_name="g1", circuit="c1")
    make_lamp(conn, "L2")
    for lamp_id in ("L-0041", "L-0042", "L-0043"):
        set_status(conn, lamp_id, online=lamp_id != "L-0043")
        for step in range(0, 48 * 60, 30):
            add_reading(conn, lamp_id, NOW - timedelta(minutes=step), power_w=52.0, voltage_v=230.0, dim_level=80)
    add_event(conn, "L-0043", NOW - timedelta(hours=3), "lamp_failure", {"code": 3})
    add_event(conn, "L-0042", NOW - timedelta(hours=2), "repaired", "driver replaced", source="technician")
    add_dead_letter(conn, "invalid_json", b"{not json", lamp_id="L-0042")
    add_dead_letter(conn, "unknown_lamp", b'{"power_w": 1}', lamp_id="L-0999")
    add_unknown_lamp(conn, "L-0999")
    add_unknown_lamp(conn, "U1", status="dismissed")
    why = [reason("power_factor", "power factor fell from 0.96 to 0.88 over 10 days")]
    add_prediction(conn, "L-0042", NOW - timedelta(hours=1), 0.7, why)
    add_circuit_prediction(conn, "C-07", NOW - timedelta(hours=1), 0.4, why, lamps=2)
    make_account(conn, Role.TECHNICIAN, "claire")
    for area in (roles_prediction, roles_dimming, roles_energy):
        area.prepare(conn, world)


def _principals(conn: psycopg.Connection) -> tuple[dict[str, str], dict[str, str]]:
    """A bearer token and a console session per role. Their token ids are far above the ones the
    fuzzer revokes (it tries small numbers), so that every caller keeps its credentials throughout."""
    conn.execute("SELECT setval(pg_get_serial_sequence('api_tokens', 'token_id'), 1000000)")
    tokens = {role.value: make_user(conn, role, f"fuzz-{role.value}") for role in Role}
    conn.execute("SELECT setval(pg_get_serial_sequence('api_tokens', 'token_id'), 1, false)")
    sessions = {role.value: secrets.token_urlsafe(24) for role in Role}
    for role, session_id in sessions.items():
        conn.execute(
            """INSERT INTO sessions (session_sha256, user_id, csrf_token, expires_at)
               SELECT %s, user_id, 'csrf', now() + interval '1 day' FROM users WHERE username = %s""",
            (sha256_hex(session_id), f"fuzz-{role}"),
        )
    return tokens, sessions


@pytest.fixture(scope="module")
def town(module_timescale_url: str) -> Iterator[tuple[World, TestClient]]:
    with psycopg.connect(module_timescale_url, autocommit=True) as conn:
        tokens, sessions = _principals(conn)
        world = World(tokens, sessions, {})
        _load_town(conn, world)
    settings = Settings(_env_file=None)
    with open_pool(module_timescale_url, settings.model_copy(update={"db_pool_size": 4})) as pool:
        app = create_app(pool, settings=settings, readiness=lambda: {"broker": True})
        yield world, TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def served_schema(town: tuple[World, TestClient]) -> schemathesis.BaseSchema:
    _, client = town
    return schemathesis.openapi.from_asgi("/api/openapi.json", client.app)


# What anyone may call; every other operation refuses the anonymous.
OPEN_TO_ALL = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/api/v1/auth/login")}


def _headers(world: World, caller: str) -> dict[str, str]:
    return {} if caller == ANONYMOUS else bearer(world.tokens[caller])


# How the anonymous may be answered by an operation that is not open to all: refused (401, 403), or its
# input refused as unreadable before anyone is authenticated (400, 413, 422: not UTF-8, not JSON, too
# large, NUL characters). Never an answer of the operation itself (2xx, 404, 409), nor 5xx.
ANONYMOUS_ANSWERS = {400, 401, 403, 413, 422}


def _known_path_parameters(world: World, caller: str, path: str) -> dict[str, Any]:
    """Path parameters that name what the town has (the caller's own records where each has one), for
    a share of the requests that then reach the operation's code instead of stopping at a 404."""
    dimming = world.extra["dimming"]
    known = {
        "lamp_id": "L-0999" if path.startswith("/api/v1/unknown-lamps/") else "L-0042",
        "group_name": "centre",
        "circuit": "C-07",
        "username": "claire",
        "work_order_id": world.extra["work_orders"][caller],
        "profile_id": dimming["profiles"][caller],
        "assignment_id": dimming["assignments"][caller],
        "exception_id": dimming["exceptions"][caller],
        "override_id": dimming["overrides"][caller],
    }  # token_id is left out: the fuzzer would revoke its own token
    return {name: known[name] for name in re.findall(r"{(\w+)}", path) if name in known}


# --- the JSON API -----------------------------------------------------------------------------------
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_every_answer_is_declared_and_never_a_server_error(served_schema, town, caller, method, path):
    world, client = town
    operation = served_schema[path][method]
    headers = _headers(world, caller)
    open_to_all = (method, path) in OPEN_TO_ALL
    strategies = [
        *served_schema.get_strategies_from_examples(operation),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if known := _known_path_parameters(world, caller, path):
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    strategy = st.one_of(*strategies)

    @SETTINGS
    @hypothesis.given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if caller == ANONYMOUS and not open_to_all:
            assert response.status_code in ANONYMOUS_ANSWERS, (
                f"the anonymous got {response.status_code} from {case.method} {case.formatted_path}"
            )

    fuzz()
    if caller != ANONYMOUS:  # the fuzzer asked as this caller throughout: its token still works
        assert client.get("/api/v1/auth/me", headers=headers).json()["username"] == f"fuzz-{caller}"


# --- the console's pages ----------------------------------------------------------------------------
def _console_paths() -> list[str]:
    """The console's routes: those of the application that the schema leaves out, but its documentation."""
    routes = create_app(ConnectionPool("", open=False)).routes
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI with lazily included routers
    every: list[Any] = list(flatten(routes) if flatten else routes)
    return sorted(route.path for route in every if route.endpoint.__module__.startswith("api.console"))


CONSOLE_ROUTES = _console_paths()
FILES = ("/console/static/", "/console/vendor/")
QUERY = st.dictionaries(st.sampled_from(["lang", "next", "signed_out", "expired"]) | ANY_TEXT, ANY_TEXT, max_size=3)


def _fill(template: str, values: list[str]) -> str:
    """The route's path with each {parameter} replaced by a percent-encoded value."""
    parts = template.split("{")
    path = parts[0]
    for part, value in zip(parts[1:], values, strict=True):
        path += quote(value, safe="") + part.split("}", 1)[1]
    return path


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", CONSOLE_ROUTES)
def test_console_pages_never_answer_a_server_error(town, caller, route):
    world, client = town
    cookies = {} if caller == ANONYMOUS else {SESSION_COOKIE: world.sessions[caller]}

    @SETTINGS
    @hypothesis.given(values=st.lists(ANY_TEXT, min_size=route.count("{"), max_size=route.count("{")), query=QUERY)
    def fuzz(values: list[str], query: dict[str, str]) -> None:
        url = _fill(route, values) + (f"?{urlencode(query)}" if query else "")
        client.cookies.clear()
        client.cookies.update(cookies)
        response = client.get(url, follow_redirects=False)
        assert response.status_code < 500 or response.status_code == 503 and route.startswith(FILES[1]), url
        if caller == ANONYMOUS and route != "/login" and not route.startswith(FILES) and response.status_code != 404:
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), url

    fuzz()
