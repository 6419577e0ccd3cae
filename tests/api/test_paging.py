"""Paging: every list endpoint takes an offset up to the documented bound and answers a
larger one with a 422 problem naming it (it used to reach the database as a bigint out
of range, a 500)."""

from __future__ import annotations

import re

import pytest

from api.paging import MAX_OFFSET
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import bearer, make_lamp


@pytest.fixture
def admin(db):
    return bearer(make_user(db, Role.ADMIN))


def paged_operations(client) -> list[str]:
    """Paths of the GET operations that take an offset, their path parameters filled in."""
    schema = client.get("/api/openapi.json").json()
    return sorted(
        re.sub(r"\{[^}]+\}", "L1", path)
        for path, item in schema["paths"].items()
        if any(parameter["name"] == "offset" for parameter in item.get("get", {}).get("parameters", []))
    )


def test_the_list_endpoints_are_found(client):
    # What the tests below run through: a schema change that hid them would make them pass vacuously.
    assert len(paged_operations(client)) == 9


@pytest.mark.parametrize("offset", [MAX_OFFSET + 1, 10**19, -1])
def test_an_offset_out_of_bounds_is_a_422_problem_naming_it(client, admin, offset):
    for path in paged_operations(client):
        response = client.get(path, params={"offset": offset}, headers=admin)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [(e["location"], e["field"]) for e in response.json()["errors"]] == [("query", "offset")], path


def test_the_largest_offset_answers_an_empty_page(client, db, admin):
    make_lamp(db, "L1")
    for path in paged_operations(client):
        response = client.get(path, params={"offset": MAX_OFFSET}, headers=admin)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        items = body if isinstance(body, list) else body["items"]
        assert items == [], path
