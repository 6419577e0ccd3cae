"""Estimated energy of a dimming schedule: pure arithmetic on resolved switch points.

Power model. A lamp's input power is taken as linear in its light level, with a
share that does not dim away (the driver's fixed losses):

    P(level) = P_rated · (DRIVER_FIXED_SHARE + (1 − DRIVER_FIXED_SHARE) · level / 100)   for level > 0
    P(0)     = 0                                                                          (switched off)

so 100 % draws the rated power and 50 % draws 51.5 % of it. The controller's own
standby draw (below a watt, day and night alike) is left out: it is the same with
and without dimming, so it changes no saving. The reference ("full power all
night") is every lamp at its rated power from dusk to dawn of the profile's twilight.

Everything here is free of I/O; `estimate_nights` and `estimate_month` put the
astronomy (dimming.sun) and the schedule (dimming.resolve) together.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dimming.profiles import Twilight
from dimming.resolve import night_levels
from dimming.sun import twilight_times

# Share of the rated input power a lit LED luminaire draws whatever its level: the
# driver's control and switching losses, about 2.4 % of full input in the fitted
# efficiency curve the simulator uses (90 % efficient at full load, 75 % at 10 %),
# rounded up to 3 %.
DRIVER_FIXED_SHARE = 0.03
HOURS_PER_POLAR_NIGHT = 24.0
# Lamps this close together share their sunset and sunrise (0.01° is about 1 km: under a minute).
PLACE_DECIMALS = 2
WH_PER_KWH = 1000.0
G_PER_KG = 1000.0

Points = Sequence[tuple[datetime, int]]


def power_fraction(level: float) -> float:
    """Input power at a light level (0-100 %) as a fraction of the rated power."""
    if not 0 <= level <= 100:
        raise ValueError(f"level must be 0-100, not {level}")
    if level == 0:
        return 0.0
    return DRIVER_FIXED_SHARE + (1.0 - DRIVER_FIXED_SHARE) * level / 100.0


def curve_energy_wh(points: Points, rated_power_w: float) -> float:
    """Energy of a step curve, Wh: each point's level holds until the next point; the last ends it.

    `points` are (instant, level) in time order, as dimming.resolve.night_levels gives them
    (ending with a level-0 point at the end of the night).
    """
    if rated_power_w < 0:
        raise ValueError(f"rated power must not be negative, not {rated_power_w}")
    total_wh = 0.0
    for (start, level), (end, _next_level) in zip(points, points[1:]):
        if end < start:
            raise ValueError(f"switch points out of order: {end.isoformat()} after {start.isoformat()}")
        hours = (end - start).total_seconds() / 3600.0
        total_wh += rated_power_w * power_fraction(level) * hours
    return total_wh


def night_hours(dusk: datetime | None, dawn: datetime | None, polar: str | None) -> float:
    """Length of the night from dusk to dawn, h; a night with no sunrise counts 24 h, one with no sunset 0."""
    if dusk is not None and dawn is not None:
        return max((dawn - dusk).total_seconds() / 3600.0, 0.0)
    return HOURS_PER_POLAR_NIGHT if polar == "night" else 0.0


@dataclass(frozen=True, slots=True)
class NightEstimate:
    """One night, starting on local date `day`, for lamps of `rated_power_w` in all."""

    day: date
    night_hours: float
    full_kwh: float  # at rated power from dusk to dawn
    dimmed_kwh: float  # following the profile's curve

    @property
    def saved_kwh(self) -> float:
        return self.full_kwh - self.dimmed_kwh


def night_estimate(day: date, points: Points, hours: float, rated_power_w: float) -> NightEstimate:
    """The night's energy with the profile (`points`) against full power for `hours`."""
    return NightEstimate(
        day=day,
        night_hours=hours,
        full_kwh=rated_power_w * hours / WH_PER_KWH,
        dimmed_kwh=curve_energy_wh(points, rated_power_w) / WH_PER_KWH,
    )


@dataclass(frozen=True, slots=True)
class PeriodEstimate:
    """Nights added up (a month, a year): energy in kWh."""

    nights: int
    night_hours: float
    full_kwh: float
    dimmed_kwh: float

    @property
    def saved_kwh(self) -> float:
        return self.full_kwh - self.dimmed_kwh

    @property
    def saved_share(self) -> float:
        """Saving as a share of the full-power energy (0 when there is no night)."""
        return self.saved_kwh / self.full_kwh if self.full_kwh > 0 else 0.0


def add_up(nights: Iterable[NightEstimate]) -> PeriodEstimate:
    count, hours, full, dimmed = 0, 0.0, 0.0, 0.0
    for night in nights:
        count += 1
        hours += night.night_hours
        full += night.full_kwh
        dimmed += night.dimmed_kwh
    return PeriodEstimate(nights=count, night_hours=hours, full_kwh=full, dimmed_kwh=dimmed)


@dataclass(frozen=True, slots=True)
class Savings:
    kwh: float
    cost_eur: float
    co2_kg: float


def savings(saved_kwh: float, *, price_eur_per_kwh: float, emission_g_co2_per_kwh: float) -> Savings:
    """What a saving in kWh is worth in money and in CO2 avoided."""
    return Savings(
        kwh=saved_kwh,
        cost_eur=saved_kwh * price_eur_per_kwh,
        co2_kg=saved_kwh * emission_g_co2_per_kwh / G_PER_KG,
    )


def rounded_savings(saved_kwh: float, *, price_eur_per_kwh: float, emission_g_co2_per_kwh: float) -> Savings:
    """`savings` as people read it: kWh to 4 decimals, money to the cent, CO2 to the gram."""
    worth = savings(saved_kwh, price_eur_per_kwh=price_eur_per_kwh, emission_g_co2_per_kwh=emission_g_co2_per_kwh)
    return Savings(kwh=round(worth.kwh, 4), cost_eur=round(worth.cost_eur, 2), co2_kg=round(worth.co2_kg, 3))


def month_days(year: int, month: int) -> list[date]:
    """Every local date of a month: the nights that start in it."""
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


# --- with the astronomy and the schedule -------------------------------------------------------------


def night_curve(steps, twilight: Twilight, day: date, lat: float, lon: float, tz: ZoneInfo) -> tuple[Points, float]:
    """(switch points, night length in hours) of the night starting on `day` at a place."""
    sun = twilight_times(lat, lon, day, tz, twilight)
    points = night_levels(steps, twilight, day, lat, lon, tz)
    return points, night_hours(sun.dusk, sun.dawn, sun.polar)


def estimate_nights(
    steps, twilight: Twilight, days: Iterable[date], lat: float, lon: float, tz: ZoneInfo, rated_power_w: float
) -> list[NightEstimate]:
    """One estimate per night for lamps of `rated_power_w` in all, all following one profile at one place."""
    estimates = []
    for day in days:
        points, hours = night_curve(steps, twilight, day, lat, lon, tz)
        estimates.append(night_estimate(day, points, hours, rated_power_w))
    return estimates


def estimate_month(
    steps, twilight: Twilight, year: int, month: int, lat: float, lon: float, tz: ZoneInfo, rated_power_w: float
) -> PeriodEstimate:
    return add_up(estimate_nights(steps, twilight, month_days(year, month), lat, lon, tz, rated_power_w))


def months_between(first: date, last: date) -> list[tuple[int, int]]:
    """(year, month) from the month of `first` to the month of `last`, both included."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_bounds(year: int, month: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first local midnight, next month's first local midnight) as aware datetimes in `tz`."""
    start = datetime(year, month, 1, tzinfo=tz)
    following = start.replace(day=28) + timedelta(days=4)
    return start, following.replace(day=1)
