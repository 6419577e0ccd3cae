from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from astral import Observer
from astral.sun import elevation, sunrise, sunset

from simulators import physics as ph

LYON = (45.76, 4.84)


def test_driver_efficiency_falls_at_deep_dimming():
    load = np.array([1.0, 0.5, 0.3, 0.1])
    efficiency = ph.driver_efficiency(load)
    assert efficiency[0] == pytest.approx(0.90, abs=0.01)
    assert 0.70 <= efficiency[3] <= 0.80
    assert np.all(np.diff(efficiency) < 0)


def test_led_input_power_tracks_output_with_driver_losses():
    fraction = ph.led_input_power_fraction(np.array([100.0, 50.0, 10.0, 0.0]))
    assert fraction[0] == pytest.approx(1.0)
    assert 0.50 < fraction[1] < 0.55  # a little over half: the driver is less efficient at half load
    assert 0.10 < fraction[2] < 0.15
    assert fraction[3] == 0.0
    levels = np.linspace(1, 100, 100)
    assert np.all(np.diff(ph.led_input_power_fraction(levels)) > 0)


def test_power_factor_high_at_full_load_lower_when_dimmed():
    pf = ph.led_power_factor(np.array([100.0, 50.0, 10.0]))
    assert 0.95 <= pf[0] <= 0.98
    assert pf[2] < pf[1] < pf[0]
    assert pf[2] > 0.5
    assert ph.hps_power_factor(np.array([100.0]))[0] == pytest.approx(0.90)


def test_hps_power_rises_with_the_square_of_the_voltage():
    low, nominal, high = ph.hps_input_power_fraction(np.array([100.0] * 3), np.array([207.0, 230.0, 253.0]))
    assert nominal == pytest.approx(1.0)
    assert low == pytest.approx(0.81, abs=0.005) and high == pytest.approx(1.21, abs=0.005)
    assert ph.hps_input_power_fraction(np.array([0.0]), np.array([230.0]))[0] == 0.0


def test_current_is_power_over_voltage_times_power_factor():
    current = ph.supply_current_a(
        np.array([100.0, 50.0, 0.6]), np.array([230.0, 0.0, 230.0]), np.array([0.97, 0.9, 0.0])
    )
    assert current[0] == pytest.approx(100.0 / (230.0 * 0.97))
    assert current[1] == 0.0 and current[2] == 0.0


def test_daily_voltage_cycle_is_a_few_volts_lowest_in_the_evening():
    hours = np.arange(0, 24, 0.25)
    offset = ph.daily_voltage_offset_v(hours)
    assert 2.0 < offset.max() - offset.min() < 8.0
    assert 17.0 <= hours[offset.argmin()] <= 21.0


def test_voltage_sags_and_swells_follow_their_rates():
    rng = np.random.default_rng(7)
    offsets = np.concatenate([ph.sample_voltage_events_v(rng, 600.0, np.full(100, 2.0), 1.0) for _ in range(1440)])
    steps_per_day = 86_400 / 600
    per_day = len(offsets) / 100 / steps_per_day  # days observed per circuit: 10
    sags, swells = (offsets < 0).sum() / 100 / per_day, (offsets > 0).sum() / 100 / per_day
    assert sags == pytest.approx(2.0, rel=0.15) and swells == pytest.approx(1.0, rel=0.2)
    assert offsets.min() >= -35.0 and offsets.max() <= 14.0


def test_driver_temperature_rises_with_load_and_lags():
    equilibrium = ph.driver_equilibrium_temp_c(np.array([10.0, 10.0]), np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    assert equilibrium[0] == pytest.approx(35.0) and equilibrium[1] == pytest.approx(10.0)
    temp = np.array([10.0])
    after_half_hour = ph.thermal_step_c(temp, np.array([35.0]), 1_800.0)
    assert 10.0 < after_half_hour[0] < 35.0
    assert ph.thermal_step_c(temp, np.array([35.0]), 6 * 3_600.0)[0] == pytest.approx(35.0, abs=0.1)


def test_lyon_climate_normals():
    def daily_mean(day: date) -> float:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        return float(ph.ambient_temp_c(midnight + np.arange(24) * 3600.0, LYON[1]).mean())

    assert daily_mean(date(2026, 1, 15)) == pytest.approx(3.4, abs=0.5)
    assert daily_mean(date(2026, 7, 16)) == pytest.approx(22.2, abs=0.5)
    afternoon = datetime(2026, 7, 16, 14, tzinfo=UTC).timestamp()
    dawn = datetime(2026, 7, 16, 4, tzinfo=UTC).timestamp()
    assert ph.ambient_temp_c(afternoon, LYON[1]) - ph.ambient_temp_c(dawn, LYON[1]) > 7.0


def test_solar_elevation_matches_astral():
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=7.3 * k) for k in range(300)]
    observer = Observer(*LYON)
    for moment in moments:
        ours = ph.solar_elevation_deg(np.array([LYON[0]]), np.array([LYON[1]]), moment.timestamp())[0]
        assert ours == pytest.approx(elevation(observer, moment, with_refraction=False), abs=0.1)


def test_daylight_levels():
    lux = ph.daylight_lux(np.array([-20.0, -6.0, 0.0, 10.0, 60.0]), 1.0)
    assert lux[0] == ph.NIGHT_SKY_LUX
    assert 0.5 < lux[1] < 5.0
    assert 200.0 < lux[2] < 1000.0
    assert lux[4] > 50_000.0
    assert np.all(np.diff(lux) > 0)
    assert ph.daylight_lux(np.array([60.0]), 0.2)[0] < lux[4]


@pytest.mark.parametrize("day", [date(2026, 1, 15), date(2026, 6, 21)])
def test_sun_table_gives_astral_sunrise_and_sunset_per_cell(day):
    lats = np.array([45.70, 45.76, 45.83])
    lons = np.array([4.78, 4.84, 4.95])
    table = ph.SunTable(lats, lons)
    rise, set_ = table.lamp_times(day)
    for k in range(3):
        observer = Observer(lats[k], lons[k])
        assert rise[k] == pytest.approx(sunrise(observer, day).timestamp(), abs=30.0)
        assert set_[k] == pytest.approx(sunset(observer, day).timestamp(), abs=30.0)
    assert table.n_cells == 3
    assert table.lamp_times(day) is table.lamp_times(day)


def test_sun_table_lamps_share_cells():
    rng = np.random.default_rng(1)
    table = ph.SunTable(45.76 + rng.uniform(-0.01, 0.01, 1000), 4.84 + rng.uniform(-0.01, 0.01, 1000))
    assert table.n_cells <= 4


def test_sun_table_polar_day_and_night():
    table = ph.SunTable(np.array([78.0, 78.0]), np.array([15.0, 15.0]))
    rise, set_ = table.lamp_times(date(2026, 6, 21))
    start = datetime(2026, 6, 21, tzinfo=UTC).timestamp()
    assert ph.is_astronomical_day(start + 3600.0, rise, set_, 600.0, 600.0).all()
    rise, set_ = table.lamp_times(date(2026, 12, 21))
    noon = datetime(2026, 12, 21, 12, tzinfo=UTC).timestamp()
    assert not ph.is_astronomical_day(noon, rise, set_, 600.0, 600.0).any()


def test_astronomical_day_with_offsets_and_across_midnight():
    rise, set_ = np.array([1000.0]), np.array([5000.0])
    assert not ph.is_astronomical_day(350.0, rise, set_, 600.0, 600.0)[0]
    assert ph.is_astronomical_day(450.0, rise, set_, 600.0, 600.0)[0]
    assert ph.is_astronomical_day(5500.0, rise, set_, 600.0, 600.0)[0]
    assert not ph.is_astronomical_day(5700.0, rise, set_, 600.0, 600.0)[0]
    # Sunset before sunrise within the UTC date: the day runs across midnight.
    rise, set_ = np.array([70_000.0]), np.array([30_000.0])
    assert ph.is_astronomical_day(1_000.0, rise, set_, 0.0, 0.0)[0]
    assert not ph.is_astronomical_day(50_000.0, rise, set_, 0.0, 0.0)[0]
    assert ph.is_astronomical_day(80_000.0, rise, set_, 0.0, 0.0)[0]


def test_weather_is_deterministic_and_plausible():
    origin = datetime(2025, 12, 31, tzinfo=UTC)
    a = ph.WeatherSeries(3, origin, LYON[1])
    b = ph.WeatherSeries(3, origin, LYON[1])
    moment = datetime(2026, 8, 1, 15, tzinfo=UTC).timestamp()
    assert a.at(moment) == b.at(moment)
    assert ph.WeatherSeries(4, origin, LYON[1]).at(moment) != a.at(moment)
    assert 0.03 < a.raining.mean() < 0.12  # share of rainy hours
    assert 0.2 < a.raining.reshape(-1, 24).any(axis=1).mean() < 0.5  # days with some rain
    assert a.wetness.min() >= 0.0 and a.wetness.max() <= 1.0
    assert np.all(a.wetness[a.raining] > 0.0)
    assert -15.0 < a.temp_c.min() and a.temp_c.max() < 42.0
