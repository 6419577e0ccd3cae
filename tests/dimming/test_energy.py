"""The energy arithmetic against answers worked out by hand: the power model, a curve's energy,
a night's saving, a month of nights, daylight-saving nights, polar nights, money and CO2."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dimming import energy, energy_daily
from dimming.profiles import Step
from dimming.sun import twilight_times

PARIS = ZoneInfo("Europe/Paris")
PARIS_LAT, PARIS_LON = 48.8566, 2.3522
TROMSO_LAT, TROMSO_LON = 69.6492, 18.9553
HALF = energy.power_fraction(50)  # 0.515: 3 % fixed driver share + 97 % × 0.5


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def steps(*specs: tuple) -> list[Step]:
    made = []
    for spec in specs:
        anchor, when, level = spec
        if anchor == "clock":
            made.append(Step(anchor="clock", time=when, level=level))
        else:
            made.append(Step(anchor=anchor, offset_min=when, level=level))
    return made


FULL_NIGHT = steps(("dusk", 0, 100), ("dawn", 0, 0))
HALF_FROM_23_TO_05 = steps(("dusk", 0, 100), ("clock", "23:00", 50), ("clock", "05:00", 100), ("dawn", 0, 0))


# --- the power model ------------------------------------------------------------------------------


def test_power_is_linear_in_the_level_with_a_fixed_driver_share():
    assert energy.power_fraction(100) == 1.0
    assert energy.power_fraction(0) == 0.0  # switched off draws nothing
    assert energy.power_fraction(50) == pytest.approx(0.03 + 0.97 * 0.5)
    assert energy.power_fraction(1) == pytest.approx(0.03 + 0.0097)
    # Linear between any two lit levels: equal steps in level, equal steps in power.
    assert energy.power_fraction(80) - energy.power_fraction(60) == pytest.approx(
        energy.power_fraction(40) - energy.power_fraction(20)
    )


@pytest.mark.parametrize("level", [-1, 101])
def test_a_level_outside_0_to_100_is_refused(level):
    with pytest.raises(ValueError, match="level must be 0-100"):
        energy.power_fraction(level)


# --- curves and nights ----------------------------------------------------------------------------


def test_a_ten_hour_night_at_100_w_full_power_is_one_kwh():
    points = [(utc(2027, 1, 15, 18), 100), (utc(2027, 1, 16, 4), 0)]
    assert energy.curve_energy_wh(points, 100.0) == pytest.approx(1000.0)
    night = energy.night_estimate(date(2027, 1, 15), points, 10.0, 100.0)
    assert (night.full_kwh, night.dimmed_kwh, night.saved_kwh) == pytest.approx((1.0, 1.0, 0.0))


def test_half_light_from_23_to_05_saves_six_hours_of_the_dimmed_away_power():
    # Lit 18:00-07:00 (13 h); 50 % from 23:00 to 05:00 (6 h).
    points = [
        (utc(2027, 1, 15, 18), 100),
        (utc(2027, 1, 15, 23), 50),
        (utc(2027, 1, 16, 5), 100),
        (utc(2027, 1, 16, 7), 0),
    ]
    night = energy.night_estimate(date(2027, 1, 15), points, 13.0, 100.0)
    assert night.full_kwh == pytest.approx(1.3)
    assert night.dimmed_kwh == pytest.approx((7 * 100 + 6 * 100 * HALF) / 1000)
    assert night.saved_kwh == pytest.approx(6 * 100 * (1 - HALF) / 1000)  # 0.291 kWh
    assert night.saved_kwh == pytest.approx(0.291)


def test_the_energy_scales_with_the_total_rated_power():
    points = [(utc(2027, 1, 15, 18), 60), (utc(2027, 1, 16, 6), 0)]
    assert energy.curve_energy_wh(points, 5400.0) == pytest.approx(54 * energy.curve_energy_wh(points, 100.0))


def test_points_out_of_order_are_refused():
    with pytest.raises(ValueError, match="out of order"):
        energy.curve_energy_wh([(utc(2027, 1, 16, 4), 100), (utc(2027, 1, 15, 18), 0)], 100.0)


def test_night_length_and_polar_rules():
    assert energy.night_hours(utc(2027, 1, 15, 16), utc(2027, 1, 16, 7, 30), None) == 15.5
    assert energy.night_hours(None, None, "day") == 0.0
    assert energy.night_hours(None, None, "night") == 24.0


def test_a_curve_accumulates_night_seconds_and_full_power_seconds_of_the_plan():
    points = [(utc(2027, 1, 31, 16), 100), (utc(2027, 1, 31, 22), 50), (utc(2027, 2, 1, 7), 0)]
    nights = [(utc(2027, 1, 31, 17), utc(2027, 2, 1, 7))]

    found = energy_daily.curve(points, nights, utc(2027, 1, 31, 12), utc(2027, 2, 1, 12))

    hour = 3600.0
    assert found.at == [utc(2027, 1, 31, h) for h in (12, 16, 17, 22)] + [utc(2027, 2, 1, 7), utc(2027, 2, 1, 12)]
    assert found.night_rate == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert found.night_cum_s == [0.0, 0.0, 0.0, 5 * hour, 14 * hour, 14 * hour]
    assert found.plan_rate == [0.0, 1.0, 1.0, HALF, 0.0, 0.0]
    assert found.plan_cum_s == pytest.approx([0.0, 0.0, hour, 6 * hour, (6 + 9 * HALF) * hour, (6 + 9 * HALF) * hour])


# --- with the real sky ----------------------------------------------------------------------------


def test_full_night_profile_uses_exactly_full_power_from_dusk_to_dawn():
    day = date(2027, 1, 15)
    sun = twilight_times(PARIS_LAT, PARIS_LON, day, PARIS, "sunset")
    [night] = energy.estimate_nights(FULL_NIGHT, "sunset", [day], PARIS_LAT, PARIS_LON, PARIS, 100.0)
    hours = (sun.dawn - sun.dusk).total_seconds() / 3600
    assert 15 < hours < 16  # a mid-January night in Paris
    assert night.night_hours == pytest.approx(hours)
    assert night.full_kwh == pytest.approx(hours / 10)
    assert night.dimmed_kwh == pytest.approx(night.full_kwh)


def test_a_month_of_nights_in_paris_saves_the_same_six_hours_each_night():
    month = energy.estimate_month(HALF_FROM_23_TO_05, "sunset", 2027, 1, PARIS_LAT, PARIS_LON, PARIS, 100.0)
    assert month.nights == 31
    assert month.saved_kwh == pytest.approx(31 * 6 * 100 * (1 - HALF) / 1000)
    full = energy.estimate_month(FULL_NIGHT, "sunset", 2027, 1, PARIS_LAT, PARIS_LON, PARIS, 100.0)
    assert month.full_kwh == pytest.approx(full.dimmed_kwh)
    assert month.saved_share == pytest.approx(month.saved_kwh / month.full_kwh)


def test_the_night_the_clocks_go_forward_dims_for_five_hours_only():
    # Night of Saturday 27 March 2027: 23:00 CET is 22:00 UTC, 05:00 CEST is 03:00 UTC.
    [night] = energy.estimate_nights(
        HALF_FROM_23_TO_05, "sunset", [date(2027, 3, 27)], PARIS_LAT, PARIS_LON, PARIS, 100.0
    )
    assert night.saved_kwh == pytest.approx(5 * 100 * (1 - HALF) / 1000)


def test_the_night_the_clocks_go_back_dims_for_seven_hours():
    # Night of Saturday 30 October 2027: 23:00 CEST is 21:00 UTC, 05:00 CET is 04:00 UTC.
    [night] = energy.estimate_nights(
        HALF_FROM_23_TO_05, "sunset", [date(2027, 10, 30)], PARIS_LAT, PARIS_LON, PARIS, 100.0
    )
    assert night.saved_kwh == pytest.approx(7 * 100 * (1 - HALF) / 1000)


def test_above_the_arctic_circle_june_has_no_night_and_december_no_day():
    oslo = ZoneInfo("Europe/Oslo")
    [june] = energy.estimate_nights(FULL_NIGHT, "sunset", [date(2027, 6, 21)], TROMSO_LAT, TROMSO_LON, oslo, 100.0)
    assert (june.night_hours, june.full_kwh, june.dimmed_kwh) == (0.0, 0.0, 0.0)
    [december] = energy.estimate_nights(FULL_NIGHT, "sunset", [date(2027, 12, 21)], TROMSO_LAT, TROMSO_LON, oslo, 100.0)
    # Polar night: the sun never rises, the night runs from civil dusk to civil dawn (dimming.sun).
    sun = twilight_times(TROMSO_LAT, TROMSO_LON, date(2027, 12, 21), oslo, "sunset")
    assert sun.polar == "night"
    assert december.night_hours == pytest.approx((sun.dawn - sun.dusk).total_seconds() / 3600)
    assert december.night_hours > 18
    assert december.dimmed_kwh == pytest.approx(december.full_kwh)


# --- money and CO2 --------------------------------------------------------------------------------


def test_savings_in_money_and_co2():
    worth = energy.savings(100.0, price_eur_per_kwh=0.20, emission_g_co2_per_kwh=52.0)
    assert (worth.kwh, worth.cost_eur, worth.co2_kg) == pytest.approx((100.0, 20.0, 5.2))


# --- calendar months ------------------------------------------------------------------------------


def test_month_helpers():
    assert energy.months_between(date(2026, 11, 5), date(2027, 2, 1)) == [(2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    assert energy.months_between(date(2027, 2, 1), date(2027, 1, 1)) == []
    start, end = energy.month_bounds(2027, 3, PARIS)
    assert start.astimezone(UTC) == utc(2027, 2, 28, 23)  # CET
    assert end.astimezone(UTC) == utc(2027, 3, 31, 22)  # CEST
    assert (end - start) == timedelta(days=31) or (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(
        days=31, hours=-1
    )
    assert len(energy.month_days(2028, 2)) == 29
