"""Physics of a street lamp and its surroundings: pure, vectorized numpy functions.

Every function takes and returns numpy arrays (or scalars) and has no state;
the two small classes at the end (`SunTable`, `WeatherSeries`) only cache what
they computed from their inputs and a seed. Units are in the names. Where a
figure comes from a published source the docstring says so; the others are
modelling assumptions, listed as such in docs/simulator.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from astral import Observer
from astral.sun import sunrise, sunset

NOMINAL_VOLTAGE_V = 230.0
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3_600.0

# --- Driver and ballast --------------------------------------------------------
#
# LED driver losses as a fraction of the rated output power P_out_rated, for an
# output load x = P_out / P_out_rated:   losses(x) = a0 + a1·x + a2·x²
# (a0: control and switching losses that do not scale with load, a1: losses
# proportional to the current, a2: conduction losses). The three numbers are
# fitted to 90 % efficiency at full load and 75 % at 10 % load, the shape of
# published driver efficiency curves (efficiency > 85-90 % at full load, well
# below at deep dimming).
_LOSS_FIXED = 0.0267
_LOSS_LINEAR = 0.0644
_LOSS_QUADRATIC = 0.0200
_LOSSES_AT_FULL = _LOSS_FIXED + _LOSS_LINEAR + _LOSS_QUADRATIC

LED_FULL_LOAD_POWER_FACTOR = 0.97
LED_MIN_OUTPUT_PCT = 10.0  # drivers do not dim below this (TALQ LampType.minLightOutput)
HPS_FULL_LOAD_POWER_FACTOR = 0.90  # magnetic ballast with compensation capacitor
HPS_MIN_OUTPUT_PCT = 50.0  # bi-power ballast: full or reduced, nothing deeper
STANDBY_POWER_W = 0.6  # the controller node itself, always on while powered
STANDBY_POWER_FACTOR = 0.45  # small capacitive power supply


def driver_efficiency(load_fraction: np.ndarray | float) -> np.ndarray:
    """LED driver efficiency (0-1) at an output load fraction (0-1 of rated output).

    About 0.90 at full load, 0.89 at 50 %, 0.86 at 30 %, 0.75 at 10 %.
    """
    x = np.maximum(np.asarray(load_fraction, dtype=float), 1e-6)
    return x / (x + _LOSS_FIXED + _LOSS_LINEAR * x + _LOSS_QUADRATIC * x * x)


def led_input_power_fraction(output_pct: np.ndarray | float) -> np.ndarray:
    """Input power of an LED luminaire as a fraction of its full-output input power.

    `output_pct` is the light output in % (light ∝ drive current ∝ output power:
    the small gain in LED efficacy at low current is neglected). 0 → 0.
    50 % output draws about 51 % of full power, 10 % output about 12 %.
    """
    x = np.clip(np.asarray(output_pct, dtype=float), 0.0, 100.0) / 100.0
    input_fraction = (x + _LOSS_FIXED + _LOSS_LINEAR * x + _LOSS_QUADRATIC * x * x) / (1.0 + _LOSSES_AT_FULL)
    return np.where(x > 0.0, input_fraction, 0.0)


def hps_input_power_fraction(output_pct: np.ndarray | float, voltage_v: np.ndarray | float) -> np.ndarray:
    """Input power of an HPS luminaire on a magnetic ballast, as a fraction of its rated power.

    The reduced level of a bi-power ballast draws about 60 % at 50 % light; a
    reactor ballast lets lamp power vary roughly with the square of the supply
    voltage. 0 → 0.
    """
    x = np.clip(np.asarray(output_pct, dtype=float), 0.0, 100.0) / 100.0
    fraction = 0.2 + 0.8 * x
    voltage_factor = (np.asarray(voltage_v, dtype=float) / NOMINAL_VOLTAGE_V) ** 2
    return np.where(x > 0.0, fraction * voltage_factor, 0.0)


def led_power_factor(output_pct: np.ndarray | float) -> np.ndarray:
    """Power factor of an LED driver with active PFC at a light output in %.

    0.97 at full load, about 0.93 at 50 %, 0.72 at 10 % (PFC loses regulation at light load).
    """
    x = np.clip(np.asarray(output_pct, dtype=float), 0.0, 100.0) / 100.0
    return LED_FULL_LOAD_POWER_FACTOR - 0.35 * (1.0 - x) ** 3


def hps_power_factor(output_pct: np.ndarray | float) -> np.ndarray:
    """Power factor of a compensated HPS magnetic ballast: 0.90 at full output, 0.85 at the reduced level."""
    x = np.clip(np.asarray(output_pct, dtype=float), 0.0, 100.0) / 100.0
    return HPS_FULL_LOAD_POWER_FACTOR - 0.1 * (1.0 - x)


def supply_current_a(power_w: np.ndarray, voltage_v: np.ndarray, power_factor: np.ndarray) -> np.ndarray:
    """RMS supply current I = P / (V · PF); 0 where there is no voltage or no power factor."""
    power_w = np.asarray(power_w, dtype=float)
    apparent_va = np.asarray(voltage_v, dtype=float) * np.asarray(power_factor, dtype=float)
    safe = np.where(apparent_va > 1e-9, apparent_va, 1.0)
    return np.where(apparent_va > 1e-9, power_w / safe, 0.0)


# --- Supply voltage --------------------------------------------------------------


def daily_voltage_offset_v(solar_hour: np.ndarray | float) -> np.ndarray:
    """Deterministic daily voltage swing around the circuit's mean, V.

    Lowest (about -2.9 V) in the evening peak around 19 h, highest (about +1.9 V)
    in the small hours, a second dip in the morning peak.
    """
    h = np.asarray(solar_hour, dtype=float)
    return -2.0 * np.cos(2 * np.pi * (h - 19.0) / 24.0) - 1.0 * np.cos(4 * np.pi * (h - 8.0) / 24.0)


def sample_voltage_events_v(
    rng: np.random.Generator,
    dt_s: float,
    sag_rate_per_day: np.ndarray,
    swell_rate_per_day: float,
    sag_depth_v: tuple[float, float] = (12.0, 35.0),
    swell_height_v: tuple[float, float] = (6.0, 14.0),
) -> np.ndarray:
    """Voltage offset of each circuit at a reading: a sag (negative) or a swell (positive), mostly 0.

    Rates are readings affected per circuit per day; `sag_rate_per_day` is per circuit
    (a failing supply sags more often).
    """
    rates = np.asarray(sag_rate_per_day, dtype=float)
    n = rates.shape[0]
    days = dt_s / SECONDS_PER_DAY
    draw = rng.random(n)
    p_sag = 1.0 - np.exp(-rates * days)
    p_swell = 1.0 - math.exp(-swell_rate_per_day * days)
    offset = np.zeros(n)
    sag = draw < p_sag
    swell = ~sag & (draw < p_sag + p_swell)
    if sag.any():
        offset[sag] = -rng.uniform(*sag_depth_v, int(sag.sum()))
    if swell.any():
        offset[swell] = rng.uniform(*swell_height_v, int(swell.sum()))
    return offset


# --- Temperatures ----------------------------------------------------------------


def driver_equilibrium_temp_c(
    ambient_c: np.ndarray,
    input_power_fraction: np.ndarray,
    age_years: np.ndarray,
    full_load_rise_c: float = 25.0,
    ageing_rise_c_per_year: float = 0.3,
) -> np.ndarray:
    """Steady-state driver case temperature, °C: ambient + load-dependent rise + ageing.

    A driver sealed in a luminaire head runs some 20-30 K above ambient at full load
    (assumed 25 K); ESR growth of ageing capacitors adds a little more heat.
    """
    return (
        np.asarray(ambient_c, dtype=float)
        + full_load_rise_c * np.asarray(input_power_fraction, dtype=float)
        + ageing_rise_c_per_year * np.asarray(age_years, dtype=float)
    )


def thermal_step_c(
    temp_c: np.ndarray, equilibrium_c: np.ndarray, dt_s: float, time_constant_s: float = 1_800.0
) -> np.ndarray:
    """First-order thermal lag: the temperature after `dt_s` seconds, approaching equilibrium."""
    weight = 1.0 - math.exp(-dt_s / time_constant_s)
    return temp_c + (equilibrium_c - temp_c) * weight


@dataclass(frozen=True)
class Climate:
    """Climate of the town. Defaults: Lyon (Météo-France Lyon-Bron normals: mean 3.4 °C in
    January, 22.2 °C in July, about 830 mm of rain a year)."""

    annual_mean_c: float = 12.8
    seasonal_amplitude_c: float = 9.4
    coldest_day_of_year: int = 15
    daily_range_winter_c: float = 6.0
    daily_range_summer_c: float = 11.0
    warmest_solar_hour: float = 15.0
    anomaly_sd_c: float = 2.5  # day-to-day weather around the normal
    anomaly_persistence: float = 0.75  # lag-1 day autocorrelation of that anomaly
    rain_hour_share: float = 0.07  # share of hours with rain (assumed)
    rain_spell_mean_h: float = 5.0
    wetness_time_constant_h: float = 12.0  # how long a luminaire stays damp after rain


LYON_CLIMATE = Climate()


def seasonal_mean_temp_c(doy: np.ndarray | float, climate: Climate = LYON_CLIMATE) -> np.ndarray:
    """Normal daily mean temperature for a day of the year, °C (cosine through the coldest day)."""
    d = np.asarray(doy, dtype=float)
    return climate.annual_mean_c - climate.seasonal_amplitude_c * np.cos(
        2 * np.pi * (d - climate.coldest_day_of_year) / 365.25
    )


def daily_temp_swing_c(
    hour: np.ndarray | float, doy: np.ndarray | float, climate: Climate = LYON_CLIMATE
) -> np.ndarray:
    """Deviation from the daily mean at a solar hour, °C: warmest mid-afternoon, coldest near dawn."""
    d = np.asarray(doy, dtype=float)
    summerness = 0.5 - 0.5 * np.cos(2 * np.pi * (d - climate.coldest_day_of_year) / 365.25)
    half_range = 0.5 * (
        climate.daily_range_winter_c + (climate.daily_range_summer_c - climate.daily_range_winter_c) * summerness
    )
    return half_range * np.cos(2 * np.pi * (np.asarray(hour, dtype=float) - climate.warmest_solar_hour) / 24.0)


def day_of_year(epoch_s: np.ndarray | float) -> np.ndarray:
    """Fractional day of the year (1 = 1 January 00:00 UTC) of a time in seconds since 1970 UTC.

    Uses the mean Gregorian year, so it strays less than a day from the calendar:
    enough for seasonal cosines.
    """
    return (np.asarray(epoch_s, dtype=float) / SECONDS_PER_DAY) % 365.2425 + 1.0


def ambient_temp_c(
    epoch_s: np.ndarray | float, lon_deg: float, anomaly_c: np.ndarray | float = 0.0, climate: Climate = LYON_CLIMATE
) -> np.ndarray:
    """Air temperature, °C, at a time (seconds since 1970 UTC): season + daily cycle + weather anomaly."""
    doy = day_of_year(epoch_s)
    return (
        seasonal_mean_temp_c(doy, climate)
        + daily_temp_swing_c(solar_hour(epoch_s, lon_deg), doy, climate)
        + np.asarray(anomaly_c, dtype=float)
    )


# --- Sun and daylight ------------------------------------------------------------


def solar_hour(epoch_s: np.ndarray | float, lon_deg: np.ndarray | float) -> np.ndarray:
    """Mean solar time at a longitude, hours 0-24."""
    t = np.asarray(epoch_s, dtype=float)
    return ((t % SECONDS_PER_DAY) / SECONDS_PER_HOUR + np.asarray(lon_deg, dtype=float) / 15.0) % 24.0


def solar_elevation_deg(lat_deg: np.ndarray, lon_deg: np.ndarray, epoch_s: float) -> np.ndarray:
    """Sun elevation above the horizon, degrees, without refraction (NOAA's low-precision formulas).

    Good to a few tenths of a degree: enough for daylight levels; the switching
    times themselves come from `SunTable` (astral).
    """
    days = epoch_s / SECONDS_PER_DAY - 10_957.5  # days since J2000.0 (2000-01-01 12:00 UTC)
    mean_anomaly = math.radians((357.529 + 0.98560028 * days) % 360.0)
    mean_longitude = (280.459 + 0.98564736 * days) % 360.0
    ecliptic_longitude = math.radians(
        mean_longitude + 1.915 * math.sin(mean_anomaly) + 0.020 * math.sin(2 * mean_anomaly)
    )
    obliquity = math.radians(23.439 - 0.00000036 * days)
    declination = math.asin(math.sin(obliquity) * math.sin(ecliptic_longitude))
    right_ascension = math.atan2(math.cos(obliquity) * math.sin(ecliptic_longitude), math.cos(ecliptic_longitude))
    gmst_deg = (280.46061837 + 360.98564736629 * days) % 360.0
    hour_angle = np.radians(gmst_deg + np.asarray(lon_deg, dtype=float)) - right_ascension
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    sin_elevation = np.sin(lat) * math.sin(declination) + np.cos(lat) * math.cos(declination) * np.cos(hour_angle)
    return np.degrees(np.arcsin(np.clip(sin_elevation, -1.0, 1.0)))


NIGHT_SKY_LUX = 0.3  # sky glow and neighbouring lamps seen by an upward photocell


def daylight_lux(elevation_deg: np.ndarray, cloud_factor: np.ndarray | float) -> np.ndarray:
    """Horizontal illuminance, lux, from the sun's elevation and a cloud factor (1 = clear).

    About 100,000 lux with a high sun in a clear sky, a few hundred at sunset,
    about 1 lux at the end of civil twilight (-6°), then night-sky glow.
    """
    e = np.asarray(elevation_deg, dtype=float)
    day = np.maximum(500.0, 120_000.0 * np.sin(np.radians(np.clip(e, 0.0, 90.0))))
    twilight = 10.0 ** (2.7 + 0.45 * np.clip(e, -12.0, 0.0))
    lux = np.where(e >= 0.0, day, twilight) * np.asarray(cloud_factor, dtype=float)
    return np.maximum(lux, NIGHT_SKY_LUX)


class SunTable:
    """Sunrise and sunset from astral, per small lat/lon cell and UTC date, cached.

    Lamps are grouped into cells of `cell_deg` (0.05° is about 4 km: sunset moves
    by some 12 s across it), so a day costs one astral call pair per cell, not
    per lamp. Times are seconds since 1970 UTC.
    """

    def __init__(self, lat_deg: np.ndarray, lon_deg: np.ndarray, cell_deg: float = 0.05) -> None:
        keys = np.stack([np.round(np.asarray(lat_deg) / cell_deg), np.round(np.asarray(lon_deg) / cell_deg)], axis=1)
        cells, self.cell_of_lamp = np.unique(keys, axis=0, return_inverse=True)
        self.cell_of_lamp = self.cell_of_lamp.reshape(-1)
        self.cell_lat_deg = cells[:, 0] * cell_deg
        self.cell_lon_deg = cells[:, 1] * cell_deg
        self._by_day: dict[date, tuple[np.ndarray, np.ndarray]] = {}
        self._lamp_day: date | None = None
        self._lamp_times: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_cells(self) -> int:
        return len(self.cell_lat_deg)

    def cell_times(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        """(sunrise_s, sunset_s) per cell for a UTC date.

        Where the sun does not rise that day both are the day's start (no daylight);
        where it does not set, sunrise is the day's start and sunset the next day's start.
        """
        cached = self._by_day.get(day)
        if cached is not None:
            return cached
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        rise = np.empty(self.n_cells)
        set_ = np.empty(self.n_cells)
        for i, (lat, lon) in enumerate(zip(self.cell_lat_deg, self.cell_lon_deg)):
            observer = Observer(float(lat), float(lon), 0.0)
            try:
                rise[i] = sunrise(observer, day, tzinfo=UTC).timestamp()
                set_[i] = sunset(observer, day, tzinfo=UTC).timestamp()
            except ValueError:  # polar day or night
                noon = day_start + SECONDS_PER_DAY / 2 - float(lon) / 15.0 * SECONDS_PER_HOUR
                if solar_elevation_deg(np.array([lat]), np.array([lon]), noon)[0] > 0:
                    rise[i], set_[i] = day_start, day_start + SECONDS_PER_DAY
                else:
                    rise[i] = set_[i] = day_start
        if len(self._by_day) > 64:
            self._by_day.clear()
        self._by_day[day] = (rise, set_)
        return rise, set_

    def lamp_times(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        """(sunrise_s, sunset_s) per lamp for a UTC date."""
        if day != self._lamp_day:
            rise, set_ = self.cell_times(day)
            self._lamp_times = (rise[self.cell_of_lamp], set_[self.cell_of_lamp])
            self._lamp_day = day
        assert self._lamp_times is not None
        return self._lamp_times


def is_astronomical_day(
    epoch_s: float, sunrise_s: np.ndarray, sunset_s: np.ndarray, off_before_sunrise_s: float, on_after_sunset_s: float
) -> np.ndarray:
    """True where an astronomical clock keeps the lamp off at `epoch_s`.

    The lamp switches off at sunrise - off_before_sunrise_s and on at sunset +
    on_after_sunset_s. When sunset comes before sunrise within the UTC date (far
    from Greenwich), the day runs across midnight UTC.
    """
    off_at = sunrise_s - off_before_sunrise_s
    on_at = sunset_s + on_after_sunset_s
    inside = (epoch_s >= off_at) & (epoch_s < on_at)
    across = (epoch_s >= off_at) | (epoch_s < on_at)
    return np.where(off_at <= on_at, inside, across)


# --- Weather -----------------------------------------------------------------------


class WeatherSeries:
    """Town-wide hourly weather from a seed: temperature, rain, wetness and cloudiness.

    Hours are counted from `origin` (a UTC midnight). Rain is a two-state
    (dry/raining) hourly Markov chain whose mean spell is `rain_spell_mean_h` and
    whose stationary share of rainy hours is `rain_hour_share`, a little higher in
    autumn; wetness (0-1) is rain smoothed with the luminaire's drying time; the
    temperature anomaly is a daily AR(1) process. The series is extended in
    whole years as time advances, always in the same order, so it depends only
    on the seed and the origin.
    """

    _CHUNK_DAYS = 366

    def __init__(self, seed: int, origin: datetime, lon_deg: float, climate: Climate = LYON_CLIMATE) -> None:
        self.origin_s = origin.timestamp()
        self.lon_deg = lon_deg
        self.climate = climate
        self._rng = np.random.default_rng([seed, 0xC1])
        self.temp_c = np.empty(0)
        self.raining = np.empty(0, dtype=bool)
        self.wetness = np.empty(0)
        self.cloud_factor = np.empty(0)
        self._anomaly_c = 0.0
        self._raining_now = False
        self._wetness_now = 0.0

    def _extend(self) -> None:
        c = self.climate
        n_days = self._CHUNK_DAYS
        first_hour = len(self.temp_c)
        hours = first_hour + np.arange(n_days * 24)
        epoch_s = self.origin_s + hours * SECONDS_PER_HOUR

        # Daily anomaly, AR(1), interpolated linearly between midnights.
        daily = np.empty(n_days + 1)
        daily[0] = self._anomaly_c
        innovation_sd = c.anomaly_sd_c * math.sqrt(1.0 - c.anomaly_persistence**2)
        for d in range(1, n_days + 1):
            daily[d] = c.anomaly_persistence * daily[d - 1] + self._rng.normal(0.0, innovation_sd)
        self._anomaly_c = float(daily[-1])
        anomaly = np.interp(np.arange(n_days * 24) / 24.0, np.arange(n_days + 1), daily)

        doy = day_of_year(epoch_s[::24])
        seasonal_share = c.rain_hour_share * (1.0 + 0.25 * np.cos(2 * np.pi * (doy - 288.0) / 365.25))
        p_stop = 1.0 / c.rain_spell_mean_h
        p_start = np.repeat(seasonal_share / (1.0 - seasonal_share) * p_stop, 24)
        draws = self._rng.random(n_days * 24)
        raining = np.empty(n_days * 24, dtype=bool)
        wetness = np.empty(n_days * 24)
        state, wet = self._raining_now, self._wetness_now
        keep = math.exp(-1.0 / c.wetness_time_constant_h)
        for h in range(n_days * 24):
            state = (draws[h] >= p_stop) if state else (draws[h] < p_start[h])
            wet = wet * keep + (1.0 - keep) * (1.0 if state else 0.0)
            raining[h] = state
            wetness[h] = wet
        self._raining_now, self._wetness_now = bool(state), float(wet)
        # Wetness saturates after a few hours of rain.
        wetness = np.minimum(1.0, wetness * 3.0)

        rainy_day = raining.reshape(n_days, 24).any(axis=1)
        cloud = np.where(rainy_day, self._rng.uniform(0.1, 0.4, n_days), self._rng.uniform(0.5, 1.0, n_days))

        temp = ambient_temp_c(epoch_s, self.lon_deg, anomaly, c)

        self.temp_c = np.concatenate([self.temp_c, temp])
        self.raining = np.concatenate([self.raining, raining])
        self.wetness = np.concatenate([self.wetness, wetness])
        self.cloud_factor = np.concatenate([self.cloud_factor, np.repeat(cloud, 24)])

    def _hour(self, epoch_s: float) -> float:
        hour = max(0.0, (epoch_s - self.origin_s) / SECONDS_PER_HOUR)
        while hour + 2 >= len(self.temp_c):
            self._extend()
        return hour

    def at(self, epoch_s: float) -> tuple[float, bool, float, float]:
        """(air temperature °C, raining, wetness 0-1, cloud factor 0-1) at a time."""
        hour = self._hour(epoch_s)
        i = int(hour)
        frac = hour - i
        temp = float(self.temp_c[i] * (1.0 - frac) + self.temp_c[i + 1] * frac)
        return temp, bool(self.raining[i]), float(self.wetness[i]), float(self.cloud_factor[i])


def utc_midnight_before(moment: datetime) -> datetime:
    """The UTC midnight at or before `moment`, minus one day (a margin for the first hours)."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC) - timedelta(days=1)
