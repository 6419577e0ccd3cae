"""One input discipline for every endpoint: one plain test per class of hostile input.

Each refusal is checked for its exact status, the field the problem names, and that
nothing stored changed (every table of the database, compared before and after).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from starlette.types import Message

from api.input_discipline import BODY_LIMITS_BYTES, InputDiscipline
from core.vocabulary import Role
from tests.api.factories import make_account, make_user
from tests.api.fleet_factories import bearer, make_lamp
from tests.conftest import REPO_ROOT

LOGIN = "/api/v1/auth/login"
MIB = 1024 * 1024
# Tables a request writes to as a side effect of being answered (when a token was last used).
_TOUCHED_BY_ANY_REQUEST = {"api_tokens"}


@pytest.fixture
def world(db) -> dict[str, Any]:
    """A lamp, a field account that signs in, and a token per role."""
    make_lamp(db, "L1", rated_power_w=54.0, group_name="centre")
    make_account(db, Role.TECHNICIAN, "acc.tech")
    return {
        "admin": bearer(make_user(db, Role.ADMIN)),
        "manager": bearer(make_user(db, Role.ENERGY_MANAGER)),
        "anonymous": {},
    }


def snapshot(db: psycopg.Connection) -> dict[str, list[str]]:
    """Every row of every table, as text."""
    tables = [
        name
        for (name,) in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        if name not in _TOUCHED_BY_ANY_REQUEST
    ]
    return {
        table: [
            row[0]
            for row in db.execute(sql.SQL("SELECT t::text FROM {} AS t ORDER BY 1").format(sql.Identifier(table)))
        ]
        for table in tables
    }


@pytest.fixture
def unchanged(db, world) -> Iterator[None]:
    """Fails the test if any stored row changed while it ran."""
    before = snapshot(db)
    yield
    assert snapshot(db) == before


def refused(response, status: int, location: str, field: str, error_type: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "urn:streetlight:problem:validation-error"
    [error] = body["errors"]
    assert (error["location"], error["field"], error["type"]) == (location, field, error_type)
    return body


def too_large(response, limit_bytes: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"larger than the {limit_bytes} bytes" in response.json()["detail"]


# --- NUL in the query string and the path ---------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "url", "field"),
    [
        ("admin", "/api/v1/lamps?group_name=a%00b", "group_name"),
        ("admin", "/api/v1/lamps?state=faulty&street=%00", "street"),
        ("admin", "/api/v1/events?type=lamp_failure&type=x%00", "type"),
        ("admin", "/api/v1/audit?actor=acc%00tech", "actor"),
        ("admin", "/api/v1/dead-letters?reason=%00", "reason"),
        ("admin", "/api/v1/predictions?circuit=C%001", "circuit"),
        ("admin", "/api/v1/lamps?a%00b=1", "a\\u0000b"),
        ("anonymous", "/api/v1/lamps?group_name=%00", "group_name"),
    ],
)
def test_nul_in_a_query_parameter_is_refused_naming_it(client, world, unchanged, caller, url, field):
    refused(client.get(url, headers=world[caller]), 422, "query", field, "nul_character")


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/v1/users/acc%00tech", "username"),
        ("PATCH", "/api/v1/users/acc%00tech", "username"),
        ("GET", "/api/v1/groups/cen%00tre/telemetry", "group_name"),
        ("GET", "/api/v1/circuits/%00/telemetry", "circuit"),
        ("PATCH", "/api/v1/lamps/L%001", "lamp_id"),
        ("GET", "/nowhere%00", "path"),
    ],
)
def test_nul_in_the_path_is_refused_naming_the_parameter(client, world, unchanged, method, url, field):
    response = client.request(method, url, json={"display_name": "x"}, headers=world["admin"])
    body = refused(response, 422, "path", field, "nul_character")
    assert "\x00" not in body["instance"]


# --- NUL in a JSON body or a form -----------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "method", "url", "payload", "field"),
    [
        ("admin", "POST", "/api/v1/work-orders", {"lamp_id": "L1", "source": "manual", "notes": "a\x00b"}, "notes"),
        ("admin", "POST", "/api/v1/lamps/L1/events", {"type": "repaired", "detail": "new\x00driver"}, "detail"),
        (
            "admin",
            "POST",
            "/api/v1/lamps/L1/events",
            {"type": "repaired", "detail": {"parts": ["driver", "\x00"]}},
            "detail.parts.1",
        ),
        ("admin", "POST", "/api/v1/lamps", {"lamp_id": "L2", "properties": {"po\x00le": 8}}, "properties.po\\u0000le"),
        ("admin", "PATCH", "/api/v1/lamps/L1", {"name": "\x00"}, "name"),
        ("admin", "PATCH", "/api/v1/users/acc.tech", {"display_name": "Claire\x00"}, "display_name"),
        ("manager", "POST", "/api/v1/dimming/profiles", {"name": "night\x00", "steps": []}, "name"),
        ("anonymous", "POST", LOGIN, {"username": "acc\x00tech", "password": "x"}, "username"),
        ("anonymous", "POST", LOGIN, {"username": "acc.tech", "password": "lampe\x00"}, "password"),
    ],
)
def test_nul_in_a_json_string_is_refused_naming_its_path(client, world, unchanged, caller, method, url, payload, field):
    # json.dumps writes NUL as the escape \u0000, as any client would.
    assert "\\u0000" in json.dumps(payload)
    response = client.request(method, url, json=payload, headers=world[caller])
    refused(response, 422, "body", field, "nul_character")


def test_a_lone_surrogate_in_a_json_string_is_refused(client, world, unchanged):
    body = b'{"lamp_id": "L1", "source": "manual", "notes": "a\\ud800"}'
    response = client.post(
        "/api/v1/work-orders", content=body, headers=world["admin"] | {"content-type": "application/json"}
    )
    refused(response, 422, "body", "notes", "lone_surrogate")


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"username": "acc\x00tech", "password": "lampe-rue-de-la-gare"}, "username"),
        ({"username": "acc.tech", "password": "lampe-rue-de-la-gare", "next": "/\x00"}, "next"),
        ({"username": "acc.tech", "password": "lampe-rue-de-la-gare", "x\x00": "1"}, "x\\u0000"),
    ],
)
def test_nul_in_a_form_is_refused_naming_the_field(client, world, unchanged, form, field):
    response = client.post(LOGIN, data=form)
    refused(response, 422, "body", field, "nul_character")


# --- numbers out of the range of their column -----------------------------------------------


@pytest.mark.parametrize("power_w", [1e-300, 5e-324, -1e-300])
def test_a_power_too_small_for_its_real_column_is_refused(client, world, unchanged, power_w):
    created = client.post("/api/v1/lamps", json={"lamp_id": "L2", "rated_power_w": power_w}, headers=world["admin"])
    expected_type = "greater_than" if power_w < 0 else "real_out_of_range"
    refused(created, 422, "body", "rated_power_w", expected_type)
    changed = client.patch("/api/v1/lamps/L1", json={"rated_power_w": power_w}, headers=world["admin"])
    refused(changed, 422, "body", "rated_power_w", expected_type)


def test_the_smallest_real_is_stored(client, db, world):
    response = client.post("/api/v1/lamps", json={"lamp_id": "L2", "rated_power_w": 1.4e-45}, headers=world["admin"])
    assert response.status_code == 201, response.text
    stored = db.execute("SELECT rated_power_w FROM lamps WHERE lamp_id = 'L2'").fetchone()[0]
    assert 0 < stored < 1.5e-45


def test_a_number_that_is_not_finite_in_json_properties_is_refused(client, world, unchanged):
    body = b'{"lamp_id": "L2", "properties": {"height_m": [8, 1e400]}}'
    response = client.post("/api/v1/lamps", content=body, headers=world["admin"] | {"content-type": "application/json"})
    refused(response, 422, "body", "properties", "json_number_not_finite")


@pytest.mark.parametrize(
    ("caller", "url", "location", "field", "error_type"),
    [
        ("admin", "/api/v1/predictions?min_probability=1e-300", "query", "min_probability", "real_out_of_range"),
        (
            "admin",
            "/api/v1/predictions/circuits?min_probability=5e-324",
            "query",
            "min_probability",
            "real_out_of_range",
        ),
        ("manager", "/api/v1/energy/curve?profile_id=9223372036854775808", "query", "profile_id", "less_than_equal"),
        ("admin", "/api/v1/work-orders/9223372036854775808", "path", "work_order_id", "less_than_equal"),
        ("admin", "/api/v1/auth/tokens/9223372036854775808", "path", "token_id", "less_than_equal"),
    ],
)
def test_a_parameter_out_of_its_columns_range_is_refused(
    client, world, unchanged, caller, url, location, field, error_type
):
    method = "DELETE" if "/tokens/" in url else "GET"
    refused(client.request(method, url, headers=world[caller]), 422, location, field, error_type)


def test_the_smallest_real_is_a_probability_to_filter_on(client, world):
    for url in ("/api/v1/predictions?min_probability=1.4e-45", "/api/v1/predictions/circuits?min_probability=0"):
        response = client.get(url, headers=world["admin"])
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 0


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/v1/dimming/assignments", {"target_kind": "town", "profile_id": 2**63}, "profile_id"),
        (
            "/api/v1/dimming/calendar",
            {"name": "x", "profile_id": 1, "kind": "dates", "weekdays": [2**15]},
            "weekdays.0",
        ),
    ],
)
def test_an_integer_out_of_its_columns_range_is_refused(client, world, unchanged, url, payload, field):
    refused(client.post(url, json=payload, headers=world["manager"]), 422, "body", field, "less_than_equal")


# --- nesting ----------------------------------------------------------------------------------


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("caller", "url"),
    [("anonymous", LOGIN), ("manager", "/api/v1/dimming/preview"), ("admin", "/api/v1/lamps")],
)
def test_json_nested_too_deep_is_refused_before_any_parser(client, world, unchanged, caller, url):
    headers = world[caller] | {"content-type": "application/json"}
    refused(client.post(url, content=nested(20_000), headers=headers), 422, "body", "body", "json_too_deep")
    refused(client.post(url, content=nested(33), headers=headers), 422, "body", "body", "json_too_deep")


def test_deep_nesting_at_sign_in_as_found_is_too_large(client, world, unchanged):
    # The body found by the hostile client: 100,000 levels, more than sign-in takes.
    too_large(client.post(LOGIN, content=nested(100_000), headers={"content-type": "application/json"}), 64 * 1024)


def test_thirty_two_levels_are_stored(client, db, world):
    properties: Any = "bottom"
    for _ in range(31):  # the body's object is the first level
        properties = {"down": properties}
    response = client.post("/api/v1/lamps", json={"lamp_id": "L2", "properties": properties}, headers=world["admin"])
    assert response.status_code == 201, response.text
    stored = db.execute("SELECT properties FROM lamps WHERE lamp_id = 'L2'").fetchone()[0]
    assert stored == properties
    deeper = client.post(
        "/api/v1/lamps", json={"lamp_id": "L3", "properties": {"down": properties}}, headers=world["admin"]
    )
    refused(deeper, 422, "body", "body", "json_too_deep")


# --- body size --------------------------------------------------------------------------------


def lamp_of_size(lamp_id: str, size_bytes: int) -> bytes:
    """A lamp whose JSON body is exactly `size_bytes` long."""
    skeleton = json.dumps({"lamp_id": lamp_id, "properties": {"note": ""}}).encode()
    body = json.dumps({"lamp_id": lamp_id, "properties": {"note": "n" * (size_bytes - len(skeleton))}}).encode()
    assert len(body) == size_bytes
    return body


def test_a_body_of_the_limit_is_read_and_one_byte_more_is_refused(client, db, world):
    json_headers = world["admin"] | {"content-type": "application/json"}
    before = snapshot(db)
    too_large(client.post("/api/v1/lamps", content=lamp_of_size("L2", MIB + 1), headers=json_headers), MIB)
    assert snapshot(db) == before
    created = client.post("/api/v1/lamps", content=lamp_of_size("L2", MIB), headers=json_headers)
    assert created.status_code == 201, created.text


def test_a_chunked_body_without_content_length_is_limited_too(client, world, unchanged):
    body = lamp_of_size("L2", MIB + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    headers = world["admin"] | {"content-type": "application/json"}
    response = client.post("/api/v1/lamps", content=chunks(), headers=headers)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    too_large(response, MIB)


def test_every_declared_body_limit_names_an_endpoint_that_takes_a_body():
    paths = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))["paths"]
    for path in BODY_LIMITS_BYTES:
        assert any("requestBody" in operation for operation in paths[path].values()), path


def test_sign_in_takes_a_smaller_body(client, world, unchanged):
    padded = json.dumps({"username": "acc.tech", "password": "x", "pad": "p" * 64 * 1024}).encode()
    too_large(client.post(LOGIN, content=padded, headers={"content-type": "application/json"}), 64 * 1024)
    form = b"username=acc.tech&password=x&pad=" + b"p" * 64 * 1024
    too_large(
        client.post(LOGIN, content=form, headers={"content-type": "application/x-www-form-urlencoded"}), 64 * 1024
    )


# --- the middleware on its own: what it reads -------------------------------------------------


class Stream:
    """A client sending a body in chunks, counting the chunks the server took."""

    def __init__(self, chunk: bytes, chunks: int | None, *, gone_after: int | None = None) -> None:
        self.chunk, self.chunks, self.gone_after, self.taken = chunk, chunks, gone_after, 0

    async def receive(self) -> dict[str, Any]:
        self.taken += 1
        if self.gone_after is not None and self.taken > self.gone_after:
            return {"type": "http.disconnect"}
        more = self.chunks is None or self.taken < self.chunks
        return {"type": "http.request", "body": self.chunk, "more_body": more}


def post(stream: Stream, headers: list[tuple[bytes, bytes]]) -> tuple[int | None, list[bytes]]:
    """One POST through the middleware (1,000 bytes at most) in front of an application that
    reads the body: (the status answered, the bodies the application got)."""
    got: list[bytes] = []
    sent: list[Message] = []

    async def application(scope: Any, receive: Any, send: Any) -> None:
        got.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = InputDiscipline(application, default_body_limit_bytes=1000, body_limits_bytes={})
    scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x", "query_string": b"", "headers": headers}
    asyncio.run(middleware(scope, stream.receive, send))
    return (sent[0]["status"] if sent else None), got


def test_an_endless_chunked_body_is_read_no_further_than_the_limit():
    stream = Stream(b"[1]" + b" " * 97, chunks=None)  # 100 bytes a chunk, never ending
    assert post(stream, [(b"transfer-encoding", b"chunked")]) == (413, [])
    assert stream.taken == 11  # the chunk that went past 1,000 bytes, and no other


def test_a_declared_length_over_the_limit_is_refused_unread():
    stream = Stream(b" " * 100, chunks=20)
    assert post(stream, [(b"content-length", b"2000")]) == (413, [])
    assert stream.taken == 0


def test_a_body_within_the_limit_reaches_the_application_whole():
    stream = Stream(b"[" + b" " * 98 + b"]", chunks=10)
    assert post(stream, [(b"transfer-encoding", b"chunked")]) == (200, [(b"[" + b" " * 98 + b"]") * 10])


def test_a_client_gone_before_the_end_of_its_body_is_not_answered():
    stream = Stream(b" " * 100, chunks=None, gone_after=3)
    assert post(stream, [(b"transfer-encoding", b"chunked")]) == (None, [])
    assert stream.taken == 4
