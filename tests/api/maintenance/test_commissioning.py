"""Dead letters and the commissioning of lamps seen on the wire but missing from the inventory."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from api.maintenance.commissioning.routes import payload_view
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import (
    add_dead_letter,
    add_unknown_lamp,
    audit_entries,
    bearer,
    make_lamp,
)

NOW = datetime.now(UTC)


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN))


@pytest.fixture
def admin(db):
    return bearer(make_user(db, Role.ADMIN, "admin-a"))


@pytest.fixture
def dead_letters(db):
    add_dead_letter(db, "invalid_json", b'{"ts": ', lamp_id="L1", received_at=NOW - timedelta(hours=3))
    add_dead_letter(db, "invalid_utf8", b"\xff\xfe\x00bad", lamp_id="L1", received_at=NOW - timedelta(hours=2))
    add_dead_letter(
        db, "unknown_lamp", '{"power_w": 5, "note": "é"}'.encode(), lamp_id="U9", received_at=NOW - timedelta(hours=1)
    )
    add_dead_letter(db, "unknown_topic", b"x", received_at=NOW - timedelta(days=2))


def test_payloads_are_text_when_they_are_utf8_and_base64_otherwise():
    assert payload_view("é".encode()) == ("utf-8", "é")
    assert payload_view(b"\xff\x00") == ("base64", "/wA=")
    assert payload_view(b"") == ("utf-8", "")


def test_dead_letters_newest_first_with_their_payloads(client, dead_letters, tech):
    response = client.get("/api/v1/dead-letters", headers=tech)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4
    assert [d["reason"] for d in body["items"]] == ["unknown_lamp", "invalid_utf8", "invalid_json", "unknown_topic"]
    unknown, bad_bytes, bad_json, _ = body["items"]
    assert (unknown["payload_encoding"], unknown["payload"], unknown["payload_bytes"]) == (
        "utf-8",
        '{"power_w": 5, "note": "é"}',
        28,
    )
    assert bad_bytes["payload_encoding"] == "base64"
    assert base64.b64decode(bad_bytes["payload"]) == b"\xff\xfe\x00bad"
    assert (bad_json["payload"], bad_json["lamp_id"], bad_json["detail"]) == ('{"ts": ', "L1", "test")


@pytest.mark.parametrize(
    ("params", "reasons"),
    [
        ({"reason": "invalid_json"}, ["invalid_json"]),
        ({"lamp_id": "L1"}, ["invalid_utf8", "invalid_json"]),
        ({"since": (NOW - timedelta(hours=2, minutes=30)).isoformat()}, ["unknown_lamp", "invalid_utf8"]),
        ({"until": (NOW - timedelta(days=1)).isoformat()}, ["unknown_topic"]),
        ({"lamp_id": "L1", "reason": "unknown_lamp"}, []),
    ],
)
def test_dead_letter_filters(client, dead_letters, tech, params, reasons):
    body = client.get("/api/v1/dead-letters", params=params, headers=tech).json()
    assert [d["reason"] for d in body["items"]] == reasons
    assert body["total"] == len(reasons)


def test_dead_letter_paging(client, dead_letters, tech):
    body = client.get("/api/v1/dead-letters", params={"limit": 1, "offset": 1}, headers=tech).json()
    assert (body["total"], [d["reason"] for d in body["items"]]) == (4, ["invalid_utf8"])


@pytest.fixture
def unknown(db):
    add_unknown_lamp(db, "U1", last_seen_at=NOW - timedelta(hours=5), message_count=12)
    add_unknown_lamp(db, "U2", last_seen_at=NOW - timedelta(hours=1))
    add_unknown_lamp(db, "U3", status="dismissed", last_seen_at=NOW)
    add_unknown_lamp(db, "U4", status="commissioned", last_seen_at=NOW - timedelta(minutes=1))


def test_unknown_lamps_pending_first_then_most_recently_seen(client, unknown, tech):
    body = client.get("/api/v1/unknown-lamps", headers=tech).json()
    assert body["total"] == 4
    assert [(u["lamp_id"], u["status"]) for u in body["items"]] == [
        ("U2", "pending"),
        ("U1", "pending"),
        ("U3", "dismissed"),
        ("U4", "commissioned"),
    ]
    assert body["items"][1]["message_count"] == 12
    pending = client.get("/api/v1/unknown-lamps", params={"status": "pending"}, headers=tech).json()
    assert (pending["total"], [u["lamp_id"] for u in pending["items"]]) == (2, ["U2", "U1"])
    assert client.get("/api/v1/unknown-lamps", params={"status": "lost"}, headers=tech).status_code == 422


def test_commissioning_adds_the_lamp_and_marks_it_commissioned(client, db, unknown, admin):
    body = {"name": "Place du Marché 3", "lat": 48.857, "lon": 2.351, "circuit": "C2", "group_name": "centre"}
    response = client.post("/api/v1/unknown-lamps/U1/commission", json=body, headers=admin)
    assert response.status_code == 201, response.text
    lamp = response.json()
    assert (lamp["lamp_id"], lamp["name"], lamp["lat"], lamp["circuit"], lamp["state"]) == (
        "U1",
        "Place du Marché 3",
        48.857,
        "C2",
        "in_service",
    )
    assert client.get("/api/v1/lamps/U1", headers=admin).status_code == 200
    listed = client.get("/api/v1/unknown-lamps", params={"status": "pending"}, headers=admin).json()
    assert [u["lamp_id"] for u in listed["items"]] == ["U2"]
    [(actor, target, before, after)] = audit_entries(db, "lamp.commission")
    assert (actor, target, before) == ("admin-a", "U1", {"unknown_lamp_status": "pending"})
    assert (after["lamp_id"], after["name"], after["group_name"]) == ("U1", "Place du Marché 3", "centre")

    again = client.post("/api/v1/unknown-lamps/U1/commission", json=body, headers=admin)
    assert again.status_code == 409
    assert again.json()["detail"] == "lamp U1 is already commissioned"


def test_a_dismissed_lamp_can_still_be_commissioned(client, unknown, admin):
    body = {"name": "x", "lat": 48.0, "lon": 2.0}
    assert client.post("/api/v1/unknown-lamps/U3/commission", json=body, headers=admin).status_code == 201


def test_commissioning_needs_a_place_and_a_lamp_seen_on_the_wire(client, db, unknown, admin):
    missing = client.post("/api/v1/unknown-lamps/U1/commission", json={"name": "x"}, headers=admin)
    assert missing.status_code == 422
    assert sorted(e["field"] for e in missing.json()["errors"]) == ["lat", "lon"]
    never_seen = client.post(
        "/api/v1/unknown-lamps/ZZ/commission", json={"name": "x", "lat": 1, "lon": 1}, headers=admin
    )
    assert never_seen.status_code == 404
    assert db.execute("SELECT count(*) FROM lamps").fetchone()[0] == 0
    assert db.execute("SELECT status FROM unknown_lamps WHERE lamp_id = 'U1'").fetchone()[0] == "pending"


def test_commissioning_an_id_already_in_the_inventory_is_a_conflict(client, db, unknown, admin):
    make_lamp(db, "U2")
    response = client.post("/api/v1/unknown-lamps/U2/commission", json={"name": "x", "lat": 1, "lon": 1}, headers=admin)
    assert response.status_code == 409
    assert db.execute("SELECT status FROM unknown_lamps WHERE lamp_id = 'U2'").fetchone()[0] == "pending"
    assert audit_entries(db, "lamp.commission") == []


def test_dismissing(client, db, unknown, admin):
    response = client.post("/api/v1/unknown-lamps/U1/dismiss", headers=admin)
    assert response.status_code == 200
    assert response.json()["status"] == "dismissed"
    assert client.post("/api/v1/unknown-lamps/U1/dismiss", headers=admin).status_code == 200
    assert audit_entries(db, "unknown_lamp.dismiss") == [
        ("admin-a", "U1", {"status": "pending"}, {"status": "dismissed"})
    ]
    assert client.post("/api/v1/unknown-lamps/U4/dismiss", headers=admin).status_code == 409
    assert client.post("/api/v1/unknown-lamps/ZZ/dismiss", headers=admin).status_code == 404
