"""Measured consumption from energy counters, on every storage backend, against hand-made readings:
plain differences, a counter reset, a gap across the turn of a month, groups kept apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from dimming import store
from dimming.consumption import (
    consumption_by_group_month,
    group_names,
    group_place,
    measured_consumption,
    rated_lamps,
)
from dimming.energy_daily import refresh_energy_days
from dimming.profiles import ProfileSpec
from dimming.sun import twilight_times
from tests.api.fleet_factories import add_reading, make_lamp

PARIS = ZoneInfo("Europe/Paris")
UTC = UTC


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def counter(db, lamp_id: str, readings: list[tuple[datetime, float | None]]) -> None:
    for ts, energy_wh in readings:
        add_reading(db, lamp_id, ts, energy_wh=energy_wh, power_w=50.0)


def by_period(rows):
    return {(row.group_name, row.period): (round(row.measured_kwh, 6), row.lamps) for row in rows}


def test_counter_differences_with_a_reset_and_a_gap(db):
    make_lamp(db, "A1", group_name="centre", rated_power_w=100.0)
    make_lamp(db, "A2", group_name="centre", rated_power_w=100.0)
    make_lamp(db, "B1", group_name="port", rated_power_w=50.0)
    # A1: 1000 Wh over two nights in January, then a reset (the counter restarts at 0) and 300 Wh after it.
    counter(
        db,
        "A1",
        [
            (local(2027, 1, 10, 18), 50_000.0),
            (local(2027, 1, 11, 6), 50_600.0),  # +600
            (local(2027, 1, 11, 18), 50_600.0),  # day: +0
            (local(2027, 1, 12, 6), 51_000.0),  # +400
            (local(2027, 1, 12, 18), None),  # a reading without a counter is skipped
            (local(2027, 1, 13, 6), 300.0),  # reset: 300 since the restart
        ],
    )
    # A2: silent for ten days across the turn of the month: 1000 Wh from 27 Jan 00:00 to 6 Feb 00:00
    # (local) is shared out by time: 5 days in January, 5 in February.
    counter(
        db,
        "A2",
        [
            (local(2027, 1, 27, 0), 10_000.0),
            (local(2027, 2, 6, 0), 11_000.0),
            (local(2027, 2, 7, 0), 11_250.0),  # +250 in February
        ],
    )
    # B1 in another group: 200 Wh in February.
    counter(db, "B1", [(local(2027, 2, 1, 18), 7_000.0), (local(2027, 2, 2, 7), 7_200.0)])

    rows = measured_consumption(db, local(2027, 1, 1), local(2027, 3, 1), time_zone="Europe/Paris")

    assert by_period(rows) == {
        ("centre", date(2027, 1, 1)): (1.0 + 0.3 + 0.5, 2),
        ("centre", date(2027, 2, 1)): (0.5 + 0.25, 1),
        ("port", date(2027, 2, 1)): (0.2, 1),
    }


def test_one_group_and_daily_periods(db):
    make_lamp(db, "A1", group_name="centre")
    make_lamp(db, "B1", group_name="port")
    counter(db, "A1", [(local(2027, 1, 10, 18), 0.0), (local(2027, 1, 11, 6), 600.0)])
    # From 22:00 to 02:00 local: half before midnight, half after.
    counter(db, "B1", [(local(2027, 1, 10, 22), 100.0), (local(2027, 1, 11, 2), 500.0)])

    rows = measured_consumption(
        db, local(2027, 1, 10), local(2027, 1, 12), time_zone="Europe/Paris", period="day", group_name="port"
    )

    assert by_period(rows) == {("port", date(2027, 1, 10)): (0.2, 1), ("port", date(2027, 1, 11)): (0.2, 1)}


def test_a_difference_reaching_back_before_the_range_counts_for_its_part_inside(db):
    make_lamp(db, "A1", group_name="centre")
    # 30 Jan 00:00 to 3 Feb 00:00 local: 2 of the 4 days fall in February.
    counter(db, "A1", [(local(2027, 1, 30), 0.0), (local(2027, 2, 3), 4_000.0)])

    rows = measured_consumption(db, local(2027, 2, 1), local(2027, 3, 1), time_zone="Europe/Paris")

    assert by_period(rows) == {("centre", date(2027, 2, 1)): (2.0, 1)}


def test_months_follow_the_town_zone_not_utc(db):
    make_lamp(db, "A1", group_name="centre")
    # 31 Jan 23:30 UTC is already 1 Feb 00:30 in Paris: the whole difference is February's.
    counter(
        db, "A1", [(datetime(2027, 1, 31, 23, 15, tzinfo=UTC), 0.0), (datetime(2027, 1, 31, 23, 45, tzinfo=UTC), 30.0)]
    )

    rows = measured_consumption(db, local(2027, 1, 1), local(2027, 3, 1), time_zone="Europe/Paris")

    assert by_period(rows) == {("centre", date(2027, 2, 1)): (0.03, 1)}


def test_no_readings_no_rows(db):
    make_lamp(db, "A1", group_name="centre")
    assert measured_consumption(db, local(2027, 1, 1), local(2027, 2, 1), time_zone="Europe/Paris") == []


def test_inventory_helpers(db):
    make_lamp(db, "A1", group_name="centre", rated_power_w=100.0, lat=48.0, lon=2.0)
    make_lamp(db, "A2", group_name="centre", rated_power_w=60.0, lat=49.0, lon=3.0)
    make_lamp(db, "B1", group_name="port")
    make_lamp(db, "R1", group_name="gone", state="retired", rated_power_w=70.0)

    assert [(lamp.lamp_id, lamp.group_name, lamp.rated_power_w) for lamp in rated_lamps(db)] == [
        ("A1", "centre", 100.0),
        ("A2", "centre", 60.0),
        ("B1", "port", None),
    ]
    assert [lamp.lamp_id for lamp in rated_lamps(db, "port")] == ["B1"]
    assert group_names(db) == ["centre", "port"]
    assert group_place(db, "centre") == pytest.approx((48.5, 2.5))
    assert group_place(db, "port") is None


# --- measured against full power and the plan, for the same lamps and hours ----------------------

PARIS_LAT, PARIS_LON = 48.8566, 2.3522
HALF = 0.03 + 0.97 * 0.5  # the power model at 50 %
HALF_FROM_23_TO_05 = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
PRICE, EMISSION = 0.2, 52.0


def town_follows_half_from_23_to_05(db) -> None:
    spec = ProfileSpec(name="Half 23-05", twilight="sunset", steps=HALF_FROM_23_TO_05)
    store.assign(db, "town", "", store.create_profile(db, spec, "test")["id"], "test")


def paris_lamp(db, lamp_id: str, group_name: str, rated_power_w: float) -> None:
    make_lamp(db, lamp_id, group_name=group_name, lat=PARIS_LAT, lon=PARIS_LON, rated_power_w=rated_power_w)


def report(db, months, now, group_name=None):
    """The answer once the months are counted (the background count's work, dimming.energy_jobs)."""
    refresh_energy_days(db, date(*months[0], 1), date(*months[-1], 28) + timedelta(days=4), PARIS)
    return consumption_by_group_month(
        db, months, PARIS, group_name, price_eur_per_kwh=PRICE, emission_g_co2_per_kwh=EMISSION, now=now
    )


def figures(row):
    c = row.coverage
    return (
        c.lamps,
        c.lamps_reporting,
        round(c.lamp_hours, 6),
        round(c.measured_lamp_hours, 6),
        row.full_kwh,
        row.estimated_kwh,
        row.measured_kwh,
        row.saved_kwh,
        row.cost_saved_eur,
        row.co2_saved_kg,
    )


@pytest.fixture
def january(db):
    """Readings deep in January nights (no twilight in them), worked out by hand below."""
    town_follows_half_from_23_to_05(db)
    paris_lamp(db, "C1", "centre", 100.0)
    paris_lamp(db, "C2", "centre", 50.0)
    paris_lamp(db, "P1", "port", 200.0)
    paris_lamp(db, "P2", "port", 100.0)  # never reports
    # C1, 8 h from 20:00 to 04:00: 600 Wh measured; full 800 Wh; planned 3 h at 100 % + 5 h at 50 %.
    counter(
        db,
        "C1",
        [
            (local(2026, 1, 15, 20), 1000.0),
            (local(2026, 1, 15, 22), 1200.0),
            (local(2026, 1, 16, 2), 1500.0),  # across midnight: shared 2 h / 2 h between the days
            (local(2026, 1, 16, 4), 1600.0),
        ],
    )
    # C2: 21:00-23:00 (60 Wh, full and planned 100 Wh), a reset (23:00-01:00 unknown: not counted at all),
    # then 01:00-03:00 (40 Wh; full 100 Wh, planned 2 h at 50 %).
    counter(
        db,
        "C2",
        [
            (local(2026, 1, 20, 21), 500.0),
            (local(2026, 1, 20, 23), 560.0),
            (local(2026, 1, 21, 1), 10.0),
            (local(2026, 1, 21, 3), 50.0),
        ],
    )
    # P1: 00:00-02:00 at 50 % planned, 200 Wh measured, full 400 Wh.
    counter(db, "P1", [(local(2026, 1, 10, 0), 5000.0), (local(2026, 1, 10, 2), 5200.0)])


def test_full_power_and_plan_for_the_hours_measured_per_group_month_and_town(db, january):
    result = report(db, [(2026, 1), (2026, 2)], now=local(2026, 3, 5))

    c1_planned, c2_planned, p1_planned = 300 + 5 * 100 * HALF, 100 + 2 * 50 * HALF, 2 * 200 * HALF
    jan_h, feb_h = 31 * 24, 28 * 24
    assert [(row.group, row.month) for row in result.rows] == [
        ("centre", "2026-01"),
        ("centre", "2026-02"),
        ("port", "2026-01"),
        ("port", "2026-02"),
    ]
    centre_jan, centre_feb, port_jan, port_feb = result.rows
    assert figures(centre_jan) == pytest.approx(
        (2, 2, 2 * jan_h, 8 + 4, 1.0, (c1_planned + c2_planned) / 1000, 0.7, 0.3, 0.06, 0.016)
    )
    assert figures(port_jan) == pytest.approx((2, 1, 2 * jan_h, 2, 0.4, p1_planned / 1000, 0.2, 0.2, 0.04, 0.010))
    for unmeasured in (centre_feb, port_feb):
        assert figures(unmeasured) == (2, 0, 2 * feb_h, 0.0, 0.0, 0.0, None, None, None, None)
        assert unmeasured.coverage.partial and unmeasured.coverage.share == 0.0
    assert centre_jan.coverage.share == pytest.approx(12 / (2 * jan_h))
    assert centre_jan.coverage.partial

    [town_jan, town_feb] = result.months
    assert (town_jan.group, town_jan.month, town_feb.month) == (None, "2026-01", "2026-02")
    jan_planned = (c1_planned + c2_planned + p1_planned) / 1000
    assert figures(town_jan) == pytest.approx((4, 3, 4 * jan_h, 14, 1.4, jan_planned, 0.9, 0.5, 0.1, 0.026))
    assert figures(result.total) == pytest.approx(
        (4, 3, 4 * (jan_h + feb_h), 14, 1.4, jan_planned, 0.9, 0.5, 0.1, 0.026)
    )
    assert result.total.month == "2026-01/2026-02"


def test_one_group_and_a_month_not_yet_begun(db, january):
    result = report(db, [(2026, 1), (2026, 2)], now=local(2026, 1, 31, 12), group_name="port")

    assert [(row.group, row.month) for row in result.rows] == [("port", "2026-01")]
    [row] = result.rows
    assert row.coverage.lamp_hours == pytest.approx(2 * (30 * 24 + 12))  # 30.5 days gone by
    assert (row.measured_kwh, row.saved_kwh) == (0.2, 0.2)


def test_a_month_measured_throughout_is_complete_and_twilight_counts_night_hours_only(db):
    town_follows_half_from_23_to_05(db)
    paris_lamp(db, "F1", "avenue", 100.0)
    # Every 6 h through February, from its first local midnight to the next month's: 10 Wh an hour.
    readings = [(local(2026, 2, 1) + timedelta(hours=6 * k), 60.0 * k) for k in range(28 * 4 + 1)]
    counter(db, "F1", readings)

    [row] = report(db, [(2026, 2)], now=local(2026, 3, 5)).rows

    place = (round(PARIS_LAT, 2), round(PARIS_LON, 2))  # sun times are shared per place to 0.01°
    night_h = sum(
        (sun.dawn - sun.dusk).total_seconds() / 3600
        for sun in (twilight_times(*place, date(2026, 1, 31) + timedelta(days=k), PARIS, "sunset") for k in range(29))
    )
    # The night of 31 January ends in February, that of 28 February runs on into March.
    last = twilight_times(*place, date(2026, 2, 28), PARIS, "sunset")
    first = twilight_times(*place, date(2026, 1, 31), PARIS, "sunset")
    night_h -= (last.dawn - local(2026, 3, 1)).total_seconds() / 3600
    night_h -= (local(2026, 2, 1) - first.dusk).total_seconds() / 3600
    dimmed_h = 28 * 6  # 23:00 to 05:00 every night (dawn is later, dusk earlier, all February)
    assert (row.coverage.share, row.coverage.partial) == (1.0, False)
    assert row.coverage.measured_lamp_hours == pytest.approx(28 * 24)
    assert row.measured_kwh == pytest.approx(28 * 24 * 10 / 1000)
    assert row.full_kwh == pytest.approx(100 * night_h / 1000, abs=1e-4)
    assert row.estimated_kwh == pytest.approx(100 * (night_h - dimmed_h * (1 - HALF)) / 1000, abs=1e-4)
