"""Dimming schedule endpoints against the real database: profiles and versions, assignments, the
calendar, overrides, what a lamp follows, problems naming the bad field or step, audit and NOTIFY."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.vocabulary import Role
from dimming.store import NOTIFY_CHANNEL
from tests.api.factories import make_user
from tests.api.fleet_factories import audit_entries, bearer, make_lamp

STEPS = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 40},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
PROFILE = {"name": "Residential", "description": "40 % late at night", "twilight": "sunset", "steps": STEPS}


def shown(steps: list[dict]) -> list[dict]:
    """Steps as the API answers them: the field a step's anchor does not use is null."""
    return [{"offset_min": None, "time": None} | step for step in steps]


@pytest.fixture
def manager(db):
    return bearer(make_user(db, Role.ENERGY_MANAGER, "mathilde"))


@pytest.fixture
def tech(db):
    return bearer(make_user(db, Role.TECHNICIAN, "theo"))


@pytest.fixture
def town(db):
    make_lamp(db, "A1", lat=48.85, lon=2.35, group_name="centre", street="Rue des Tilleuls", circuit="C1")
    make_lamp(db, "A2", lat=48.851, lon=2.351, group_name="centre", street="Rue des Tilleuls", circuit="C1")
    make_lamp(db, "B1", lat=48.86, lon=2.36, group_name="gare", street="Avenue de la Gare", circuit="C2")
    make_lamp(db, "N1", group_name="gare")  # no coordinates
    db.execute("UPDATE lamps SET lighting_class = 'M4' WHERE lamp_id = 'B1'")


def create_profile(client, headers, **changes) -> dict:
    response = client.post("/api/v1/dimming/profiles", json=PROFILE | changes, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def notifications(db) -> list[str]:
    return [note.payload for note in db.notifies(timeout=0.5, stop_after=50)]


# --- profiles ---------------------------------------------------------------------


def test_a_profile_is_created_read_and_listed(client, db, manager, tech):
    created = create_profile(client, manager)
    assert created["version"] == 1 and created["updated_by"] == "mathilde" and created["retired_at"] is None
    assert created["steps"] == shown(STEPS)

    listed = client.get("/api/v1/dimming/profiles", headers=tech)
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()] == ["Residential"]
    one = client.get(f"/api/v1/dimming/profiles/{created['id']}", headers=tech).json()
    assert one["used_by"] == [] and [v["version"] for v in one["versions"]] == [1]
    assert audit_entries(db, "dimming.profile.create") == [
        (
            "mathilde",
            f"profile:{created['id']}",
            None,
            {
                "id": created["id"],
                "name": "Residential",
                "description": "40 % late at night",
                "version": 1,
                "twilight": "sunset",
                "steps": STEPS,
                "retired_at": None,
            },
        )
    ]


def test_editing_a_profile_makes_a_new_version_and_keeps_the_old(client, db, manager):
    created = create_profile(client, manager)
    steps = STEPS[:1] + [{"anchor": "clock", "time": "22:30", "level": 30}] + STEPS[2:]
    response = client.put(
        f"/api/v1/dimming/profiles/{created['id']}", json=PROFILE | {"steps": steps, "version": 1}, headers=manager
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["version"] == 2 and edited["steps"] == shown(steps)
    assert [(v["version"], v["steps"]) for v in edited["versions"]] == [(2, shown(steps)), (1, shown(STEPS))]
    [(actor, target, before, after)] = audit_entries(db, "dimming.profile.update")
    assert (actor, target) == ("mathilde", f"profile:{created['id']}")
    assert (before["version"], before["steps"], after["version"], after["steps"]) == (1, STEPS, 2, steps)


def test_an_edit_from_a_stale_version_is_refused_with_409(client, manager):
    created = create_profile(client, manager)
    url = f"/api/v1/dimming/profiles/{created['id']}"
    assert client.put(url, json=PROFILE | {"version": 1}, headers=manager).status_code == 200
    stale = client.put(url, json=PROFILE | {"description": "mine", "version": 1}, headers=manager)
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert "version 2, not 1" in stale.json()["detail"]
    assert client.get(url, headers=manager).json()["description"] == "40 % late at night"


def test_an_invalid_profile_is_refused_naming_each_bad_step(client, db, manager):
    steps = [
        {"anchor": "dusk", "offset_min": 0, "level": 120},
        {"anchor": "clock", "time": "25:00", "level": 50},
        {"anchor": "clock", "time": "23:00", "level": 40},
        {"anchor": "clock", "time": "22:00", "level": 30},
        {"anchor": "dawn", "offset_min": 300, "level": 0},
    ]
    response = client.post("/api/v1/dimming/profiles", json=PROFILE | {"steps": steps}, headers=manager)
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:streetlight:problem:validation-error"
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("steps.0.level", "step 1: level 120 is outside 0-100"),
        ("steps.1.time", "step 2: time '25:00' is not HH:MM (00:00 to 23:59)"),
        (
            "steps.3.time",
            "step 4: 22:00 is earlier in the night than step 3 (23:00); order the steps through the night",
        ),
        ("steps.4.offset_min", "step 5: offset 300 min is outside -240..240"),
    ]
    assert db.execute("SELECT count(*) FROM dimming_profiles").fetchone()[0] == 0
    assert audit_entries(db, "dimming.profile.create") == []


def test_the_configured_minimum_level_and_step_count_apply(client, manager, monkeypatch):
    settings = client.app.state.settings
    monkeypatch.setattr(settings, "dimming_min_level", 20)
    monkeypatch.setattr(settings, "dimming_max_steps", 3)
    response = client.post(
        "/api/v1/dimming/profiles",
        json=PROFILE | {"steps": STEPS[:1] + [{"anchor": "clock", "time": "23:00", "level": 10}] + STEPS[2:]},
        headers=manager,
    )
    assert response.status_code == 422
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
        ("steps", "a profile has at most 3 steps; this one has 4"),
        ("steps.1.level", "step 2: level 10 is below the minimum of 20 % (0 switches off)"),
    ]


def test_profile_names_are_unique(client, manager):
    create_profile(client, manager)
    again = client.post("/api/v1/dimming/profiles", json=PROFILE, headers=manager)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_copy_makes_a_new_profile_at_version_1(client, db, manager):
    created = create_profile(client, manager)
    client.put(
        f"/api/v1/dimming/profiles/{created['id']}", json=PROFILE | {"description": "v2", "version": 1}, headers=manager
    )
    response = client.post(f"/api/v1/dimming/profiles/{created['id']}/copy", json={"name": "Winter"}, headers=manager)
    assert response.status_code == 201
    copy = response.json()
    assert (copy["name"], copy["version"], copy["description"], copy["steps"]) == ("Winter", 1, "v2", shown(STEPS))
    assert copy["id"] != created["id"]
    assert [(target, before) for _, target, before, _ in audit_entries(db, "dimming.profile.copy")] == [
        (f"profile:{copy['id']}", {"copied_from": created["id"]})
    ]
    taken = client.post(f"/api/v1/dimming/profiles/{created['id']}/copy", json={"name": "Winter"}, headers=manager)
    assert taken.status_code == 409


def test_a_profile_in_use_cannot_be_retired_and_a_retired_one_is_hidden(client, db, manager, town):
    created = create_profile(client, manager)
    url = f"/api/v1/dimming/profiles/{created['id']}"
    assignment = client.post(
        "/api/v1/dimming/assignments", json={"target_kind": "town", "profile_id": created["id"]}, headers=manager
    ).json()
    refused = client.post(url + "/retire", headers=manager)
    assert refused.status_code == 409
    assert f"assignment {assignment['id']} (town)" in refused.json()["detail"]

    assert client.delete(f"/api/v1/dimming/assignments/{assignment['id']}", headers=manager).status_code == 204
    retired = client.post(url + "/retire", headers=manager)
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    assert client.post(url + "/retire", headers=manager).status_code == 200  # twice: no change
    assert len(audit_entries(db, "dimming.profile.retire")) == 1
    assert client.get("/api/v1/dimming/profiles", headers=manager).json() == []
    listed = client.get("/api/v1/dimming/profiles", params={"include_retired": "true"}, headers=manager).json()
    assert [p["id"] for p in listed] == [created["id"]]
    assert client.put(url, json=PROFILE | {"version": 1}, headers=manager).status_code == 409
    again = client.post(
        "/api/v1/dimming/assignments", json={"target_kind": "town", "profile_id": created["id"]}, headers=manager
    )
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "profile_id"


def test_unknown_profiles_answer_404(client, manager):
    assert client.get("/api/v1/dimming/profiles/999", headers=manager).status_code == 404
    assert client.put("/api/v1/dimming/profiles/999", json=PROFILE | {"version": 1}, headers=manager).status_code == 404
    assert client.post("/api/v1/dimming/profiles/999/copy", json={"name": "x"}, headers=manager).status_code == 404
    assert client.post("/api/v1/dimming/profiles/999/retire", headers=manager).status_code == 404


def test_technicians_read_but_cannot_change(client, db, manager, tech):
    created = create_profile(client, manager)
    assert client.post("/api/v1/dimming/profiles", json=PROFILE | {"name": "T"}, headers=tech).status_code == 403
    assert (
        client.put(f"/api/v1/dimming/profiles/{created['id']}", json=PROFILE | {"version": 1}, headers=tech).status_code
        == 403
    )
    assert client.get(f"/api/v1/dimming/profiles/{created['id']}", headers=tech).status_code == 200
    assert client.get("/api/v1/dimming/profiles").status_code == 401


# --- assignments --------------------------------------------------------------------


def test_assigning_twice_replaces_and_targets_must_exist(client, db, manager, town):
    first = create_profile(client, manager)
    second = create_profile(client, manager, name="Full")
    response = client.post(
        "/api/v1/dimming/assignments",
        json={"target_kind": "group", "target": "centre", "profile_id": first["id"]},
        headers=manager,
    )
    assert response.status_code == 201
    replaced = client.post(
        "/api/v1/dimming/assignments",
        json={"target_kind": "group", "target": "centre", "profile_id": second["id"]},
        headers=manager,
    ).json()
    assert replaced["id"] == response.json()["id"] and replaced["profile_name"] == "Full"
    assert [
        (a["target_kind"], a["target"], a["profile_id"])
        for a in client.get("/api/v1/dimming/assignments", headers=manager).json()
    ] == [("group", "centre", second["id"])]
    entries = audit_entries(db, "dimming.assignment.set")
    assert [(target, before and before["profile_id"], after["profile_id"]) for _, target, before, after in entries] == [
        ("group:centre", None, first["id"]),
        ("group:centre", first["id"], second["id"]),
    ]

    for body, field, message in [
        ({"target_kind": "group", "target": "nowhere"}, "target", "no lamp with group 'nowhere'"),
        ({"target_kind": "lamp", "target": "Z9"}, "target", "no lamp 'Z9'"),
        ({"target_kind": "street", "target": ""}, "target", "a street rule needs a target (which street)"),
        ({"target_kind": "town", "target": "x"}, "target", "a town-wide rule has an empty target"),
        ({"target_kind": "town", "profile_id": 999}, "profile_id", "no dimming profile 999"),
    ]:
        refused = client.post("/api/v1/dimming/assignments", json={"profile_id": first["id"]} | body, headers=manager)
        assert refused.status_code == 422, body
        assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [(field, message)]
    assert client.delete("/api/v1/dimming/assignments/999", headers=manager).status_code == 404


# --- calendar -----------------------------------------------------------------------


def test_calendar_exceptions_are_created_changed_and_removed(client, db, manager, town):
    full = create_profile(client, manager, name="Full", steps=[STEPS[0], STEPS[-1]])
    festival = {
        "name": "Winter festival",
        "profile_id": full["id"],
        "kind": "yearly",
        "start_day": "01-24",
        "end_day": "02-01",
        "priority": 10,
    }
    response = client.post("/api/v1/dimming/calendar", json=festival, headers=manager)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["target_kind"], created["target"], created["profile_name"]) == ("town", "", "Full")

    weekends = {
        "name": "Weekends",
        "profile_id": full["id"],
        "kind": "weekdays",
        "weekdays": [5, 6],
        "target_kind": "group",
        "target": "gare",
    }
    assert client.post("/api/v1/dimming/calendar", json=weekends, headers=manager).status_code == 201
    listed = client.get("/api/v1/dimming/calendar", headers=manager).json()
    assert [(e["name"], e["priority"]) for e in listed] == [("Winter festival", 10), ("Weekends", 0)]

    changed = client.put(
        f"/api/v1/dimming/calendar/{created['id']}", json=festival | {"end_day": "02-02"}, headers=manager
    )
    assert changed.status_code == 200 and changed.json()["end_day"] == "02-02"
    [(_, target, before, after)] = audit_entries(db, "dimming.calendar.update")
    assert (target, before["end_day"], after["end_day"]) == (f"calendar:{created['id']}", "02-01", "02-02")

    assert client.delete(f"/api/v1/dimming/calendar/{created['id']}", headers=manager).status_code == 204
    assert client.delete(f"/api/v1/dimming/calendar/{created['id']}", headers=manager).status_code == 404
    assert client.put(f"/api/v1/dimming/calendar/{created['id']}", json=festival, headers=manager).status_code == 404
    assert [e["name"] for e in client.get("/api/v1/dimming/calendar", headers=manager).json()] == ["Weekends"]
    assert len(audit_entries(db, "dimming.calendar.delete")) == 1


def test_a_calendar_exception_with_bad_dates_names_the_field(client, manager, town):
    full = create_profile(client, manager)
    base = {"name": "x", "profile_id": full["id"]}
    cases = [
        ({"kind": "dates", "start_date": "2026-12-31"}, [("end_date", "a dates exception needs end_date")]),
        (
            {"kind": "dates", "start_date": "2026-12-31", "end_date": "2026-12-01"},
            [("end_date", "end_date 2026-12-01 is before start_date 2026-12-31")],
        ),
        ({"kind": "weekdays", "weekdays": [0, 8]}, [("weekdays", "weekdays are 1 (Monday) to 7 (Sunday), not [0, 8]")]),
        (
            {"kind": "yearly", "start_day": "02-30", "end_day": "03-01"},
            [("start_day", "'02-30': month 2 has no day 30")],
        ),
    ]
    for body, expected in cases:
        response = client.post("/api/v1/dimming/calendar", json=base | body, headers=manager)
        assert response.status_code == 422, body
        assert [(e["field"], e["message"]) for e in response.json()["errors"]] == expected
    malformed = client.post(
        "/api/v1/dimming/calendar",
        json=base | {"kind": "yearly", "start_day": "1-24", "end_day": "02-01"},
        headers=manager,
    )
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "start_day"


# --- overrides ----------------------------------------------------------------------


def test_an_override_is_set_listed_and_cancelled(client, db, manager, tech, town):
    now = datetime.now(UTC)
    body = {
        "target_kind": "street",
        "target": "Rue des Tilleuls",
        "level": 100,
        "expires_at": (now + timedelta(hours=2)).isoformat(),
        "reason": "road works",
    }
    response = client.post("/api/v1/dimming/overrides", json=body, headers=manager)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["state"], created["level"], created["created_by"]) == ("active", 100, "mathilde")
    later = client.post(
        "/api/v1/dimming/overrides",
        headers=manager,
        json=body
        | {"starts_at": (now + timedelta(hours=5)).isoformat(), "expires_at": (now + timedelta(hours=6)).isoformat()},
    )
    assert later.json()["state"] == "scheduled"

    listed = client.get("/api/v1/dimming/overrides", headers=tech).json()
    assert [o["id"] for o in listed] == [created["id"], later.json()["id"]]
    cancelled = client.post(f"/api/v1/dimming/overrides/{created['id']}/cancel", headers=manager)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.post(f"/api/v1/dimming/overrides/{created['id']}/cancel", headers=manager).status_code == 200
    assert [o["id"] for o in client.get("/api/v1/dimming/overrides", headers=tech).json()] == [later.json()["id"]]
    everything = client.get("/api/v1/dimming/overrides", params={"include_past": "true"}, headers=tech).json()
    assert [o["state"] for o in everything] == ["scheduled", "cancelled"]
    assert len(audit_entries(db, "dimming.override.create")) == 2
    assert [
        (before, after["cancelled_at"] is not None)
        for _, _, before, after in audit_entries(db, "dimming.override.cancel")
    ] == [({"cancelled_at": None}, True)]
    assert client.post("/api/v1/dimming/overrides/999/cancel", headers=manager).status_code == 404


def test_an_override_must_end_in_the_future_and_be_temporary(client, manager, town):
    now = datetime.now(UTC)
    base = {"target_kind": "town", "level": 0}
    past = client.post(
        "/api/v1/dimming/overrides",
        json=base | {"expires_at": (now - timedelta(minutes=1)).isoformat()},
        headers=manager,
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expires_at"
    long = client.post(
        "/api/v1/dimming/overrides", json=base | {"expires_at": (now + timedelta(days=40)).isoformat()}, headers=manager
    )
    assert long.status_code == 422 and "at most 31 days" in long.json()["errors"][0]["message"]
    naive = client.post("/api/v1/dimming/overrides", json=base | {"expires_at": "2030-01-01T00:00:00"}, headers=manager)
    assert naive.status_code == 422
    level = client.post(
        "/api/v1/dimming/overrides",
        json=base | {"level": 101, "expires_at": (now + timedelta(hours=1)).isoformat()},
        headers=manager,
    )
    assert level.status_code == 422 and level.json()["errors"][0]["field"] == "level"


# --- one lamp -----------------------------------------------------------------------


def test_a_lamp_shows_the_rule_that_gives_it_its_profile(client, db, manager, tech, town):
    residential = create_profile(client, manager)
    full = create_profile(client, manager, name="Full", steps=[STEPS[0], STEPS[-1]])
    none = client.get("/api/v1/lamps/A1/dimming", headers=tech).json()
    assert none["rule"]["source"] == "none" and none["located"] is True

    client.post(
        "/api/v1/dimming/assignments", json={"target_kind": "town", "profile_id": residential["id"]}, headers=manager
    )
    group = client.post(
        "/api/v1/dimming/assignments",
        json={"target_kind": "group", "target": "centre", "profile_id": full["id"]},
        headers=manager,
    ).json()
    shown = client.get("/api/v1/lamps/A1/dimming", headers=tech).json()
    assert shown["rule"] == {
        "source": "group",
        "rule_id": group["id"],
        "profile_id": full["id"],
        "profile_name": "Full",
        "profile_version": 1,
        "description": 'assigned to group "centre": profile "Full" version 1',
    }
    assert client.get("/api/v1/lamps/B1/dimming", headers=tech).json()["rule"]["source"] == "town"

    now = datetime.now(UTC)
    override = client.post(
        "/api/v1/dimming/overrides",
        headers=manager,
        json={"target_kind": "lamp", "target": "A1", "level": 70, "expires_at": (now + timedelta(hours=3)).isoformat()},
    ).json()
    shown = client.get("/api/v1/lamps/A1/dimming", params={"hours": 2}, headers=tech).json()
    assert (shown["rule"]["source"], shown["rule"]["rule_id"]) == ("override", override["id"])
    assert [p["level"] for p in shown["points"]] == [70, 70]  # now and two hours on, all under the override
    assert shown["latest_push"] is None


def test_a_lamp_shows_its_latest_push_and_answer(client, db, tech, town):
    plan = {
        "version": 3,
        "generated_at": "2026-11-25T12:00:00Z",
        "points": [{"at": "2026-11-25T16:00:00Z", "level": 100}, {"at": "2026-11-26T07:00:00Z", "level": 0}],
    }
    for version, status in ((2, "applied"), (3, "rejected")):
        db.execute(
            """INSERT INTO plan_pushes (lamp_id, version, plan, pushed_at, attempts, ack_status, ack_reason, acked_at)
               VALUES ('A1', %s, %s, now(), 1, %s, %s, now())""",
            (version, psycopg.types.json.Jsonb(plan), status, "too many points" if status == "rejected" else None),
        )
    push = client.get("/api/v1/lamps/A1/dimming", headers=tech).json()["latest_push"]
    assert (push["version"], push["ack_status"], push["ack_reason"], push["points"]) == (
        3,
        "rejected",
        "too many points",
        2,
    )


def test_a_lamp_without_coordinates_has_a_rule_but_no_points(client, tech, town):
    shown = client.get("/api/v1/lamps/N1/dimming", headers=tech).json()
    assert (shown["located"], shown["points"], shown["rule"]["source"]) == (False, [], "none")
    assert client.get("/api/v1/lamps/Z9/dimming", headers=tech).status_code == 404
    assert client.get("/api/v1/lamps/A1/dimming", params={"hours": 0}, headers=tech).status_code == 422


def test_the_points_shown_cover_the_hours_asked(client, manager, tech, town):
    created = create_profile(client, manager)
    client.post(
        "/api/v1/dimming/assignments", json={"target_kind": "town", "profile_id": created["id"]}, headers=manager
    )
    points = client.get("/api/v1/lamps/A1/dimming", params={"hours": 48}, headers=tech).json()["points"]
    first, last = (datetime.fromisoformat(points[i]["at"]) for i in (0, -1))
    assert last - first == timedelta(hours=48)
    # two nights: on at dusk, 40 % at 23:00, 100 % at 05:00, off at dawn
    levels = [p["level"] for p in points[1:-1]]
    assert levels.count(40) == 2 and levels.count(0) >= 1


# --- notifications ------------------------------------------------------------------


def test_every_change_notifies_the_scheduler(client, db, manager, town):
    db.execute(f"LISTEN {NOTIFY_CHANNEL}")
    created = create_profile(client, manager)
    pid = created["id"]
    client.put(f"/api/v1/dimming/profiles/{pid}", json=PROFILE | {"version": 1}, headers=manager)
    copy = client.post(f"/api/v1/dimming/profiles/{pid}/copy", json={"name": "B"}, headers=manager).json()
    client.post(f"/api/v1/dimming/profiles/{copy['id']}/retire", headers=manager)
    assignment = client.post(
        "/api/v1/dimming/assignments", json={"target_kind": "town", "profile_id": pid}, headers=manager
    ).json()
    client.delete(f"/api/v1/dimming/assignments/{assignment['id']}", headers=manager)
    exception = client.post(
        "/api/v1/dimming/calendar",
        headers=manager,
        json={"name": "NYE", "profile_id": pid, "kind": "yearly", "start_day": "12-31", "end_day": "12-31"},
    ).json()
    client.put(
        f"/api/v1/dimming/calendar/{exception['id']}",
        headers=manager,
        json={"name": "NYE", "profile_id": pid, "kind": "yearly", "start_day": "12-31", "end_day": "01-01"},
    )
    client.delete(f"/api/v1/dimming/calendar/{exception['id']}", headers=manager)
    override = client.post(
        "/api/v1/dimming/overrides",
        headers=manager,
        json={"target_kind": "town", "level": 50, "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
    ).json()
    client.post(f"/api/v1/dimming/overrides/{override['id']}/cancel", headers=manager)
    # a refused change says nothing
    client.post("/api/v1/dimming/profiles", json=PROFILE, headers=manager)

    aid, eid, oid = assignment["id"], exception["id"], override["id"]
    assert notifications(db) == [
        f"profile:{pid}",
        f"profile:{pid}",
        f"profile:{copy['id']}",
        f"profile:{copy['id']}",
        f"assignment:{aid}",
        f"assignment:{aid}",
        f"calendar:{eid}",
        f"calendar:{eid}",
        f"calendar:{eid}",
        f"override:{oid}",
        f"override:{oid}",
    ]
