"""Measured consumption from energy counters, on every storage backend, against hand-made readings:
plain differences, a counter reset, a gap across the turn of a month, groups kept apart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from dimming.consumption import group_names, group_place, measured_consumption, rated_lamps
from tests.api.fleet_factories import add_reading, make_lamp

PARIS = ZoneInfo("Europe/Paris")
UTC = UTC


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


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
