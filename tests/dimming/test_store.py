"""Dimming data round-trips on every storage backend, and the scheduler is told of each change on commit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from dimming import store
from dimming.calendar import CalendarException
from dimming.profiles import ProfileSpec, Step
from dimming.resolve import Assignment, Lamp, Override, Profile

STEPS = [
    Step(anchor="dusk", offset_min=0, level=100),
    Step(anchor="clock", time="23:00", level=40),
    Step(anchor="dawn", offset_min=0, level=0),
]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO lamps (lamp_id, lat, lon, group_name, street, circuit, lighting_class, state) VALUES
               ('A1', 48.85, 2.35, 'centre', 'Rue des Tilleuls', 'C1', 'M4', 'in_service'),
               ('A2', 48.86, 2.36, 'centre', '', '', '', 'faulty'),
               ('P1', 48.87, 2.37, 'centre', '', '', '', 'planned'),
               ('R1', 48.88, 2.38, 'centre', '', '', '', 'retired'),
               ('N1', NULL, NULL, 'centre', '', '', '', 'in_service')"""
        )
        yield conn


def spec(name: str = "Residential", steps=STEPS) -> ProfileSpec:
    return ProfileSpec(name=name, description="part night", twilight="civil", steps=steps)


def exception_values(profile_id: int, **changes) -> dict:
    return {
        "name": "Festival",
        "profile_id": profile_id,
        "kind": "yearly",
        "start_date": None,
        "end_date": None,
        "weekdays": None,
        "start_day": "01-24",
        "end_day": "02-01",
        "target_kind": "town",
        "target": "",
        "priority": 10,
    } | changes


def test_lamps_with_a_controller_and_coordinates_get_plans(conn):
    assert store.load_lamps(conn) == [
        Lamp("A1", 48.85, 2.35, "centre", "Rue des Tilleuls", "C1", "M4"),
        Lamp("A2", 48.86, 2.36, "centre"),
    ]


def test_a_profile_keeps_every_version(conn):
    created = store.create_profile(conn, spec(), "ana")
    assert (created["version"], created["twilight"], created["updated_by"]) == (1, "civil", "ana")
    assert [Step(**step) for step in created["steps"]] == STEPS
    before, after = store.update_profile(conn, created["id"], spec("Residential 2", STEPS[:1] + STEPS[2:]), 1, "bo")
    assert (before["version"], after["version"], after["name"], after["updated_by"]) == (1, 2, "Residential 2", "bo")
    versions = store.profile_versions(conn, created["id"])
    assert [(v["version"], v["name"], len(v["steps"]), v["created_by"]) for v in versions] == [
        (2, "Residential 2", 2, "bo"),
        (1, "Residential", 3, "ana"),
    ]
    with pytest.raises(store.Conflict, match="at version 2, not 1"):
        store.update_profile(conn, created["id"], spec(), 1, "cy")
    copy = store.copy_profile(conn, created["id"], "Copy", "cy")
    assert (copy["version"], copy["name"], copy["steps"]) == (1, "Copy", after["steps"])
    with pytest.raises(store.Conflict, match="already exists"):
        store.create_profile(conn, spec("Copy"), "cy")
    with pytest.raises(store.NotFound):
        store.get_profile(conn, 999)


def test_the_configuration_loads_as_the_resolver_takes_it(conn):
    residential = store.create_profile(conn, spec(), "ana")["id"]
    store.update_profile(conn, residential, spec(), 1, "ana")
    full = store.create_profile(conn, spec("Full", [STEPS[0], STEPS[2]]), "ana")["id"]
    retired = store.create_profile(conn, spec("Old"), "ana")["id"]
    store.retire_profile(conn, retired, "ana")
    town = store.assign(conn, "town", "", residential, "ana")[1]["id"]
    group = store.assign(conn, "group", "centre", full, "ana")[1]["id"]
    lamp = store.assign(conn, "lamp", "A1", full, "ana")[1]["id"]
    festival = store.create_exception(conn, exception_values(full), "ana")["id"]
    fridays = store.create_exception(
        conn,
        exception_values(
            residential,
            name="Fridays",
            kind="weekdays",
            weekdays=[5],
            start_day=None,
            end_day=None,
            target_kind="street",
            target="Rue des Tilleuls",
            priority=0,
        ),
        "ana",
    )["id"]
    christmas = store.create_exception(
        conn,
        exception_values(
            full,
            name="Christmas",
            kind="dates",
            start_date=date(2026, 12, 24),
            end_date=date(2026, 12, 26),
            start_day=None,
            end_day=None,
        ),
        "ana",
    )["id"]
    active = store.create_override(
        conn, "circuit", "C1", 100, NOW - timedelta(hours=1), NOW + timedelta(hours=1), "incident", "ana"
    )["id"]
    coming = store.create_override(
        conn, "lighting_class", "M4", 20, NOW + timedelta(days=1), NOW + timedelta(days=2), "", "ana"
    )["id"]
    store.create_override(conn, "town", "", 0, NOW - timedelta(hours=3), NOW - timedelta(hours=2), "over", "ana")
    cancelled = store.create_override(conn, "town", "", 0, NOW, NOW + timedelta(hours=5), "", "ana")["id"]
    store.cancel_override(conn, cancelled, "bo")

    config = store.load_config(conn, NOW)
    assert config.profiles == {
        residential: Profile(residential, "Residential", 2, "civil", tuple(STEPS)),
        full: Profile(full, "Full", 1, "civil", (STEPS[0], STEPS[2])),
    }
    assert sorted(config.assignments, key=lambda a: a.assignment_id) == [
        Assignment(town, "town", "", residential),
        Assignment(group, "group", "centre", full),
        Assignment(lamp, "lamp", "A1", full),
    ]
    assert sorted(config.exceptions, key=lambda e: e.exception_id) == [
        CalendarException(festival, "Festival", full, "yearly", start_day="01-24", end_day="02-01", priority=10),
        CalendarException(
            fridays, "Fridays", residential, "weekdays", weekdays=(5,), target_kind="street", target="Rue des Tilleuls"
        ),
        CalendarException(christmas, "Christmas", full, "dates", date(2026, 12, 24), date(2026, 12, 26), priority=10),
    ]
    assert config.overrides == (
        Override(active, "circuit", "C1", 100, NOW - timedelta(hours=1), NOW + timedelta(hours=1), "incident", "ana"),
        Override(coming, "lighting_class", "M4", 20, NOW + timedelta(days=1), NOW + timedelta(days=2), "", "ana"),
    )


def test_assignments_replace_and_profiles_in_use_stay(conn):
    first = store.create_profile(conn, spec(), "ana")["id"]
    second = store.create_profile(conn, spec("Second"), "ana")["id"]
    before, after = store.assign(conn, "group", "centre", first, "ana")
    assert before is None and after["profile_name"] == "Residential"
    before, after = store.assign(conn, "group", "centre", second, "bo")
    assert (before["profile_id"], after["profile_id"], after["id"]) == (first, second, before["id"])
    assert [a["profile_id"] for a in store.list_assignments(conn)] == [second]
    exception_id = store.create_exception(conn, exception_values(second), "ana")["id"]
    with pytest.raises(store.Conflict, match=r"assignment \d+ \(group centre\), calendar exception \d+ \(Festival\)"):
        store.retire_profile(conn, second, "ana")
    store.delete_assignment(conn, after["id"])
    store.delete_exception(conn, exception_id)
    _, retired = store.retire_profile(conn, second, "ana")
    assert retired["retired_at"] is not None
    with pytest.raises(store.InvalidTarget, match="retired"):
        store.assign(conn, "town", "", second, "ana")
    with pytest.raises(store.InvalidTarget, match="no lamp with circuit 'C7'"):
        store.assign(conn, "circuit", "C7", first, "ana")
    with pytest.raises(store.NotFound):
        store.delete_assignment(conn, after["id"])


def test_a_calendar_exception_is_changed_in_place(conn):
    profile = store.create_profile(conn, spec(), "ana")["id"]
    created = store.create_exception(conn, exception_values(profile), "ana")
    before, after = store.update_exception(
        conn, created["id"], exception_values(profile, end_day="02-02", target_kind="lamp", target="A1")
    )
    assert (before["end_day"], after["end_day"], after["target"], after["id"]) == (
        "02-01",
        "02-02",
        "A1",
        created["id"],
    )
    assert after["updated_at"] >= before["updated_at"]


def test_overrides_are_listed_current_first_and_cancelled_once(conn):
    ended = store.create_override(conn, "town", "", 0, NOW - timedelta(hours=2), NOW - timedelta(hours=1), "", "a")
    now_on = store.create_override(conn, "lamp", "A1", 80, NOW, NOW + timedelta(hours=1), "", "a")
    assert [o["id"] for o in store.list_overrides(conn, active_at=NOW)] == [now_on["id"]]
    assert [o["id"] for o in store.list_overrides(conn)] == [now_on["id"], ended["id"]]
    _, cancelled = store.cancel_override(conn, now_on["id"], "bo")
    assert cancelled["cancelled_by"] == "bo"
    again_before, again_after = store.cancel_override(conn, now_on["id"], "cy")
    assert again_before == again_after == cancelled
    with pytest.raises(store.InvalidTarget, match="after starts_at"):
        store.create_override(conn, "town", "", 0, NOW, NOW, "", "a")


def test_the_scheduler_hears_of_a_change_when_it_commits_and_not_if_it_rolls_back(database_url, conn):
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {store.NOTIFY_CHANNEL}")
        with psycopg.connect(database_url) as writer:
            profile = store.create_profile(writer, spec(), "ana")["id"]
            writer.rollback()
            assert [n.payload for n in listener.notifies(timeout=0.3)] == []
            profile = store.create_profile(writer, spec(), "ana")["id"]
            store.assign(writer, "town", "", profile, "ana")
            writer.commit()
        assert [n.payload for n in listener.notifies(timeout=1, stop_after=2)] == [f"profile:{profile}", "assignment:1"]
