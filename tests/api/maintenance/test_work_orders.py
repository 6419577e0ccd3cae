"""Work orders: creation from a prediction, a fault or by hand; one open per lamp; scheduling and notes;
closing (the events it writes, the lamp's state, false alarms kept); the daily round, with the circuits at
risk of a supply loss, as JSON and CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import add_event, api_client, audit_entries, bearer, make_lamp
from tests.api.prediction_factories import PF, RUN_1, RUN_2, SAG, TEMP, add_circuit_prediction, add_prediction

FAULT_AT = datetime(2026, 11, 25, 17, 4, 12, tzinfo=UTC)


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN, "tech-a"))


@pytest.fixture
def fleet(db):
    """A: scored twice (0.3 then 0.8); B: faulty with a reported failure; C: never scored; R: retired."""
    make_lamp(db, "A", street="Rue A", group_name="g1", name="A 1", address="1 rue A", lat=48.85, lon=2.35)
    make_lamp(db, "B", street="Rue B", group_name="g2", state="faulty")
    make_lamp(db, "C", street="Rue A", group_name="g2")
    make_lamp(db, "R", state="retired")
    add_prediction(db, "A", RUN_1, 0.3, [TEMP])
    add_prediction(db, "A", RUN_2, 0.8, [PF, TEMP])
    add_prediction(db, "R", RUN_2, 0.9, [PF])
    add_event(db, "B", FAULT_AT, "lamp_failure", "no current at 100 %")


def create(client, auth, expected: int = 201, **body) -> dict:
    response = client.post("/api/v1/work-orders", json=body, headers=auth)
    assert response.status_code == expected, response.text
    return response.json()


def events_of(db, lamp_id: str) -> list[tuple]:
    return db.execute(
        "SELECT ts, type, detail, source FROM events WHERE lamp_id = %s ORDER BY ts, type", (lamp_id,)
    ).fetchall()


def lamp_state(db, lamp_id: str) -> str:
    return db.execute("SELECT state FROM lamps WHERE lamp_id = %s", (lamp_id,)).fetchone()[0]


# --- creating ---------------------------------------------------------------------------------------------
def test_from_a_prediction_it_takes_the_lamp_latest_score(client, db, fleet, tech):
    order = create(client, tech, lamp_id="A", source="prediction")
    assert datetime.fromisoformat(order["prediction_scored_at"]) == RUN_2
    assert (order["prediction_probability"], order["latest_probability"], order["reasons"]) == (0.8, 0.8, [PF, TEMP])
    assert (order["status"], order["scheduled_for"], order["outcome"], order["failure_found"]) == (
        "open",
        None,
        None,
        False,
    )
    assert (order["lamp_name"], order["street"], order["address"], order["lamp_state"]) == (
        "A 1",
        "Rue A",
        "1 rue A",
        "in_service",
    )
    assert (order["created_by"], order["closed_at"], order["closed_by"]) == ("tech-a", None, None)
    # A newer score later does not change what the work order was made from.
    add_prediction(db, "A", RUN_2 + timedelta(days=1), 0.6, [TEMP])
    again = client.get(f"/api/v1/work-orders/{order['id']}", headers=tech).json()
    assert (again["prediction_probability"], again["latest_probability"], again["reasons"]) == (0.8, 0.6, [PF, TEMP])
    [(actor, target, before, after)] = audit_entries(db, "work_order.create")
    assert (actor, target, before) == ("tech-a", f"work_order:{order['id']}", None)
    assert after == {
        "id": order["id"],
        "lamp_id": "A",
        "source": "prediction",
        "prediction_scored_at": order["prediction_scored_at"],
        "fault_event_ts": None,
        "fault_event_type": None,
        "status": "open",
        "scheduled_for": None,
        "outcome": None,
        "failure_found": False,
        "notes": "",
        "closed_at": None,
        "closed_by": None,
    }


def test_from_a_fault(client, fleet, tech):
    order = create(
        client,
        tech,
        lamp_id="B",
        source="fault",
        fault_event_ts="2026-11-25T18:04:12+01:00",
        fault_event_type="lamp_failure",
    )
    assert (order["source"], order["fault_event_type"], order["lamp_state"]) == ("fault", "lamp_failure", "faulty")
    assert datetime.fromisoformat(order["fault_event_ts"]) == FAULT_AT
    assert (order["prediction_scored_at"], order["reasons"], order["latest_probability"]) == (None, [], None)


def test_by_hand_with_notes_and_a_day(client, fleet, tech):
    order = create(client, tech, lamp_id="C", source="manual", notes=" pole hit by a van ", scheduled_for="2026-11-27")
    assert (order["source"], order["notes"], order["status"], order["scheduled_for"]) == (
        "manual",
        "pole hit by a van",
        "scheduled",
        "2026-11-27",
    )


def test_one_open_work_order_per_lamp(client, fleet, tech):
    first = create(client, tech, lamp_id="A", source="prediction")
    second = create(client, tech, 409, lamp_id="A", source="manual", notes="again")
    assert second["work_order_id"] == first["id"]
    assert second["detail"] == f"lamp A already has work order {first['id']} open"
    # Closed, the lamp may get a new one.
    client.post(f"/api/v1/work-orders/{first['id']}/close", json={"outcome": "false_alarm"}, headers=tech)
    assert create(client, tech, lamp_id="A", source="manual", notes="again")["id"] == first["id"] + 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lamp_id": "C", "source": "prediction"}, 409, None),  # never scored
        ({"lamp_id": "R", "source": "manual", "notes": "x"}, 409, None),  # retired
        ({"lamp_id": "NOPE", "source": "manual", "notes": "x"}, 422, "lamp_id"),
        ({"lamp_id": "C", "source": "manual"}, 422, "body"),  # a manual order says why
        ({"lamp_id": "B", "source": "fault"}, 422, "body"),
        ({"lamp_id": "A", "source": "prediction", "fault_event_type": "lamp_failure"}, 422, "body"),
        (
            {
                "lamp_id": "B",
                "source": "fault",
                "fault_event_ts": "2026-11-25T17:04:13Z",
                "fault_event_type": "lamp_failure",
            },
            422,
            "fault_event_ts",
        ),  # no such event
        (
            {
                "lamp_id": "B",
                "source": "fault",
                "fault_event_ts": "2026-11-25T17:04:12",
                "fault_event_type": "lamp_failure",
            },
            422,
            "fault_event_ts",
        ),  # no offset
        (
            {
                "lamp_id": "B",
                "source": "fault",
                "fault_event_ts": "2026-11-25T17:04:12Z",
                "fault_event_type": "repaired",
            },
            422,
            "fault_event_type",
        ),
        ({"lamp_id": "A", "source": "prediction", "status": "done"}, 422, "status"),  # unknown field
    ],
)
def test_refused_creations_say_why(client, db, fleet, tech, body, status, field):
    response = client.post("/api/v1/work-orders", json=body, headers=tech)
    assert response.status_code == status, response.text
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]
    assert db.execute("SELECT count(*) FROM work_orders").fetchone()[0] == 0


# --- listing ----------------------------------------------------------------------------------------------
@pytest.fixture
def orders(client, fleet, tech):
    """A: open from its prediction; B: from its fault, closed as repaired; C: by hand, scheduled."""
    a = create(client, tech, lamp_id="A", source="prediction")
    b = create(
        client,
        tech,
        lamp_id="B",
        source="fault",
        fault_event_ts="2026-11-25T17:04:12Z",
        fault_event_type="lamp_failure",
    )
    c = create(client, tech, lamp_id="C", source="manual", notes="check the door", scheduled_for="2026-11-27")
    client.post(f"/api/v1/work-orders/{b['id']}/close", json={"outcome": "repaired"}, headers=tech)
    return a["id"], b["id"], c["id"]


def listed(client, auth, **params) -> list[int]:
    response = client.get("/api/v1/work-orders", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


def test_list_newest_first_and_filters(client, orders, tech):
    a, b, c = orders
    assert listed(client, tech) == [c, b, a]
    assert listed(client, tech, status=["open", "scheduled"]) == [c, a]
    assert listed(client, tech, status="done") == [b]
    assert listed(client, tech, lamp_id="B") == [b]
    assert listed(client, tech, street="Rue A") == [c, a]
    assert listed(client, tech, group_name="g2") == [c, b]
    assert listed(client, tech, street="Rue A", status="scheduled") == [c]


def test_list_paging(client, orders, tech):
    a, b, c = orders
    body = client.get("/api/v1/work-orders", params={"limit": 1, "offset": 1}, headers=tech).json()
    assert (body["total"], [item["id"] for item in body["items"]]) == (3, [b])


def test_an_unknown_work_order_is_404(client, fleet, tech):
    for response in (
        client.get("/api/v1/work-orders/999", headers=tech),
        client.patch("/api/v1/work-orders/999", json={"notes": "x"}, headers=tech),
        client.post("/api/v1/work-orders/999/close", json={"outcome": "repaired"}, headers=tech),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "no work order 999"


# --- scheduling and notes ---------------------------------------------------------------------------------
def test_scheduling_unscheduling_and_notes_are_audited(client, db, fleet, tech):
    order = create(client, tech, lamp_id="A", source="prediction")
    path = f"/api/v1/work-orders/{order['id']}"
    scheduled = client.patch(path, json={"scheduled_for": "2026-11-27"}, headers=tech).json()
    assert (scheduled["status"], scheduled["scheduled_for"]) == ("scheduled", "2026-11-27")
    noted = client.patch(path, json={"notes": "bring a 54 W driver"}, headers=tech).json()
    assert (noted["status"], noted["scheduled_for"], noted["notes"]) == (
        "scheduled",
        "2026-11-27",
        "bring a 54 W driver",
    )
    reopened = client.patch(path, json={"status": "open"}, headers=tech).json()
    assert (reopened["status"], reopened["scheduled_for"]) == ("open", None)
    client.patch(path, json={"notes": "bring a 54 W driver"}, headers=tech)  # no change, not logged
    assert [(target, before, after) for _, target, before, after in audit_entries(db, "work_order.update")] == [
        (
            f"work_order:{order['id']}",
            {"status": "open", "scheduled_for": None},
            {"status": "scheduled", "scheduled_for": "2026-11-27"},
        ),
        (f"work_order:{order['id']}", {"notes": ""}, {"notes": "bring a 54 W driver"}),
        (
            f"work_order:{order['id']}",
            {"status": "scheduled", "scheduled_for": "2026-11-27"},
            {"status": "open", "scheduled_for": None},
        ),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "scheduled"}, "scheduled_for"),  # on which day?
        ({"status": "open", "scheduled_for": "2026-11-27"}, "body"),
        ({"status": "done"}, "status"),  # closing is its own endpoint
        ({"notes": None}, "body"),
        ({"outcome": "repaired"}, "outcome"),
    ],
)
def test_refused_changes_say_why(client, fleet, tech, body, field):
    order = create(client, tech, lamp_id="A", source="prediction")
    response = client.patch(f"/api/v1/work-orders/{order['id']}", json=body, headers=tech)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_closed_work_order_cannot_change(client, orders, tech):
    a, b, c = orders
    response = client.patch(f"/api/v1/work-orders/{b}", json={"notes": "late note"}, headers=tech)
    assert response.status_code == 409
    assert response.json()["detail"] == f"work order {b} is already done"


# --- closing ----------------------------------------------------------------------------------------------
def test_repaired_with_a_failure_found_records_the_failure_then_the_repair(client, db, fleet, tech):
    order = create(client, tech, lamp_id="A", source="prediction", notes="flickering")
    response = client.post(
        f"/api/v1/work-orders/{order['id']}/close",
        json={"outcome": "repaired", "failure_found": True, "notes": "driver replaced"},
        headers=tech,
    )
    assert response.status_code == 200, response.text
    closed = response.json()
    closed_at = datetime.fromisoformat(closed["closed_at"])
    assert (closed["status"], closed["outcome"], closed["failure_found"], closed["closed_by"]) == (
        "done",
        "repaired",
        True,
        "tech-a",
    )
    assert closed["notes"] == "flickering\ndriver replaced"
    assert events_of(db, "A") == [
        (closed_at - timedelta(seconds=1), "lamp_failure", {"work_order": order["id"]}, "technician"),
        (
            closed_at,
            "repaired",
            {"work_order": order["id"], "outcome": "repaired", "notes": "driver replaced"},
            "technician",
        ),
    ]
    assert lamp_state(db, "A") == closed["lamp_state"] == "in_service"
    [(actor, target, before, after)] = audit_entries(db, "work_order.close")
    assert before == {"status": "open", "notes": "flickering", "lamp_state": "in_service"}
    assert after == {
        "status": "done",
        "outcome": "repaired",
        "failure_found": True,
        "notes": "flickering\ndriver replaced",
        "lamp_state": "in_service",
        "events": [
            {"type": "lamp_failure", "ts": (closed_at - timedelta(seconds=1)).isoformat()},
            {"type": "repaired", "ts": closed_at.isoformat()},
        ],
    }


def test_replacing_a_faulty_lamp_puts_it_back_in_service(client, db, fleet, tech):
    order = create(
        client,
        tech,
        lamp_id="B",
        source="fault",
        fault_event_ts="2026-11-25T17:04:12Z",
        fault_event_type="lamp_failure",
    )
    closed = client.post(f"/api/v1/work-orders/{order['id']}/close", json={"outcome": "replaced"}, headers=tech).json()
    closed_at = datetime.fromisoformat(closed["closed_at"])
    assert events_of(db, "B") == [
        (FAULT_AT, "lamp_failure", "no current at 100 %", "controller"),
        (closed_at, "repaired", {"work_order": order["id"], "outcome": "replaced", "notes": ""}, "technician"),
    ]
    assert lamp_state(db, "B") == closed["lamp_state"] == "in_service"
    # The failure is no longer open.
    assert client.get("/api/v1/events", params={"lamp_id": "B", "open": "true"}, headers=tech).json()["total"] == 0


@pytest.mark.parametrize("outcome", ["false_alarm", "no_fault_found"])
def test_a_false_alarm_writes_no_event_and_is_kept(client, db, fleet, tech, outcome):
    order = create(
        client,
        tech,
        lamp_id="B",
        source="fault",
        fault_event_ts="2026-11-25T17:04:12Z",
        fault_event_type="lamp_failure",
    )
    closed = client.post(
        f"/api/v1/work-orders/{order['id']}/close", json={"outcome": outcome, "notes": "lamp lit on site"}, headers=tech
    ).json()
    assert (closed["status"], closed["outcome"], closed["failure_found"]) == ("done", outcome, False)
    assert events_of(db, "B") == [(FAULT_AT, "lamp_failure", "no current at 100 %", "controller")]
    assert lamp_state(db, "B") == "faulty"
    assert db.execute("SELECT lamp_id, outcome, notes FROM work_orders").fetchall() == [
        ("B", outcome, "lamp lit on site")
    ]


def test_closing_twice_is_a_conflict_and_changes_nothing(client, db, fleet, tech):
    order = create(client, tech, lamp_id="A", source="prediction")
    path = f"/api/v1/work-orders/{order['id']}/close"
    first = client.post(path, json={"outcome": "repaired"}, headers=tech).json()
    again = client.post(path, json={"outcome": "replaced", "failure_found": True}, headers=tech)
    assert again.status_code == 409
    assert again.json()["detail"] == f"work order {order['id']} is already done"
    assert [row[1] for row in events_of(db, "A")] == ["repaired"]
    assert client.get(f"/api/v1/work-orders/{order['id']}", headers=tech).json() == first
    assert len(audit_entries(db, "work_order.close")) == 1


def test_a_cancelled_work_order_records_no_event_and_frees_the_lamp(client, db, fleet, tech):
    order = create(client, tech, lamp_id="A", source="prediction", notes="check the driver")
    path = f"/api/v1/work-orders/{order['id']}/cancel"
    assert client.post(path, json={}, headers=tech).status_code == 422  # a reason is required
    cancelled = client.post(path, json={"reason": "duplicate of another order"}, headers=tech)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["outcome"]) == ("cancelled", None)
    assert body["notes"] == "check the driver\nduplicate of another order"
    assert events_of(db, "A") == []
    assert lamp_state(db, "A") == "in_service"
    again = client.post(path, json={"reason": "twice"}, headers=tech)
    assert again.status_code == 409
    assert again.json()["detail"] == f"work order {order['id']} is already cancelled"
    [entry] = audit_entries(db, "work_order.cancel")
    assert entry is not None
    assert create(client, tech, lamp_id="A", source="prediction")["id"] != order["id"]  # the lamp is free again


@pytest.mark.parametrize(
    ("body", "field"),
    [({"outcome": "false_alarm", "failure_found": True}, "body"), ({"outcome": "fixed"}, "outcome"), ({}, "outcome")],
)
def test_refused_closes_say_why(client, db, fleet, tech, body, field):
    order = create(client, tech, lamp_id="A", source="prediction")
    response = client.post(f"/api/v1/work-orders/{order['id']}/close", json=body, headers=tech)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]
    assert client.get(f"/api/v1/work-orders/{order['id']}", headers=tech).json()["status"] == "open"


# --- the daily round --------------------------------------------------------------------------------------
DAY = date(2026, 11, 26)


@pytest.fixture
def round_fleet(db):
    """Seven lamps of circuit C-01 on three streets, with work orders of every kind."""
    streets = {
        "S1": "Rue de la Gare",
        "S2": "Rue Haute",
        "S3": "Rue Haute",
        "S4": "Rue de la Gare",
        "S5": "Rue Basse",
        "S6": "Rue Basse",
        "S7": "Rue Basse",
    }
    for n, (lamp_id, street) in enumerate(streets.items(), start=1):
        make_lamp(
            db,
            lamp_id,
            street=street,
            name=f"Lamp {n}",
            address=f"{n} {street.lower()}",
            lat=48.85 + n / 1000,
            lon=2.35,
            circuit="C-01",
        )
    for lamp_id, probability in {"S1": 0.12, "S2": 0.91, "S3": 0.05, "S4": 0.64, "S5": 0.5, "S6": 0.99}.items():
        add_prediction(db, lamp_id, RUN_2, probability, [PF if probability > 0.5 else TEMP])
    add_event(db, "S7", FAULT_AT, "lamp_failure")

    def order(lamp_id, source, status="open", scheduled_for=None, **extra) -> None:
        values = {
            "prediction_scored_at": RUN_2 if source == "prediction" else None,
            "fault_event_ts": None,
            "fault_event_type": None,
            "notes": "",
            "outcome": None,
        } | extra
        db.execute(
            """INSERT INTO work_orders (lamp_id, source, prediction_scored_at, fault_event_ts, fault_event_type,
                                        status, scheduled_for, notes, outcome, closed_at, created_by)
               VALUES (%(lamp_id)s, %(source)s, %(prediction_scored_at)s, %(fault_event_ts)s, %(fault_event_type)s,
                       %(status)s, %(scheduled_for)s, %(notes)s, %(outcome)s,
                       CASE WHEN %(status)s = 'done' THEN now() END, 'tech-a')""",
            values | {"lamp_id": lamp_id, "source": source, "status": status, "scheduled_for": scheduled_for},
        )

    order("S1", "prediction", "scheduled", DAY)  # 1: due that day, whatever its risk
    order("S2", "prediction")  # 3: open, 0.91
    order("S3", "manual", notes="loose cover\nseen by a resident")  # left out: lowest risk, no room
    order("S4", "prediction", "scheduled", DAY - timedelta(days=2))  # 4: overdue, 0.64
    order("S5", "prediction", "scheduled", DAY + timedelta(days=1))  # left out: another day
    order("S6", "prediction", "done", outcome="false_alarm")  # left out: closed
    order("S7", "fault", fault_event_ts=FAULT_AT, fault_event_type="lamp_failure")  # 2: the lamp is out


@pytest.fixture
def crew_of_four(timescale_url):
    settings = Settings(database_url=timescale_url, town_timezone="Europe/Paris", crew_visits_per_day=4, _env_file=None)
    with api_client(timescale_url, settings=settings) as client:
        yield client


def test_the_round_due_visits_then_the_most_urgent_grouped_by_street(crew_of_four, round_fleet, tech):
    body = crew_of_four.get("/api/v1/round", params={"day": "2026-11-26", "lang": "en"}, headers=tech).json()
    assert (body["day"], body["capacity"], body["scheduled"], body["circuits"], body["total"]) == (
        "2026-11-26",
        4,
        1,
        0,
        4,
    )
    assert [
        (street["street"], [(v["position"], v["lamp_id"]) for v in street["visits"]]) for street in body["streets"]
    ] == [
        ("Rue de la Gare", [(1, "S1"), (4, "S4")]),
        ("Rue Basse", [(2, "S7")]),
        ("Rue Haute", [(3, "S2")]),
    ]
    first = body["streets"][0]["visits"][0]
    assert {
        key: first[key]
        for key in (
            "kind",
            "status",
            "scheduled_for",
            "source",
            "circuit",
            "name",
            "address",
            "probability",
            "reason",
            "notes",
        )
    } == {
        "kind": "lamp",
        "status": "scheduled",
        "scheduled_for": "2026-11-26",
        "source": "prediction",
        "circuit": "C-01",
        "name": "Lamp 1",
        "address": "1 rue de la gare",
        "probability": 0.12,
        "reason": TEMP["text"],
        "notes": "",
    }
    assert body["streets"][1]["visits"][0]["reason"] == "Lamp failure"


def test_the_round_in_the_account_language(crew_of_four, round_fleet, tech):
    body = crew_of_four.get("/api/v1/round", params={"day": "2026-11-26"}, headers=tech).json()  # French by default
    reasons = [visit["reason"] for street in body["streets"] for visit in street["visits"]]
    assert reasons == [TEMP["text_fr"], PF["text_fr"], "Panne de lampe", PF["text_fr"]]


def test_a_wider_crew_visits_every_open_order_of_the_day(timescale_url, round_fleet, tech):
    settings = Settings(database_url=timescale_url, crew_visits_per_day=20, _env_file=None)
    with api_client(timescale_url, settings=settings) as client:
        body = client.get("/api/v1/round", params={"day": "2026-11-26", "lang": "en"}, headers=tech).json()
    visits = [(v["position"], v["lamp_id"], v["reason"]) for street in body["streets"] for v in street["visits"]]
    assert visits == [
        (1, "S1", TEMP["text"]),
        (4, "S4", PF["text"]),
        (2, "S7", "Lamp failure"),
        (3, "S2", PF["text"]),
        (5, "S3", "loose cover"),
    ]
    assert body["total"] == 5


def test_the_round_defaults_to_today_in_the_town(crew_of_four, round_fleet, tech):
    body = crew_of_four.get("/api/v1/round", headers=tech).json()
    assert body["day"] == datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()


def test_the_round_as_csv(crew_of_four, round_fleet, tech):
    response = crew_of_four.get("/api/v1/round.csv", params={"day": "2026-11-26", "lang": "en"}, headers=tech)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="round-2026-11-26.csv"'
    ids = {lamp_id: n for n, lamp_id in enumerate(["S1", "S2", "S3", "S4", "S5", "S6", "S7"], start=1)}
    assert response.text == (
        "street,lamp,name,address,reason,work_order,probability,lat,lon,circuit\r\n"
        f"Rue de la Gare,S1,Lamp 1,1 rue de la gare,driver 14 °C hotter than its neighbours,{ids['S1']},0.12,"
        "48.851,2.35,C-01\r\n"
        f"Rue de la Gare,S4,Lamp 4,4 rue de la gare,power factor fell from 0.96 to 0.88 over 10 days,{ids['S4']},"
        "0.64,48.854,2.35,C-01\r\n"
        f"Rue Basse,S7,Lamp 7,7 rue basse,Lamp failure,{ids['S7']},,48.857,2.35,C-01\r\n"
        f"Rue Haute,S2,Lamp 2,2 rue haute,power factor fell from 0.96 to 0.88 over 10 days,{ids['S2']},0.91,"
        "48.852,2.35,C-01\r\n"
    )


@pytest.fixture
def round_circuits(db, round_fleet):
    """Circuits of the newest run: C-03 (0.7; two lamps on Rue Neuve, one on Rue Haute, one retired on Rue
    Morte) and C-05 (0.3, at the default threshold; no lamp in the inventory) make the round; C-06 (0.29) does
    not, nor C-09, scored 0.95 by the run before."""
    lamps = {
        "K1": ("Rue Neuve", 48.86, 2.36, "in_service"),
        "K2": ("Rue Neuve", 48.88, 2.38, "in_service"),
        "K3": ("Rue Haute", None, None, "faulty"),
        "K4": ("Rue Morte", 10.0, 10.0, "retired"),
    }
    for lamp_id, (street, lat, lon, state) in lamps.items():
        make_lamp(db, lamp_id, street=street, lat=lat, lon=lon, state=state, circuit="C-03")
    add_circuit_prediction(db, "C-09", RUN_1, 0.95, [SAG], lamps=8)
    add_circuit_prediction(db, "C-03", RUN_2, 0.7, [SAG, PF], lamps=27)
    add_circuit_prediction(db, "C-05", RUN_2, 0.3, [], lamps=4)
    add_circuit_prediction(db, "C-06", RUN_2, 0.29, [SAG], lamps=9)


def round_stops(body: dict) -> list[tuple[str, list[tuple[int, str]]]]:
    """(street, [(position, lamp id or circuit)]) street by street."""
    return [
        (street["street"], [(v["position"], v["lamp_id"] or v["circuit"]) for v in street["visits"]])
        for street in body["streets"]
    ]


def test_a_circuit_at_risk_is_one_visit_of_the_round_by_its_probability(crew_of_four, round_circuits, tech):
    body = crew_of_four.get("/api/v1/round", params={"day": "2026-11-26", "lang": "en"}, headers=tech).json()
    # S1 is due; then the fault S7, S2 (0.91), C-03 (0.7); no room left for S4 (0.64) nor C-05 (0.3).
    assert (body["scheduled"], body["circuits"], body["total"]) == (1, 1, 4)
    assert round_stops(body) == [
        ("Rue de la Gare", [(1, "S1")]),
        ("Rue Basse", [(2, "S7")]),
        ("Rue Haute", [(3, "S2")]),
        ("Rue Neuve", [(4, "C-03")]),
    ]
    stop = body["streets"][3]["visits"][0]
    assert stop == {
        "position": 4,
        "kind": "circuit",
        "work_order_id": None,
        "status": None,
        "scheduled_for": None,
        "source": None,
        "lamp_id": None,
        "circuit": "C-03",
        "lamps": 27,
        "streets": ["Rue Neuve", "Rue Haute"],
        "name": "Circuit C-03 (27 lamps)",
        "street": "Rue Neuve",
        "address": "",
        "lat": pytest.approx(48.87),
        "lon": pytest.approx(2.37),
        "probability": 0.7,
        "reason": SAG["text"],
        "notes": "",
    }


def test_every_circuit_at_the_threshold_or_above_when_the_crews_have_room(timescale_url, round_circuits, tech):
    settings = Settings(database_url=timescale_url, crew_visits_per_day=20, _env_file=None)
    with api_client(timescale_url, settings=settings) as client:
        body = client.get("/api/v1/round", params={"day": "2026-11-26"}, headers=tech).json()  # French by default
    assert (body["scheduled"], body["circuits"], body["total"]) == (1, 2, 7)
    assert round_stops(body) == [
        ("Rue de la Gare", [(1, "S1"), (5, "S4")]),
        ("Rue Basse", [(2, "S7")]),
        ("Rue Haute", [(3, "S2"), (7, "S3")]),
        ("Rue Neuve", [(4, "C-03")]),
        ("", [(6, "C-05")]),  # C-05 has no lamp with a street
    ]
    circuits = [
        (v["name"], v["reason"], v["lat"])
        for street in body["streets"]
        for v in street["visits"]
        if v["kind"] == "circuit"
    ]
    assert circuits == [
        ("Circuit C-03 (27 lampes)", SAG["text_fr"], pytest.approx(48.87)),
        ("Circuit C-05 (4 lampes)", "risque de perte d'alimentation sur le circuit", None),
    ]


@pytest.mark.parametrize(("threshold", "expected"), [("0.7", ["C-03"]), ("0.71", [])])
def test_the_circuits_threshold_is_a_setting(timescale_url, round_circuits, tech, monkeypatch, threshold, expected):
    monkeypatch.setenv("STREETLIGHT_CIRCUIT_ROUND_MIN_PROBABILITY", threshold)
    settings = Settings(database_url=timescale_url, crew_visits_per_day=20, _env_file=None)
    with api_client(timescale_url, settings=settings) as client:
        body = client.get("/api/v1/round", params={"day": "2026-11-26"}, headers=tech).json()
    assert [v["circuit"] for street in body["streets"] for v in street["visits"] if v["kind"] == "circuit"] == expected
    assert body["total"] == 5 + len(expected)


@pytest.mark.parametrize("threshold", ["-0.1", "1.5"])
def test_the_circuits_threshold_is_a_probability(monkeypatch, threshold):
    monkeypatch.setenv("STREETLIGHT_CIRCUIT_ROUND_MIN_PROBABILITY", threshold)
    with pytest.raises(ValueError, match="circuit_round_min_probability"):
        Settings(_env_file=None)


def test_the_round_as_csv_with_a_circuit(crew_of_four, round_circuits, tech):
    response = crew_of_four.get("/api/v1/round.csv", params={"day": "2026-11-26", "lang": "en"}, headers=tech)
    assert response.status_code == 200
    lines = response.text.split("\r\n")
    assert lines[0] == "street,lamp,name,address,reason,work_order,probability,lat,lon,circuit"
    assert [line.split(",")[1] for line in lines[1:-1]] == ["S1", "S7", "S2", ""]
    assert lines[4] == (
        "Rue Neuve,,Circuit C-03 (27 lamps),,the circuit's voltage sagged by 9 V over 7 days,,0.7,48.87,2.37,C-03"
    )
    assert lines[-1] == ""


def test_a_bad_day_is_named(client, fleet, tech):
    for path in ("/api/v1/round", "/api/v1/round.csv"):
        response = client.get(path, params={"day": "26/11/2026"}, headers=tech)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "day"
