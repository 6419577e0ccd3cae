"""Events: filters, open events, paging, and events recorded by technicians (state changes, audit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import add_event, audit_entries, bearer, make_lamp

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN, "tech-a"))


@pytest.fixture
def history(db):
    """A: failed, repaired, failed again (open); B: day burning (open); C: failed and repaired (closed)."""
    for lamp_id in "ABC":
        make_lamp(db, lamp_id, state="faulty" if lamp_id == "A" else "in_service")
    add_event(db, "A", T0, "lamp_failure")
    add_event(db, "A", T0 + timedelta(hours=1), "repaired", source="technician")
    add_event(db, "A", T0 + timedelta(hours=5), "lamp_failure", "again")
    add_event(db, "A", T0 + timedelta(hours=6), "driver_fault")
    add_event(db, "B", T0 + timedelta(hours=2), "day_burning", {"lux": 900})
    add_event(db, "C", T0 + timedelta(hours=3), "lamp_failure")
    add_event(db, "C", T0 + timedelta(hours=4), "repaired")


def listed(client, auth, **params) -> list[tuple[str, str]]:
    response = client.get("/api/v1/events", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [(event["lamp_id"], event["type"]) for event in body["items"]]


def test_all_events_newest_first(client, history, tech):
    assert listed(client, tech) == [
        ("A", "driver_fault"),
        ("A", "lamp_failure"),
        ("C", "repaired"),
        ("C", "lamp_failure"),
        ("B", "day_burning"),
        ("A", "repaired"),
        ("A", "lamp_failure"),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"lamp_id": "C"}, [("C", "repaired"), ("C", "lamp_failure")]),
        ({"type": "lamp_failure"}, [("A", "lamp_failure"), ("C", "lamp_failure"), ("A", "lamp_failure")]),
        ({"type": ["repaired", "day_burning"]}, [("C", "repaired"), ("B", "day_burning"), ("A", "repaired")]),
        (
            {"since": "2026-11-20T15:00:00Z"},
            [("A", "driver_fault"), ("A", "lamp_failure"), ("C", "repaired"), ("C", "lamp_failure")],
        ),
        ({"since": "2026-11-20T13:00:00Z", "until": "2026-11-20T15:00:00Z"}, [("B", "day_burning"), ("A", "repaired")]),
        ({"until": "2026-11-20T13:00:00+01:00"}, []),  # until is excluded
        ({"until": "2026-11-20T13:00:01+01:00"}, [("A", "lamp_failure")]),
        ({"open": "true"}, [("A", "driver_fault"), ("A", "lamp_failure"), ("B", "day_burning")]),
        ({"open": "true", "type": "lamp_failure"}, [("A", "lamp_failure")]),
        ({"open": "true", "lamp_id": "C"}, []),
    ],
)
def test_filters(client, history, tech, params, expected):
    assert listed(client, tech, **params) == expected


def test_paging(client, history, tech):
    page = client.get("/api/v1/events", params={"limit": 2, "offset": 2}, headers=tech).json()
    assert page["total"] == 7
    assert [(e["lamp_id"], e["type"]) for e in page["items"]] == [("C", "repaired"), ("C", "lamp_failure")]


def test_event_details_and_sources_come_back_as_stored(client, history, tech):
    [event] = client.get("/api/v1/events", params={"lamp_id": "B"}, headers=tech).json()["items"]
    assert (event["detail"], event["source"]) == ({"lux": 900}, "controller")
    assert datetime.fromisoformat(event["ts"]) == T0 + timedelta(hours=2)


@pytest.mark.parametrize("params", [{"since": "2026-11-20T15:00:00"}, {"lamp_id": "a b"}, {"limit": 0}])
def test_invalid_filters_are_422(client, history, tech, params):
    assert client.get("/api/v1/events", params=params, headers=tech).status_code == 422


def test_a_technician_records_a_failure_then_a_repair(client, db, history, tech):
    failed = client.post(
        "/api/v1/lamps/B/events",
        json={"type": "lamp_failure", "detail": "dark at 22:00", "ts": "2026-11-21T22:00:00+01:00"},
        headers=tech,
    )
    assert failed.status_code == 201, failed.text
    event = failed.json()
    assert (event["lamp_id"], event["type"], event["source"], event["detail"]) == (
        "B",
        "lamp_failure",
        "technician",
        "dark at 22:00",
    )
    assert datetime.fromisoformat(event["ts"]) == datetime(2026, 11, 21, 21, 0, tzinfo=UTC)
    assert client.get("/api/v1/lamps/B", headers=tech).json()["state"] == "faulty"
    assert listed(client, tech, open="true", lamp_id="B") == [("B", "lamp_failure"), ("B", "day_burning")]

    repaired = client.post(
        "/api/v1/lamps/B/events", json={"type": "repaired", "detail": {"part": "driver"}}, headers=tech
    )
    assert repaired.status_code == 201
    lamp = client.get("/api/v1/lamps/B", headers=tech).json()
    assert (lamp["state"], lamp["open_events"]) == ("in_service", [])

    [(actor, target, before, after), (_, _, before2, after2)] = audit_entries(db, "event.create")
    assert (actor, target, before) == ("tech-a", "B", {"state": "in_service"})
    assert (after["type"], after["source"], after["state"], after["detail"]) == (
        "lamp_failure",
        "technician",
        "faulty",
        "dark at 22:00",
    )
    assert (before2, after2["type"], after2["state"]) == ({"state": "faulty"}, "repaired", "in_service")


def test_an_event_that_does_not_change_the_state_leaves_it(client, history, tech):
    assert client.post("/api/v1/lamps/C/events", json={"type": "day_burning"}, headers=tech).status_code == 201
    assert client.get("/api/v1/lamps/C", headers=tech).json()["state"] == "in_service"


def test_the_same_event_twice_is_a_409(client, history, tech):
    body = {"type": "cycling", "ts": "2026-11-21T22:00:00Z"}
    assert client.post("/api/v1/lamps/A/events", json=body, headers=tech).status_code == 201
    again = client.post("/api/v1/lamps/A/events", json=body, headers=tech)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "Lamp Failure"}, "type"),
        ({}, "type"),
        ({"type": "repaired", "ts": "2026-11-21T22:00:00"}, "ts"),
        ({"type": "repaired", "ts": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "ts"),
        # Before year 1 once in UTC: PostgreSQL would store it BC, and reading it back failed (500).
        ({"type": "repaired", "ts": "0001-01-01T00:00:00+14:00"}, "ts"),
        ({"type": "repaired", "ts": "1899-12-31T23:59:59Z"}, "ts"),
        ({"type": "repaired", "source": "controller"}, "source"),
    ],
)
def test_invalid_events_are_refused(client, db, history, tech, body, field):
    response = client.post("/api/v1/lamps/A/events", json=body, headers=tech)
    assert response.status_code == 422
    assert [(e["location"], e["field"]) for e in response.json()["errors"]] == [("body", field)]
    assert db.execute("SELECT count(*) FROM events WHERE source = 'technician'").fetchone()[0] == 1


def test_an_event_for_an_unknown_lamp_is_a_404(client, db, tech):
    assert client.post("/api/v1/lamps/NOPE/events", json={"type": "repaired"}, headers=tech).status_code == 404
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0
