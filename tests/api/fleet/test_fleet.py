"""Fleet summary on every storage backend: counts by state and connection, lamps out, energy, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from api.fleet.queries import calendar_periods, energy_wh
from api.fleet.schemas import FleetMap, FleetSummary
from api.fleet.summary import SummaryCache
from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import (
    add_dead_letter,
    add_event,
    add_reading,
    add_unknown_lamp,
    api_client,
    bearer,
    make_lamp,
    set_status,
)
from tests.helpers import wait_until

PARIS = ZoneInfo("Europe/Paris")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("at", "day", "month"),
    [
        (
            "2026-11-25T12:00:00Z",
            ("2026-11-24T23:00:00Z", "2026-11-25T23:00:00Z"),
            ("2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"),
        ),
        # the day summer time ends lasts 25 hours
        (
            "2026-10-25T12:00:00Z",
            ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
            ("2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"),
        ),
        # 23:30 UTC on New Year's Eve is already January in Paris
        (
            "2026-12-31T23:30:00Z",
            ("2026-12-31T23:00:00Z", "2027-01-01T23:00:00Z"),
            ("2026-12-31T23:00:00Z", "2027-01-31T23:00:00Z"),
        ),
        (
            "2027-03-28T00:30:00Z",
            ("2027-03-27T23:00:00Z", "2027-03-28T22:00:00Z"),
            ("2027-02-28T23:00:00Z", "2027-03-31T22:00:00Z"),
        ),
    ],
)
def test_calendar_periods_follow_the_towns_midnights(at, day, month):
    periods = calendar_periods(utc(at), PARIS)
    assert (periods.day_start, periods.day_end) == tuple(utc(t) for t in day)
    assert (periods.month_start, periods.month_end) == tuple(utc(t) for t in month)


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def test_energy_is_the_rise_of_each_lamps_counter_within_the_period_summed(db):
    for lamp_id in ("E1", "E2", "E3"):
        make_lamp(db, lamp_id)
    rows = [
        ("E1", "2026-10-31T22:59:00Z", 0.0),  # 23:59 on 31 October in Paris: last month
        ("E1", "2026-10-31T23:00:00Z", 1000.0),  # midnight, 1 November
        ("E1", "2026-11-24T22:59:00Z", 3000.0),  # yesterday
        ("E1", "2026-11-24T23:00:00Z", 3500.0),  # today's first
        ("E1", "2026-11-25T10:00:00Z", 3900.0),
        ("E2", "2026-11-10T12:00:00Z", 10000.0),
        ("E2", "2026-11-25T11:00:00Z", 10600.0),  # a single reading today: nothing used today
    ]
    for lamp_id, ts, wh in rows:
        add_reading(db, lamp_id, utc(ts), energy_wh=wh)
    add_reading(db, "E3", utc("2026-11-25T09:00:00Z"), power_w=50.0)  # no energy reported
    with psycopg.connect(db.info.dsn, row_factory=dict_row) as conn:
        energy = energy_wh(conn, calendar_periods(utc("2026-11-25T12:00:00Z"), PARIS))
    assert energy == {"day_wh": 400.0, "month_wh": 2900.0 + 600.0}


def test_the_summary_counts_states_connections_lamps_out_energy_and_dead_letters(db, database_url):
    states = {
        "E1": "in_service",
        "E2": "in_service",
        "E3": "in_service",
        "F1": "faulty",
        "R1": "retired",
        "P1": "planned",
    }
    for lamp_id, state in states.items():
        make_lamp(db, lamp_id, state=state)
    for lamp_id, online in (("E1", True), ("E2", False), ("F1", True), ("R1", False)):
        set_status(db, lamp_id, online)
    now = datetime.now(UTC)
    add_event(db, "E3", now - timedelta(days=2), "lamp_failure")  # open: E3 is out though still in_service
    add_event(db, "E2", now - timedelta(days=3), "lamp_failure")
    add_event(db, "E2", now - timedelta(days=2), "repaired")  # closed
    add_event(db, "R1", now - timedelta(days=1), "lamp_failure")  # retired lamps do not count
    add_event(db, "E1", now - timedelta(days=1), "day_burning")  # not a failure

    periods = calendar_periods(now, PARIS)
    add_reading(db, "E1", periods.month_start - timedelta(minutes=1), energy_wh=0.0)  # before the month
    add_reading(db, "E1", periods.day_start + timedelta(minutes=1), energy_wh=5000.0)
    add_reading(db, "E1", periods.day_start + timedelta(minutes=2), energy_wh=5400.0)
    add_reading(db, "E2", periods.day_start + timedelta(minutes=1), energy_wh=100.0)
    add_reading(db, "E2", periods.day_start + timedelta(minutes=3), energy_wh=350.0)

    add_dead_letter(db, "invalid_json", b"{", received_at=now - timedelta(hours=1))
    add_dead_letter(db, "unknown_lamp", b"{}", received_at=now - timedelta(hours=23))
    add_dead_letter(db, "invalid_json", b"{", received_at=now - timedelta(hours=25))
    add_unknown_lamp(db, "U1")
    add_unknown_lamp(db, "U2", status="dismissed")

    auth = bearer(make_user(db, Role.ENERGY_MANAGER))
    with api_client(database_url, settings=Settings(town_timezone="Europe/Paris")) as client:
        response = client.get("/api/v1/fleet/summary", headers=auth)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["time_zone"] == "Europe/Paris"
    assert summary["lamps_total"] == 6
    assert summary["lamps_by_state"] == {"planned": 1, "in_service": 3, "faulty": 1, "under_repair": 0, "retired": 1}
    assert summary["connectivity"] == {"online": 2, "offline": 1, "unknown": 2}  # R1 is retired
    assert summary["lamps_out"] == 2  # F1 (faulty) and E3 (open failure)
    assert summary["energy"]["today_kwh"] == pytest.approx(0.65)
    assert summary["energy"]["month_kwh"] == pytest.approx(0.65)
    assert datetime.fromisoformat(summary["energy"]["today_from"]) == periods.day_start
    assert datetime.fromisoformat(summary["energy"]["month_from"]) == periods.month_start
    assert summary["dead_letters_24h"] == 2
    assert summary["unknown_lamps_pending"] == 1


def test_an_empty_fleet_has_zeros(db, database_url):
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(database_url) as client:
        summary = client.get("/api/v1/fleet/summary", headers=auth).json()
    assert summary["lamps_total"] == 0 and summary["lamps_out"] == 0
    assert summary["energy"]["today_kwh"] == 0 and summary["energy"]["month_kwh"] == 0
    assert summary["connectivity"] == {"online": 0, "offline": 0, "unknown": 0}


def test_the_summary_answers_what_its_schema_says(db, database_url):
    make_lamp(db, "E1")
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(database_url) as client:
        response = client.get("/api/v1/fleet/summary", headers=auth)
    assert response.headers["content-type"] == "application/json"
    assert FleetSummary.model_validate(response.json()).lamps_total == 1


def summary_total(client, auth) -> int:
    response = client.get("/api/v1/fleet/summary", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["lamps_total"]


def test_a_stale_summary_is_answered_at_once_while_a_new_one_is_computed(db, database_url):
    make_lamp(db, "E1")
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(database_url) as client:
        client.app.state.fleet_summary = cache = SummaryCache(max_age_s=0)  # always stale
        assert summary_total(client, auth) == 1  # the first caller waits for the first summary
        make_lamp(db, "E2")
        # While the inventory is locked, a refresh cannot read it; callers still get the last summary.
        with psycopg.connect(database_url) as locker:
            locker.execute("LOCK TABLE lamps IN ACCESS EXCLUSIVE MODE")
            assert summary_total(client, auth) == 1  # starts a refresh, which now waits for the lock
            assert summary_total(client, auth) == 1  # and is not started twice
            locker.rollback()
        wait_until(lambda: summary_total(client, auth) == 2, 30, what="the refreshed summary")
    assert cache.refresh_failures == 0


def test_a_failed_refresh_keeps_the_last_summary(db, database_url):
    make_lamp(db, "E1")
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(database_url) as client:
        client.app.state.fleet_summary = cache = SummaryCache(max_age_s=0)
        assert summary_total(client, auth) == 1
        db.execute("ALTER TABLE dead_letters RENAME TO dead_letters_away")  # the next refresh fails
        try:
            assert summary_total(client, auth) == 1
            wait_until(lambda: cache.refresh_failures >= 1, 30, what="the failed refresh")
            assert summary_total(client, auth) == 1
        finally:
            db.execute("ALTER TABLE dead_letters_away RENAME TO dead_letters")
        make_lamp(db, "E2")
        wait_until(lambda: summary_total(client, auth) == 2, 30, what="a refresh after the failure")


def test_the_map_has_every_placed_lamp_as_parallel_arrays_in_id_order(db, database_url):
    make_lamp(db, "M2", lat=48.8566123456, lon=2.3522987654, state="faulty")
    make_lamp(db, "M1", lat=48.85, lon=2.35)
    make_lamp(db, "M3", lat=-33.5, lon=-70.25, state="retired")
    make_lamp(db, "M4", state="planned")  # no coordinates yet
    make_lamp(db, "M5", lat=48.9)  # half a position is no position
    set_status(db, "M1", True)
    set_status(db, "M2", False)
    auth = bearer(make_user(db, Role.ENERGY_MANAGER))
    with api_client(database_url) as client:
        response = client.get("/api/v1/fleet/map", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    FleetMap.model_validate(body)
    assert (body["lamps"], body["without_position"]) == (3, 2)
    assert body["lamp_id"] == ["M1", "M2", "M3"]
    assert body["lat"] == [48.85, 48.856612, -33.5]
    assert body["lon"] == [2.35, 2.352299, -70.25]
    assert [body["states"][i] for i in body["state"]] == ["in_service", "faulty", "retired"]
    assert body["online"] == [True, False, None]
    generated_at = datetime.fromisoformat(body["generated_at"])
    assert abs(datetime.now(UTC) - generated_at) < timedelta(minutes=5)


def test_an_empty_fleet_has_an_empty_map(db, database_url):
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(database_url) as client:
        body = client.get("/api/v1/fleet/map", headers=auth).json()
    assert (body["lamps"], body["without_position"]) == (0, 0)
    assert body["lamp_id"] == body["lat"] == body["lon"] == body["state"] == body["online"] == []
