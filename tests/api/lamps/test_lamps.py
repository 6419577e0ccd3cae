"""Lamp inventory endpoints against the real database: filters, paging, detail, admin changes and their audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.lamps.queries import LampFilter
from api.lamps.schemas import LampPage
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import (
    add_event,
    add_reading,
    audit_entries,
    bearer,
    make_lamp,
    set_status,
)

T0 = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.fixture
def town(db):
    """Eight lamps over two streets, two groups, two circuits, with every connection state."""
    lamps = [
        (
            "A1",
            dict(
                name="Tilleuls 1",
                street="Rue des Tilleuls",
                address="1 rue des Tilleuls",
                circuit="C1",
                group_name="centre",
                lat=48.850,
                lon=2.350,
            ),
        ),
        (
            "A2",
            dict(
                name="Tilleuls 2",
                street="Rue des Tilleuls",
                address="3 rue des Tilleuls",
                circuit="C1",
                group_name="centre",
                lat=48.851,
                lon=2.351,
                state="faulty",
            ),
        ),
        (
            "A3",
            dict(
                name="Tilleuls 3",
                street="Rue des Tilleuls",
                address="5 rue des Tilleuls",
                circuit="C2",
                group_name="centre",
                lat=48.852,
                lon=2.352,
                state="under_repair",
            ),
        ),
        (
            "B1",
            dict(
                name="Gare 1",
                street="Avenue de la Gare",
                address="2 avenue de la Gare",
                circuit="C2",
                group_name="gare",
                lat=48.860,
                lon=2.360,
            ),
        ),
        (
            "B2",
            dict(
                name="Gare 2",
                street="Avenue de la Gare",
                address="4 avenue de la Gare",
                circuit="C2",
                group_name="gare",
                lat=48.861,
                lon=2.361,
                state="retired",
            ),
        ),
        (
            "B3",
            dict(
                name="Gare 100%",
                street="Avenue de la Gare",
                address="6 avenue de la Gare",
                circuit="C3",
                group_name="gare",
                lat=48.862,
                lon=2.362,
            ),
        ),
        ("P1", dict(name="Parc", street="Allée du Parc", address="", circuit="C3", group_name="parc", state="planned")),
        ("X_9", dict(name="Spare", street="", address="dépôt")),
    ]
    for lamp_id, columns in lamps:
        make_lamp(db, lamp_id, **columns)
    set_status(db, "A1", True)
    set_status(db, "A2", False)
    set_status(db, "B1", True)
    set_status(db, "B3", False)
    return [lamp_id for lamp_id, _ in lamps]


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN))


@pytest.fixture
def admin(db):
    return bearer(make_user(db, Role.ADMIN, "admin-a"))


def ids(client, auth, **params) -> list[str]:
    response = client.get("/api/v1/lamps", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])  # every case here fits one page
    return [lamp["lamp_id"] for lamp in body["items"]]


def test_without_filters_every_lamp_is_listed_in_id_order(client, town, tech):
    assert ids(client, tech) == sorted(town)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "in_service"}, ["A1", "B1", "B3", "X_9"]),
        ({"state": ["faulty", "under_repair"]}, ["A2", "A3"]),
        ({"group_name": "centre"}, ["A1", "A2", "A3"]),
        ({"circuit": "C2"}, ["A3", "B1", "B2"]),
        ({"street": "Avenue de la Gare"}, ["B1", "B2", "B3"]),
        ({"connectivity": "online"}, ["A1", "B1"]),
        ({"connectivity": "offline"}, ["A2", "B3"]),
        ({"connectivity": "unknown"}, ["A3", "B2", "P1", "X_9"]),
        ({"bbox": "2.349,48.849,2.3515,48.8515"}, ["A1", "A2"]),
        ({"bbox": "2.355, 48.855, 2.37, 48.87"}, ["B1", "B2", "B3"]),
        ({"bbox": "2.350,48.850,2.351,48.851"}, ["A1", "A2"]),  # on the corners: the edges are in the box
        ({"bbox": "2.3505,48.850,2.351,48.8505"}, []),
        ({"q": "tilleuls"}, ["A1", "A2", "A3"]),  # name, street and address, any case
        ({"q": "5 RUE"}, ["A3"]),  # address
        ({"q": "x_9"}, ["X_9"]),  # id
        ({"q": "%"}, ["B3"]),  # % is a character, not a wildcard
        ({"q": "_"}, ["X_9"]),  # so is _
        ({"q": "dépôt"}, ["X_9"]),
        ({"group_name": "gare", "connectivity": "offline"}, ["B3"]),
        ({"circuit": "C2", "state": "in_service", "bbox": "2,48,3,49"}, ["B1"]),
        ({"group_name": "nowhere"}, []),
    ],
)
def test_filters_select_exactly_the_matching_lamps(client, town, tech, params, expected):
    assert ids(client, tech, **params) == expected


def test_pages_carry_the_total_of_all_matches(client, town, tech):
    page = client.get("/api/v1/lamps", params={"limit": 3, "offset": 3}, headers=tech).json()
    assert page["total"] == 8
    assert (page["limit"], page["offset"]) == (3, 3)
    assert [lamp["lamp_id"] for lamp in page["items"]] == ["B1", "B2", "B3"]
    beyond = client.get("/api/v1/lamps", params={"limit": 3, "offset": 100}, headers=tech).json()
    assert beyond["total"] == 8 and beyond["items"] == []
    filtered = client.get("/api/v1/lamps", params={"circuit": "C2", "limit": 1}, headers=tech).json()
    assert filtered["total"] == 3 and len(filtered["items"]) == 1


def test_the_list_answers_what_its_schema_says(client, town, tech):
    response = client.get("/api/v1/lamps", params={"state": "in_service", "limit": 2}, headers=tech)
    assert response.headers["content-type"] == "application/json"
    page = LampPage.model_validate(response.json())
    assert (page.total, page.limit, page.offset) == (4, 2, 0)
    assert page.items[0].model_dump() == {
        "lamp_id": "A1",
        "name": "Tilleuls 1",
        "lat": 48.85,
        "lon": 2.35,
        "street": "Rue des Tilleuls",
        "address": "1 rue des Tilleuls",
        "circuit": "C1",
        "group_name": "centre",
        "technology": "LED",
        "rated_power_w": None,
        "state": "in_service",
        "online": True,
    }


def test_text_search_is_served_by_the_trigram_index(db, town):
    """Where pg_trgm is installed (migration 0008), the search finds its lamps through the index."""
    if db.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'lamps_text_trgm_idx'").fetchone() is None:
        pytest.skip("pg_trgm is not available on this server")
    where = LampFilter(text="tilleuls")
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")  # eight lamps: a scan is cheaper, but the index must serve
        plan = [
            row[0]
            for row in db.execute(
                f"EXPLAIN SELECT count(*) FROM lamps l WHERE {where.where()}",
                where.params(),
            )
        ]
    assert any("lamps_text_trgm_idx" in line for line in plan), plan


def test_list_items_carry_the_connection_state(client, town, tech):
    items = {lamp["lamp_id"]: lamp for lamp in client.get("/api/v1/lamps", headers=tech).json()["items"]}
    assert (items["A1"]["online"], items["A2"]["online"], items["A3"]["online"]) == (True, False, None)
    assert items["A1"]["address"] == "1 rue des Tilleuls"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "2,48,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "3,48,2,49"}, "bbox"),  # min_lon > max_lon
        ({"bbox": "2,-91,3,49"}, "bbox"),
        ({"state": "broken"}, "state.0"),
        ({"connectivity": "maybe"}, "connectivity"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_invalid_filters_are_422_problems_naming_the_field(client, town, tech, params, field):
    response = client.get("/api/v1/lamps", params=params, headers=tech)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["instance"] == "/api/v1/lamps"
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", field)]


def test_one_lamp_shows_inventory_last_reading_connection_and_open_events(client, db, town, tech):
    for minutes, power in ((0, 50.0), (10, 51.0), (20, 52.5)):
        add_reading(db, "A2", T0 + timedelta(minutes=minutes), power_w=power, energy_wh=1000 + minutes)
    add_reading(db, "A1", T0 + timedelta(hours=1), power_w=99.0)  # another lamp, newer
    add_event(db, "A2", T0 - timedelta(days=3), "lamp_failure", "old")
    add_event(db, "A2", T0 - timedelta(days=2), "repaired")
    add_event(db, "A2", T0 - timedelta(hours=5), "day_burning", {"lux": 900})
    add_event(db, "A2", T0 - timedelta(hours=1), "lamp_failure", "no current at 100 %")
    add_event(db, "A1", T0, "lamp_failure")  # another lamp

    response = client.get("/api/v1/lamps/A2", headers=tech)
    assert response.status_code == 200
    lamp = response.json()
    assert lamp["lamp_id"] == "A2" and lamp["state"] == "faulty" and lamp["circuit"] == "C1"
    assert lamp["properties"] == {} and lamp["technology"] == "LED"
    assert lamp["online"] is False and lamp["status"]["online"] is False
    assert lamp["last_reading"]["power_w"] == 52.5
    assert lamp["last_reading"]["energy_wh"] == 1020
    assert datetime.fromisoformat(lamp["last_reading"]["ts"]) == T0 + timedelta(minutes=20)
    assert [(e["type"], e["detail"]) for e in lamp["open_events"]] == [
        ("lamp_failure", "no current at 100 %"),
        ("day_burning", {"lux": 900}),
    ]


def test_the_last_reading_is_the_newest_whether_recent_or_long_ago(client, db, town, tech):
    now = datetime.now(UTC).replace(microsecond=0)
    add_reading(db, "A1", now - timedelta(days=9), power_w=1.0)
    add_reading(db, "A1", now - timedelta(hours=1), power_w=2.0)
    add_reading(db, "B1", now - timedelta(days=30), power_w=3.0)
    add_reading(db, "B1", now - timedelta(days=10), power_w=4.0)  # silent for ten days
    for lamp_id, ts, power in (("A1", now - timedelta(hours=1), 2.0), ("B1", now - timedelta(days=10), 4.0)):
        reading = client.get(f"/api/v1/lamps/{lamp_id}", headers=tech).json()["last_reading"]
        assert (datetime.fromisoformat(reading["ts"]), reading["power_w"]) == (ts, power), lamp_id


def test_a_lamp_never_heard_from_has_no_reading_status_or_events(client, town, tech):
    lamp = client.get("/api/v1/lamps/P1", headers=tech).json()
    assert (lamp["last_reading"], lamp["status"], lamp["online"], lamp["open_events"]) == (None, None, None, [])


def test_an_unknown_lamp_is_a_404_problem(client, town, tech):
    response = client.get("/api/v1/lamps/NOPE", headers=tech)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no lamp NOPE",
        "instance": "/api/v1/lamps/NOPE",
    }


def test_an_admin_creates_a_lamp_and_the_audit_log_keeps_it(client, db, admin):
    body = {
        "lamp_id": "N-1",
        "name": "Neuve",
        "lat": 48.9,
        "lon": 2.4,
        "circuit": "C9",
        "rated_power_w": 36,
        "install_date": "2026-11-01",
        "properties": {"pole_height_m": 8},
    }
    response = client.post("/api/v1/lamps", json=body, headers=admin)
    assert response.status_code == 201, response.text
    lamp = response.json()
    assert (lamp["lamp_id"], lamp["state"], lamp["technology"], lamp["rated_power_w"]) == (
        "N-1",
        "in_service",
        "LED",
        36,
    )
    assert client.get("/api/v1/lamps/N-1", headers=admin).json()["install_date"] == "2026-11-01"
    [(actor, target, before, after)] = audit_entries(db, "lamp.create")
    assert (actor, target, before) == ("admin-a", "N-1", None)
    assert after["circuit"] == "C9" and after["properties"] == {"pole_height_m": 8} and after["lamp_id"] == "N-1"

    again = client.post("/api/v1/lamps", json=body, headers=admin)
    assert again.status_code == 409
    assert again.json()["detail"] == "lamp N-1 already exists"
    assert len(audit_entries(db, "lamp.create")) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lamp_id": "bad id"}, "lamp_id"),
        ({"lamp_id": "N-2", "rated_power_w": 0}, "rated_power_w"),
        ({"lamp_id": "N-2", "lat": 91}, "lat"),
        ({"lamp_id": "N-2", "technology": "candle"}, "technology"),
        ({"lamp_id": "N-2", "colour": "red"}, "colour"),
        ({"name": "no id"}, "lamp_id"),
    ],
)
def test_an_invalid_lamp_is_refused_with_the_field_named(client, db, admin, body, field):
    response = client.post("/api/v1/lamps", json=body, headers=admin)
    assert response.status_code == 422
    assert [(e["location"], e["field"]) for e in response.json()["errors"]] == [("body", field)]
    assert db.execute("SELECT count(*) FROM lamps").fetchone()[0] == 0


def test_an_admin_changes_some_fields_and_the_audit_log_keeps_before_and_after(client, db, town, admin):
    response = client.patch(
        "/api/v1/lamps/A1", json={"group_name": "nuit", "rated_power_w": 30, "lat": None}, headers=admin
    )
    assert response.status_code == 200, response.text
    lamp = response.json()
    assert (lamp["group_name"], lamp["rated_power_w"], lamp["lat"], lamp["street"]) == (
        "nuit",
        30,
        None,
        "Rue des Tilleuls",
    )
    [(actor, target, before, after)] = audit_entries(db, "lamp.update")
    assert (actor, target) == ("admin-a", "A1")
    assert before == {"group_name": "centre", "rated_power_w": None, "lat": 48.85}
    assert after == {"group_name": "nuit", "rated_power_w": 30, "lat": None}

    # The same values again: nothing changes, nothing is logged.
    assert client.patch("/api/v1/lamps/A1", json={"group_name": "nuit"}, headers=admin).status_code == 200
    assert len(audit_entries(db, "lamp.update")) == 1


@pytest.mark.parametrize("body", [{"name": None}, {"state": "lost"}, {"lamp_id": "A9"}, {"lon": 200}])
def test_a_change_that_would_break_the_inventory_is_refused(client, db, town, admin, body):
    assert client.patch("/api/v1/lamps/A1", json=body, headers=admin).status_code == 422
    assert db.execute("SELECT name, lon FROM lamps WHERE lamp_id = 'A1'").fetchone() == ("Tilleuls 1", 2.35)


def test_changing_or_retiring_an_unknown_lamp_is_a_404(client, town, admin):
    assert client.patch("/api/v1/lamps/NOPE", json={"name": "x"}, headers=admin).status_code == 404
    assert client.post("/api/v1/lamps/NOPE/retire", headers=admin).status_code == 404


def test_retiring_keeps_the_lamp_and_is_logged_once(client, db, town, admin):
    response = client.post("/api/v1/lamps/A2/retire", headers=admin)
    assert response.status_code == 200
    assert response.json()["state"] == "retired"
    assert client.post("/api/v1/lamps/A2/retire", headers=admin).json()["state"] == "retired"
    assert audit_entries(db, "lamp.retire") == [("admin-a", "A2", {"state": "faulty"}, {"state": "retired"})]
    assert ids(client, admin, state="retired") == ["A2", "B2"]
