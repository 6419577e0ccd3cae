"""Dusk and dawn for a place and a night, with the astral library.

The night of local date D runs from the dusk after solar noon of D to the dawn before solar
noon of D + 1, so a sunset after local midnight stays in its evening. Under the midnight sun
there is no dusk (`polar="day"`); in the polar night (`polar="night"`) the missing times fall
back to civil twilight, then to solar noon. Results are UTC instants rounded to the minute;
docs/dimming.md ("High latitudes") has the details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from astral import Observer, SunDirection
from astral.sun import SUN_APPARENT_RADIUS, elevation, noon, time_of_transit

from dimming.profiles import Twilight

Polar = Literal["day", "night"]

# Zenith angle of the sun's centre at each threshold (astral adds refraction).
_ZENITH: dict[str, float] = {"sunset": 90.0 + SUN_APPARENT_RADIUS, "civil": 96.0}
# Geometric elevation of the sun's centre at each threshold, in degrees.
_THRESHOLD_ELEVATION: dict[str, float] = {"sunset": -0.833, "civil": -6.0}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class NightTimes:
    """Dusk of a day and dawn of the next morning, as UTC instants (None under the midnight sun)."""

    dusk: datetime | None
    dawn: datetime | None
    polar: Polar | None = None


def _to_minute(instant: datetime) -> datetime:
    return (instant + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _crossing(
    observer: Observer, zenith: float, direction: SunDirection, after: datetime, before: datetime
) -> datetime | None:
    """The first instant strictly between `after` and `before` when the sun crosses `zenith` going `direction`."""
    computed: list[datetime] = []
    day = after.date()
    while day <= before.date():
        try:
            computed.append(time_of_transit(observer, day, zenith, direction))
        except ValueError:  # the sun does not reach that angle on this day
            pass
        day += _ONE_DAY
    found = [instant for instant in computed if after < instant < before]
    if not found:
        # Near the polar day a crossing close to midnight UTC can fall between two
        # computed days; the neighbouring day's result, a day later or earlier, is
        # then the best estimate (the sun's declination changes little in a day).
        shifted = [instant + shift for instant in computed for shift in (_ONE_DAY, -_ONE_DAY)]
        found = [instant for instant in shifted if after < instant < before]
    return min(found) if found else None


def _solar_noon(observer: Observer, day: date) -> datetime:
    return noon(observer, day)  # UTC


def _stays_up(observer: Observer, noon_today: datetime, noon_next: datetime, twilight: Twilight) -> bool:
    """With no dusk between two noons, is the sun above the threshold all along (rather than below)?

    Decided on the mean of its highest (noon) and lowest (midnight) elevation: near the
    start or end of the polar day or night one of them is close to the threshold, never both.
    """
    midnight = noon_today + (noon_next - noon_today) / 2
    high = elevation(observer, noon_today, with_refraction=False)
    low = elevation(observer, midnight, with_refraction=False)
    return (high + low) / 2 > _THRESHOLD_ELEVATION[twilight]


@lru_cache(maxsize=65_536)
def _night(lat: float, lon: float, day: date, twilight: Twilight) -> NightTimes:
    observer = Observer(latitude=lat, longitude=lon)
    noon_today = _solar_noon(observer, day)
    noon_next = _solar_noon(observer, day + _ONE_DAY)
    zenith = _ZENITH[twilight]
    dusk = _crossing(observer, zenith, SunDirection.SETTING, noon_today, noon_next)
    if dusk is None and _stays_up(observer, noon_today, noon_next, twilight):
        return NightTimes(None, None, "day")
    dawn = _crossing(observer, zenith, SunDirection.RISING, dusk or noon_today, noon_next)
    if dusk is not None and dawn is not None:
        return NightTimes(_to_minute(dusk), _to_minute(dawn))
    # Polar night: the sun stays below the threshold on one side of midnight or both.
    if twilight == "sunset":
        civil = _night(lat, lon, day, "civil")
        if dusk is None:
            dusk = civil.dusk if civil.polar != "day" else noon_today
        if dawn is None:
            dawn = civil.dawn if civil.polar != "day" else noon_next
    else:
        dusk = dusk or noon_today
        dawn = dawn or noon_next
    assert dusk is not None and dawn is not None, "a civil night that is not polar day has both"
    return NightTimes(_to_minute(dusk), _to_minute(dawn), "night")


def twilight_times(lat: float, lon: float, day: date, tz: ZoneInfo, twilight: Twilight) -> NightTimes:
    """Dusk of local date `day` and dawn of the next morning at (lat, lon), in UTC.

    `tz` is the town's zone; the night is found from solar noon, so it does not
    change the result, but callers pass it so that a day is always a local date.
    """
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise ValueError(f"no such place: latitude {lat}, longitude {lon}")
    if twilight not in _ZENITH:
        raise ValueError(f"twilight must be sunset or civil, not {twilight!r}")
    return _night(float(lat), float(lon), day, twilight)
