"""Every error is RFC 9457 problem details: HTTP errors, validation errors, unexpected errors."""

from __future__ import annotations

import pytest

from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import api_client, bearer

MEMBERS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture
def client(db, timescale_url: str):
    with api_client(timescale_url, readiness=lambda: {"broker": False}) as client:
        yield client


def problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert MEMBERS <= body.keys()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_http_errors(client, db):
    body = problem(client.get("/api/v1/lamps"), 401)
    assert body == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "sign in, or send a valid bearer token",
        "instance": "/api/v1/lamps",
    }
    assert client.get("/api/v1/lamps").headers["www-authenticate"] == "Bearer"

    tech = bearer(make_user(db, Role.TECHNICIAN))
    forbidden = problem(client.post("/api/v1/lamps", json={"lamp_id": "X"}, headers=tech), 403)
    assert forbidden["title"] == "Forbidden" and forbidden["detail"] == "the technician role may not do this"

    # Under /api/ an unknown path is a problem; elsewhere the console answers its HTML page.
    assert problem(client.get("/api/v1/no/such/page", headers=tech), 404)["title"] == "Not Found"
    not_allowed = client.delete("/api/v1/lamps", headers=tech)
    assert problem(not_allowed, 405)["title"] == "Method Not Allowed"
    assert "GET" in not_allowed.headers["allow"]


def test_validation_errors_list_every_invalid_field_without_echoing_values(client, db):
    admin = bearer(make_user(db, Role.ADMIN))
    response = client.post(
        "/api/v1/lamps", json={"lamp_id": "no spaces allowed", "lat": "north", "rated_power_w": -5}, headers=admin
    )
    body = problem(response, 422)
    assert body["type"] == "urn:streetlight:problem:validation-error"
    assert body["title"] == "Unprocessable Content"
    assert sorted((e["location"], e["field"], e["type"]) for e in body["errors"]) == [
        ("body", "lamp_id", "string_pattern_mismatch"),
        ("body", "lat", "float_parsing"),
        ("body", "rated_power_w", "greater_than"),
    ]
    assert body["detail"].startswith("3 invalid fields: ")
    assert "no spaces allowed" not in response.text and "north" not in response.text
    assert (
        problem(client.post("/api/v1/lamps", content=b"{", headers=admin | {"content-type": "application/json"}), 422)[
            "errors"
        ][0]["type"]
        == "json_invalid"
    )


def test_a_body_that_is_not_utf8_is_a_declared_400(client, db):
    # FastAPI answers it before any route code; the schema did not declare it (found by tests/api/test_fuzz.py).
    admin = bearer(make_user(db, Role.ADMIN))
    sent = client.post(
        "/api/v1/lamps", content=b'{"lamp_id": "\xff"}', headers=admin | {"content-type": "application/json"}
    )
    assert problem(sent, 400)["title"] == "Bad Request"
    schema = client.get("/api/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "400" in operation["responses"], f"{method.upper()} {path}"


def test_an_unexpected_error_is_a_500_without_internals(db, timescale_url):
    with api_client(timescale_url) as client:

        def boom():
            raise RuntimeError("password=hunter2 in /srv/secret.py")

        client.app.add_api_route("/api/v1/boom", boom)
        response = client.get("/api/v1/boom")
        metrics = client.get("/metrics", headers=bearer(make_user(db, Role.ADMIN))).text
    observed = 'streetlight_http_request_duration_seconds_count{method="GET",route="/api/v1/boom",status="500"} 1.0'
    assert observed in metrics
    body = problem(response, 500)
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "an unexpected error occurred; it has been logged",
        "instance": "/api/v1/boom",
    }
    assert "hunter2" not in response.text and "secret" not in response.text


def test_readiness_failure_keeps_its_checks(client):
    body = problem(client.get("/readyz"), 503)
    assert body["checks"] == {"database": True, "broker": False}
