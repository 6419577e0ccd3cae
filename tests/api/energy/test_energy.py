"""Energy endpoints against answers worked out by hand: the preview of an unsaved profile (with its
errors per step), a saved profile's curve and monthly estimate, and measured against estimated
consumption per group and month, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

import dimming
from core.vocabulary import Role
from dimming import store
from dimming.energy import power_fraction
from dimming.profiles import ProfileSpec
from tests.api.factories import make_user
from tests.api.fleet_factories import add_reading, bearer, make_lamp

PARIS = ZoneInfo("Europe/Paris")
LAT, LON = 48.8566, 2.3522
HALF = power_fraction(50)
HALF_FROM_23_TO_05 = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
FULL_NIGHT = [{"anchor": "dusk", "offset_min": 0, "level": 100}, {"anchor": "dawn", "offset_min": 0, "level": 0}]


@pytest.fixture
def manager(db):
    return bearer(make_user(db, Role.ENERGY_MANAGER))


@pytest.fixture
def technician(db):
    return bearer(make_user(db, Role.TECHNICIAN))


@pytest.fixture
def centre(db):
    """Group "centre": two lamps in Paris, 100 W and 50 W."""
    make_lamp(db, "C1", group_name="centre", lat=LAT, lon=LON, rated_power_w=100.0)
    make_lamp(db, "C2", group_name="centre", lat=LAT, lon=LON, rated_power_w=50.0)


def save_profile(db, name: str, steps: list[dict]) -> int:
    return store.create_profile(db, ProfileSpec(name=name, twilight="sunset", steps=steps), "test")["id"]


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


# --- preview ----------------------------------------------------------------------------------------


def test_preview_of_a_group_gives_the_curve_and_the_saving_of_its_lamps(client, technician, centre):
    response = client.post(
        "/api/v1/dimming/preview",
        headers=technician,
        json={"twilight": "sunset", "steps": HALF_FROM_23_TO_05, "date": "2027-01-15", "group": "centre"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    assert (body["lamps"], body["rated_power_w"], body["place"]) == (
        2,
        150.0,
        {"lat": LAT, "lon": LON, "group": "centre"},
    )
    levels = [point["level"] for point in body["points"]]
    assert levels == [100, 50, 100, 0]
    assert [point["at"][11:16] for point in body["points"][1:3]] == ["22:00", "04:00"]  # 23:00 and 05:00 in Paris
    assert body["points"][0]["at"] == body["dusk"] and body["points"][-1]["at"] == body["dawn"]
    assert body["night"]["saved_kwh"] == pytest.approx(6 * 150 * (1 - HALF) / 1000, abs=1e-4)
    assert body["night"]["full_kwh"] == pytest.approx(150 * body["night"]["night_hours"] / 1000, abs=1e-3)
    assert body["month"]["nights"] == 31
    assert body["month"]["saved_kwh"] == pytest.approx(31 * 6 * 150 * (1 - HALF) / 1000, abs=1e-3)
    saved = body["month"]["saved_kwh"]
    assert body["month_savings"] == pytest.approx(
        {"kwh": saved, "cost_eur": round(saved * 0.20, 2), "co2_kg": round(saved * 52 / 1000, 3)}, abs=1e-3
    )


def test_preview_names_the_steps_at_fault(client, manager, centre):
    steps = [
        {"anchor": "dusk", "offset_min": 0, "level": 100},
        {"anchor": "clock", "time": "23:00", "level": 150},
        {"anchor": "clock", "time": "25:00", "level": 40},
    ]
    response = client.post("/api/v1/dimming/preview", headers=manager, json={"steps": steps, "date": "2027-01-15"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["step"], e["field"]) for e in body["errors"]] == [(2, "level"), (3, "time")]
    assert body["errors"][0]["message"].startswith("step 2: ")
    assert (body["points"], body["night"], body["month"]) == ([], None, None)
    assert body["dusk"] is not None  # the place's night is still shown


def test_preview_at_a_place_without_a_power_is_for_one_100_w_lamp(client, manager):
    response = client.post(
        "/api/v1/dimming/preview",
        headers=manager,
        json={"steps": FULL_NIGHT, "date": "2027-01-15", "lat": LAT, "lon": LON},
    )

    body = response.json()
    assert (body["lamps"], body["rated_power_w"], body["place"]["group"]) == (0, 100.0, None)
    assert body["night"]["saved_kwh"] == 0
    assert body["night"]["dimmed_kwh"] == pytest.approx(body["night"]["night_hours"] / 10, abs=1e-3)


def test_preview_refuses_half_a_place_and_a_town_without_coordinates(client, manager):
    response = client.post("/api/v1/dimming/preview", headers=manager, json={"steps": FULL_NIGHT, "lat": LAT})
    assert response.status_code == 422
    assert "lon" in response.json()["detail"]
    response = client.post("/api/v1/dimming/preview", headers=manager, json={"steps": FULL_NIGHT, "group": "nowhere"})
    assert response.status_code == 404
    assert "give lat and lon" in response.json()["detail"]


# --- saved profiles -----------------------------------------------------------------------------------


def test_curve_of_a_saved_profile(client, db, manager, centre):
    profile_id = save_profile(db, "Residential", HALF_FROM_23_TO_05)

    response = client.get(
        "/api/v1/energy/curve",
        headers=manager,
        params={"profile_id": profile_id, "date": "2027-01-15", "group": "centre"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["profile_id"], body["profile_version"], body["name"]) == (profile_id, 1, "Residential")
    assert [point["level"] for point in body["points"]] == [100, 50, 100, 0]
    assert body["night"]["saved_kwh"] == pytest.approx(6 * 150 * (1 - HALF) / 1000, abs=1e-4)


def test_estimate_per_month_with_money_and_co2(client, db, manager, centre):
    profile_id = save_profile(db, "Residential", HALF_FROM_23_TO_05)

    response = client.get(
        "/api/v1/energy/estimate",
        headers=manager,
        params={"profile_id": profile_id, "group": "centre", "from": "2027-01", "to": "2027-02"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(m["month"], m["nights"]) for m in body["months"]] == [("2027-01", 31), ("2027-02", 28)]
    per_night = 6 * 150 * (1 - HALF) / 1000
    assert [m["saved_kwh"] for m in body["months"]] == pytest.approx([31 * per_night, 28 * per_night], abs=1e-3)
    assert body["total"]["saved_kwh"] == pytest.approx(59 * per_night, abs=1e-3)
    assert body["total_savings"]["cost_eur"] == pytest.approx(59 * per_night * 0.20, abs=0.01)
    assert body["total_savings"]["co2_kg"] == pytest.approx(59 * per_night * 0.052, abs=0.001)


def test_estimate_checks_its_parameters(client, db, manager, centre):
    assert client.get("/api/v1/energy/estimate", headers=manager, params={"profile_id": 999}).status_code == 404
    profile_id = save_profile(db, "Residential", HALF_FROM_23_TO_05)
    for params, field in (
        ({"from": "2027-13"}, "from"),
        ({"from": "2027-03", "to": "2027-01"}, "from"),
        ({"from": "2020-01", "to": "2027-01"}, "from"),
        # Months beyond the dates a night can be computed for (year 0 and 9999-12 answered 500).
        ({"from": "0000-01", "to": "0000-02"}, "from"),
        ({"to": "0001-06"}, "to"),
        ({"from": "9999-12", "to": "9999-12"}, "to"),
    ):
        response = client.get("/api/v1/energy/estimate", headers=manager, params={"profile_id": profile_id, **params})
        assert response.status_code == 422, (params, response.text)
        assert field in response.text


@pytest.mark.parametrize("day", ["1899-12-31", "3000-01-01", "9999-12-31"])
def test_a_night_beyond_the_dates_computed_is_refused(client, db, manager, centre, day):
    # The last day of Python's calendar has no next day for its dawn: it answered 500.
    profile_id = save_profile(db, "Residential", HALF_FROM_23_TO_05)
    curve = client.get("/api/v1/energy/curve", headers=manager, params={"profile_id": profile_id, "date": day})
    preview = client.post("/api/v1/dimming/preview", headers=manager, json={"steps": FULL_NIGHT, "date": day})
    for response, location in ((curve, "query"), (preview, "body")):
        assert response.status_code == 422, response.text
        assert [(e["location"], e["field"]) for e in response.json()["errors"]] == [(location, "date")]


def test_consumption_of_months_beyond_the_dates_computed_is_refused(client, manager):
    response = client.get("/api/v1/energy/consumption", headers=manager, params={"from": "9999-12", "to": "9999-12"})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["to"]


# --- measured consumption ----------------------------------------------------------------------------


@pytest.fixture
def metered_town(db, centre):
    """Centre dims to 50 % from 23:00 to 05:00; C1's counter: 8 h of one January 2026 night, with a reset."""
    profile_id = save_profile(db, "Half 23-05", HALF_FROM_23_TO_05)
    store.assign(db, "town", "", profile_id, "test")
    for ts, wh in (
        (local(2026, 1, 15, 20), 10_000.0),
        (local(2026, 1, 15, 22), 10_200.0),  # +200 Wh at full power
        (local(2026, 1, 16, 1), 100.0),  # reset: these 3 h are not counted at all
        (local(2026, 1, 16, 4), 250.0),  # +150 Wh, 3 h at 50 % planned
    ):
        add_reading(db, "C1", ts, energy_wh=wh)
    # What the service's background count would have done by then.
    dimming.refresh_energy_days(db, date(2026, 1, 1), date(2026, 3, 1), PARIS)


def test_consumption_compares_the_hours_measured(client, manager, metered_town):
    response = client.get("/api/v1/energy/consumption", headers=manager, params={"from": "2026-01", "to": "2026-01"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["price_eur_per_kwh"], body["emission_g_co2_per_kwh"]) == (
        "2026-01",
        "2026-01",
        0.2,
        52.0,
    )
    [row] = body["rows"]
    # 5 h measured of two lamps' 744 h; full power 5 h x 100 W; planned 2 h at 100 % and 3 h at 50 %.
    assert row == {
        "group": "centre",
        "month": "2026-01",
        "lamps": 2,
        "lamps_reporting": 1,
        "lamp_hours": 1488.0,
        "measured_lamp_hours": 5.0,
        "coverage": round(5 / 1488, 4),
        "partial": True,
        "full_kwh": 0.5,
        "estimated_kwh": pytest.approx((200 + 300 * HALF) / 1000),
        "measured_kwh": 0.35,
        "saved_kwh": 0.15,
        "cost_saved_eur": 0.03,
        "co2_saved_kg": 0.008,
    }
    assert body["months"] == [{k: v for k, v in row.items() if k != "group"}]
    assert body["summary"] == body["months"][0] | {"month": "2026-01/2026-01"}
    assert body["total"] == {"kwh": 0.15, "cost_eur": 0.03, "co2_kg": 0.008}


def test_consumption_as_csv(client, manager, metered_town):
    response = client.get(
        "/api/v1/energy/consumption", headers=manager, params={"from": "2026-01", "to": "2026-02", "format": "csv"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "consumption-2026-01-2026-02.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["group"], r["month"], r["lamps_reporting"], r["coverage"], r["partial"]) for r in rows] == [
        ("centre", "2026-01", "1", str(round(5 / 1488, 4)), "True"),
        ("centre", "2026-02", "0", "0.0", "True"),
    ]
    assert float(rows[0]["measured_kwh"]) == pytest.approx(0.35)
    assert rows[1]["measured_kwh"] == "" and rows[1]["saved_kwh"] == ""


def test_consumption_is_for_the_energy_staff(client, technician, metered_town):
    response = client.get("/api/v1/energy/consumption", headers=technician)
    assert response.status_code == 403
