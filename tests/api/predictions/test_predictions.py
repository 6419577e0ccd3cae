"""Predictions: each lamp's latest score ranked by risk, filters, paging, the open work order, one lamp's history;
the circuits' supply warnings of the newest run."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import bearer, make_lamp
from tests.api.prediction_factories import (
    MODEL_VERSION,
    PF,
    RUN_1,
    RUN_2,
    SAG,
    TEMP,
    add_circuit_prediction,
    add_prediction,
)


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN, "tech-a"))


@pytest.fixture
def scores(db):
    """Two scoring runs. A rises to 0.7, B falls to 0.4, C was scored only in the first run (0.5);
    D is retired and E was never scored: neither is listed."""
    make_lamp(db, "A", street="Rue A", group_name="g1", circuit="c1", lat=48.85, lon=2.35, name="A 1")
    make_lamp(db, "B", street="Rue B", group_name="g1", circuit="c2", lat=48.86, lon=2.36)
    make_lamp(db, "C", street="Rue A", group_name="g2", circuit="c2", lat=48.87, lon=2.37, state="faulty")
    make_lamp(db, "D", street="Rue A", state="retired")
    make_lamp(db, "E", street="Rue A")
    add_prediction(db, "A", RUN_1, 0.2, [TEMP])
    add_prediction(db, "B", RUN_1, 0.9, [PF])
    add_prediction(db, "C", RUN_1, 0.5, [TEMP])
    add_prediction(db, "D", RUN_1, 0.95, [PF])
    add_prediction(db, "A", RUN_2, 0.7, [PF, TEMP], version="20261124T020000Z")
    add_prediction(db, "B", RUN_2, 0.4, [TEMP], version="20261124T020000Z")


def ranked(client, auth, **params) -> list[tuple[str, float]]:
    response = client.get("/api/v1/predictions", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return [(item["lamp_id"], item["probability"]) for item in response.json()["items"]]


def test_each_lamp_latest_score_highest_first(client, scores, tech):
    body = client.get("/api/v1/predictions", headers=tech).json()
    assert [(i["lamp_id"], i["probability"]) for i in body["items"]] == [("A", 0.7), ("C", 0.5), ("B", 0.4)]
    assert body["total"] == 3
    assert datetime.fromisoformat(body["latest_scored_at"]) == RUN_2
    first = body["items"][0]
    assert first == {
        "lamp_id": "A",
        "name": "A 1",
        "street": "Rue A",
        "address": "",
        "circuit": "c1",
        "group_name": "g1",
        "lat": 48.85,
        "lon": 2.35,
        "state": "in_service",
        "probability": 0.7,
        "horizon_days": 14,
        "model_version": "20261124T020000Z",
        "scored_at": first["scored_at"],
        "feature_day": "2026-11-25",
        "reasons": [PF, TEMP],
        "work_order": None,
    }
    assert datetime.fromisoformat(first["scored_at"]) == RUN_2
    assert body["items"][1]["state"] == "faulty"
    assert body["items"][1]["model_version"] == MODEL_VERSION


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"group_name": "g1"}, [("A", 0.7), ("B", 0.4)]),
        ({"circuit": "c2"}, [("C", 0.5), ("B", 0.4)]),
        ({"street": "Rue A"}, [("A", 0.7), ("C", 0.5)]),
        ({"min_probability": 0.5}, [("A", 0.7), ("C", 0.5)]),  # at the threshold counts
        ({"min_probability": 0.71}, []),
        ({"bbox": "2.355,48.855,2.38,48.88"}, [("C", 0.5), ("B", 0.4)]),
        ({"street": "Rue A", "circuit": "c2"}, [("C", 0.5)]),
    ],
)
def test_filters(client, scores, tech, params, expected):
    assert ranked(client, tech, **params) == expected


def test_paging(client, scores, tech):
    body = client.get("/api/v1/predictions", params={"limit": 1, "offset": 1}, headers=tech).json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 1, 1)
    assert [item["lamp_id"] for item in body["items"]] == ["C"]


def test_equal_scores_are_ranked_by_lamp_id(client, db, tech):
    for lamp_id in ("Z", "M", "Q"):
        make_lamp(db, lamp_id)
        add_prediction(db, lamp_id, RUN_1, 0.25)
    assert ranked(client, tech) == [("M", 0.25), ("Q", 0.25), ("Z", 0.25)]


def test_a_lamp_with_an_open_work_order_shows_it(client, scores, tech):
    created = client.post("/api/v1/work-orders", json={"lamp_id": "C", "source": "prediction"}, headers=tech)
    assert created.status_code == 201, created.text
    client.patch(f"/api/v1/work-orders/{created.json()['id']}", json={"scheduled_for": "2026-11-27"}, headers=tech)
    items = client.get("/api/v1/predictions", headers=tech).json()["items"]
    assert [item["work_order"] for item in items] == [
        None,
        {"id": created.json()["id"], "status": "scheduled", "scheduled_for": "2026-11-27", "source": "prediction"},
        None,
    ]
    # Once closed, the lamp has no open work order any more.
    client.post(f"/api/v1/work-orders/{created.json()['id']}/close", json={"outcome": "false_alarm"}, headers=tech)
    assert [item["work_order"] for item in client.get("/api/v1/predictions", headers=tech).json()["items"]] == [
        None,
        None,
        None,
    ]


def test_before_the_first_scoring_run_the_list_is_empty(client, db, tech):
    make_lamp(db, "A")
    body = client.get("/api/v1/predictions", headers=tech).json()
    assert (body["total"], body["items"], body["latest_scored_at"]) == (0, [], None)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"min_probability": 1.5}, "min_probability"), ({"bbox": "2,48,x,49"}, "bbox"), ({"limit": 0}, "limit")],
)
def test_bad_parameters_are_named(client, scores, tech, params, field):
    response = client.get("/api/v1/predictions", params=params, headers=tech)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


# --- one lamp ---------------------------------------------------------------------------------------------
def test_a_lamp_history_oldest_first_with_its_latest_reasons(client, scores, tech):
    body = client.get("/api/v1/lamps/A/predictions", headers=tech).json()
    assert body["lamp_id"] == "A"
    history = [(datetime.fromisoformat(p["scored_at"]), p["probability"], p["model_version"]) for p in body["history"]]
    assert history == [(RUN_1, 0.2, MODEL_VERSION), (RUN_2, 0.7, "20261124T020000Z")]
    assert body["history"][0]["feature_day"] == "2026-11-24"
    latest = body["latest"]
    assert (latest["probability"], latest["reasons"], latest["horizon_days"]) == (0.7, [PF, TEMP], 14)
    assert date.fromisoformat(latest["feature_day"]) == RUN_2.date()


def test_a_lamp_history_newest_scores_only(client, scores, tech):
    newest = client.get("/api/v1/lamps/A/predictions", params={"limit": 1}, headers=tech).json()["history"]
    assert [p["probability"] for p in newest] == [0.7]
    since = client.get("/api/v1/lamps/A/predictions", params={"since": "2026-11-24T01:00:01Z"}, headers=tech).json()
    assert [p["probability"] for p in since["history"]] == [0.7]


def test_a_lamp_never_scored_has_no_history(client, scores, tech):
    assert client.get("/api/v1/lamps/E/predictions", headers=tech).json() == {
        "lamp_id": "E",
        "latest": None,
        "history": [],
    }


def test_an_unknown_lamp_is_404(client, scores, tech):
    response = client.get("/api/v1/lamps/NOPE/predictions", headers=tech)
    assert response.status_code == 404
    assert response.json()["detail"] == "no lamp NOPE"


def test_since_needs_an_offset(client, scores, tech):
    response = client.get("/api/v1/lamps/A/predictions", params={"since": "2026-11-24T01:00:00"}, headers=tech)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "since"


# --- the circuits' supply warnings ------------------------------------------------------------------------
RUN_3 = RUN_2 + timedelta(days=1)


@pytest.fixture
def circuit_scores(db):
    """Two runs. C-01 rises to 0.7 and C-02 falls to 0.4, as C-03 scores (a tie, ranked by name); C-04 was scored
    only in the first run (0.8) and is not listed.

    C-01's lamps not retired: three on Rue A (one without coordinates), one on Rue B, one on Rue C, one
    without a street; a retired lamp far away on Rue Z counts for nothing. Work orders on its lamps: one open,
    one scheduled, one done, and one open on the retired lamp: two count. C-02: two lamps on Rue D, one on
    Rue B. C-03: only a retired lamp, on Rue B."""
    c1 = {
        "K1": ("Rue A", 48.80, 2.30),
        "K2": ("Rue A", 48.82, 2.34),
        "K3": ("Rue B", 48.84, 2.32),
        "K4": ("Rue A", None, None),
        "K5": ("Rue C", 48.86, 2.36),
        "K6": ("", None, None),
    }
    for lamp_id, (street, lat, lon) in c1.items():
        make_lamp(db, lamp_id, circuit="C-01", street=street, lat=lat, lon=lon)
    make_lamp(db, "K9", circuit="C-01", street="Rue Z", lat=10.0, lon=10.0, state="retired")
    make_lamp(db, "M1", circuit="C-02", street="Rue D", lat=48.90, lon=2.40)
    make_lamp(db, "M2", circuit="C-02", street="Rue D")
    make_lamp(db, "M3", circuit="C-02", street="Rue B", lat=48.92, lon=2.42, state="faulty")
    make_lamp(db, "N1", circuit="C-03", street="Rue B", lat=48.95, lon=2.45, state="retired")
    for lamp_id, status, scheduled_for in (
        ("K1", "open", None),
        ("K3", "scheduled", date(2026, 11, 27)),
        ("K9", "open", None),
    ):
        db.execute(
            """INSERT INTO work_orders (lamp_id, source, status, scheduled_for, notes, created_by)
               VALUES (%s, 'manual', %s, %s, 'check', 'tech-a')""",
            (lamp_id, status, scheduled_for),
        )
    db.execute(
        """INSERT INTO work_orders (lamp_id, source, status, outcome, closed_at, notes, created_by)
           VALUES ('K2', 'manual', 'done', 'repaired', now(), 'check', 'tech-a')"""
    )
    add_circuit_prediction(db, "C-01", RUN_1, 0.2, [PF], lamps=5)
    add_circuit_prediction(db, "C-02", RUN_1, 0.9, [SAG], lamps=3)
    add_circuit_prediction(db, "C-04", RUN_1, 0.8, [SAG], lamps=12)
    add_circuit_prediction(db, "C-01", RUN_2, 0.7, [SAG, PF], lamps=6, version="20261124T020000Z")
    add_circuit_prediction(db, "C-02", RUN_2, 0.4, [], lamps=3, version="20261124T020000Z")
    add_circuit_prediction(db, "C-03", RUN_2, 0.4, [SAG], lamps=0, version="20261124T020000Z")


def circuits_page(client, auth, **params) -> dict:
    response = client.get("/api/v1/predictions/circuits", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def ranked_circuits(client, auth, **params) -> tuple[int, list[tuple[str, float]]]:
    body = circuits_page(client, auth, **params)
    return body["total"], [(item["circuit"], item["probability"]) for item in body["items"]]


def test_the_newest_run_circuits_highest_first_with_where_their_lamps_are(client, circuit_scores, tech):
    body = circuits_page(client, tech)
    assert [(i["circuit"], i["probability"]) for i in body["items"]] == [("C-01", 0.7), ("C-02", 0.4), ("C-03", 0.4)]
    assert (body["total"], body["limit"], body["offset"]) == (3, 100, 0)
    assert datetime.fromisoformat(body["latest_scored_at"]) == RUN_2
    first = body["items"][0]
    assert first == {
        "circuit": "C-01",
        "probability": 0.7,
        "horizon_days": 14,
        "feature_day": "2026-11-25",
        "scored_at": first["scored_at"],
        "model_version": "20261124T020000Z",
        "lamps": 6,
        "streets": ["Rue A", "Rue B", "Rue C"],  # most lamps first, then by name; no empty street, no retired lamp
        "lat": pytest.approx(48.83),  # of the four lamps with coordinates, the retired one left out
        "lon": pytest.approx(2.33),
        "open_work_orders": 2,
        "reasons": [SAG, PF],
    }
    assert datetime.fromisoformat(first["scored_at"]) == RUN_2
    second, third = body["items"][1:]
    assert (second["streets"], second["lat"], second["lon"], second["open_work_orders"], second["reasons"]) == (
        ["Rue D", "Rue B"],
        pytest.approx(48.91),
        pytest.approx(2.41),
        0,
        [],
    )
    assert (third["streets"], third["lat"], third["lon"], third["lamps"]) == ([], None, None, 0)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"min_probability": 0.4}, [("C-01", 0.7), ("C-02", 0.4), ("C-03", 0.4)]),  # at the threshold counts
        ({"min_probability": 0.41}, [("C-01", 0.7)]),
        ({"min_probability": 0.71}, []),
        ({"circuit": "C-02"}, [("C-02", 0.4)]),
        ({"circuit": "C-04"}, []),  # scored in an older run only
        ({"street": "Rue B"}, [("C-01", 0.7), ("C-02", 0.4)]),  # C-03's lamp on Rue B is retired
        ({"street": "Rue Z"}, []),  # only a retired lamp of C-01
        ({"street": "Rue D", "min_probability": 0.5}, []),
        ({"street": "Rue A", "circuit": "C-01"}, [("C-01", 0.7)]),
    ],
)
def test_circuit_filters(client, circuit_scores, tech, params, expected):
    assert ranked_circuits(client, tech, **params) == (len(expected), expected)


def test_circuit_paging(client, circuit_scores, tech):
    body = circuits_page(client, tech, limit=1, offset=1)
    assert (body["total"], body["limit"], body["offset"]) == (3, 1, 1)
    assert [item["circuit"] for item in body["items"]] == ["C-02"]


def test_a_new_run_replaces_the_circuits_of_the_one_before(client, db, circuit_scores, tech):
    add_circuit_prediction(db, "C-03", RUN_3, 0.1, [SAG], lamps=0)
    body = circuits_page(client, tech)
    assert (body["total"], [(i["circuit"], i["probability"]) for i in body["items"]]) == (1, [("C-03", 0.1)])
    assert datetime.fromisoformat(body["latest_scored_at"]) == RUN_3


def test_a_newer_run_without_circuit_warnings_leaves_none_listed(client, db, circuit_scores, tech):
    """A run whose model has no circuit model scores lamps only: the older run's circuits are out of date."""
    add_prediction(db, "K1", RUN_3, 0.3)
    assert ranked_circuits(client, tech) == (0, [])


def test_before_the_first_run_no_circuit_is_listed(client, db, tech):
    make_lamp(db, "A", circuit="C-01")
    add_prediction(db, "A", RUN_1, 0.9)  # lamps scored, circuits not (yet)
    assert circuits_page(client, tech) == {"total": 0, "limit": 100, "offset": 0, "latest_scored_at": None, "items": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"min_probability": -0.1}, "min_probability"), ({"limit": 1001}, "limit"), ({"offset": -1}, "offset")],
)
def test_bad_circuit_parameters_are_named(client, circuit_scores, tech, params, field):
    response = client.get("/api/v1/predictions/circuits", params=params, headers=tech)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
