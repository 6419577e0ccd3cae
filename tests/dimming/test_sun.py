"""Dusk and dawn: daylight-saving nights in Paris, the Arctic in June and December, nights after midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import astral
import astral.sun
import pytest

from dimming.sun import NightTimes, twilight_times

PARIS = ZoneInfo("Europe/Paris")
OSLO = ZoneInfo("Europe/Oslo")
PARIS_AT = (48.8566, 2.3522)
TROMSO = (69.65, 18.96)  # above the Arctic circle


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def to_minute(instant: datetime) -> datetime:
    return (instant + timedelta(seconds=30)).replace(second=0, microsecond=0).astimezone(UTC)


@pytest.mark.parametrize("day", [date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24), date(2026, 10, 25)])
def test_paris_dusk_and_dawn_are_astral_sunset_and_next_sunrise_across_the_clock_change(day):
    observer = astral.Observer(*PARIS_AT)
    night = twilight_times(*PARIS_AT, day, PARIS, "sunset")
    assert night.dusk == to_minute(astral.sun.sunset(observer, day, tzinfo=PARIS))
    assert night.dawn == to_minute(astral.sun.sunrise(observer, day + timedelta(days=1), tzinfo=PARIS))
    assert night.polar is None


def test_the_nights_of_the_clock_changes_in_utc():
    # Spring: the clocks go from 02:00 to 03:00 on Sunday 29 March 2026; sunrise comes an hour later on the clock.
    assert twilight_times(*PARIS_AT, date(2026, 3, 28), PARIS, "sunset") == NightTimes(
        utc("2026-03-28T18:15"), utc("2026-03-29T05:35")
    )
    # Autumn: from 03:00 back to 02:00 on Sunday 25 October 2026.
    assert twilight_times(*PARIS_AT, date(2026, 10, 24), PARIS, "sunset") == NightTimes(
        utc("2026-10-24T16:44"), utc("2026-10-25T06:27")
    )


def test_civil_twilight_makes_the_night_shorter_at_both_ends():
    sunset = twilight_times(*PARIS_AT, date(2026, 12, 21), PARIS, "sunset")
    civil = twilight_times(*PARIS_AT, date(2026, 12, 21), PARIS, "civil")
    observer = astral.Observer(*PARIS_AT)
    assert civil.dusk == to_minute(astral.sun.dusk(observer, date(2026, 12, 21), tzinfo=PARIS))
    assert civil.dawn == to_minute(astral.sun.dawn(observer, date(2026, 12, 22), tzinfo=PARIS))
    assert sunset.dusk + timedelta(minutes=30) < civil.dusk + timedelta(minutes=1)
    assert civil.dawn < sunset.dawn


def test_tromso_in_june_has_no_night():
    for day in (date(2026, 6, 1), date(2026, 6, 21), date(2026, 7, 15)):
        for twilight in ("sunset", "civil"):
            assert twilight_times(*TROMSO, day, OSLO, twilight) == NightTimes(None, None, "day")


def test_tromso_in_december_falls_back_to_civil_twilight():
    night = twilight_times(*TROMSO, date(2026, 12, 21), OSLO, "sunset")
    civil = twilight_times(*TROMSO, date(2026, 12, 21), OSLO, "civil")
    assert night.polar == "night"
    assert civil.polar is None  # the sun does reach 6 degrees below the horizon around noon
    assert (night.dusk, night.dawn) == (civil.dusk, civil.dawn)
    # lit from early afternoon to mid-morning, local time
    assert night.dusk.astimezone(OSLO).hour == 13 and night.dawn.astimezone(OSLO).hour == 9
    assert night.dawn.date() == date(2026, 12, 22)


def test_in_the_deep_polar_night_the_night_runs_from_noon_to_noon():
    svalbard = (78.22, 15.65)
    observer = astral.Observer(*svalbard)
    night = twilight_times(*svalbard, date(2026, 12, 21), OSLO, "sunset")
    assert night.polar == "night"
    assert night.dusk == to_minute(astral.sun.noon(observer, date(2026, 12, 21)))
    assert night.dawn == to_minute(astral.sun.noon(observer, date(2026, 12, 22)))
    following = twilight_times(*svalbard, date(2026, 12, 22), OSLO, "sunset")
    assert following.dusk == night.dawn  # one night follows the other: lit throughout


def test_a_sunset_after_local_midnight_belongs_to_the_evening_before():
    reykjavik, tz = (64.15, -21.94), ZoneInfo("Atlantic/Reykjavik")
    night = twilight_times(*reykjavik, date(2026, 6, 19), tz, "sunset")
    assert night.dusk.astimezone(tz).date() == date(2026, 6, 20)  # a few minutes after midnight
    assert night.dusk.astimezone(tz).hour == 0
    assert night.dusk < night.dawn < night.dusk + timedelta(hours=4)


def test_a_place_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="no such place: latitude 91"):
        twilight_times(91, 0, date(2026, 1, 1), PARIS, "sunset")
    with pytest.raises(ValueError, match="twilight must be sunset or civil"):
        twilight_times(48, 2, date(2026, 1, 1), PARIS, "nautical")
