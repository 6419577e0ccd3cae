"""Which nights a calendar exception covers, and what is wrong with one."""

from __future__ import annotations

from datetime import date, timedelta

from dimming.calendar import CalendarException, check, matches


def exception(kind: str, **fields) -> CalendarException:
    return CalendarException(exception_id=1, name="x", profile_id=1, kind=kind, **fields)


def nights(rule: CalendarException, first: date, last: date) -> list[date]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [day for day in days if matches(rule, day)]


def test_a_date_range_includes_both_ends():
    rule = exception("dates", start_date=date(2026, 7, 13), end_date=date(2026, 7, 14))
    assert nights(rule, date(2026, 7, 10), date(2026, 7, 20)) == [date(2026, 7, 13), date(2026, 7, 14)]


def test_weekdays_follow_iso_numbers_and_may_be_bounded():
    fridays_saturdays = exception("weekdays", weekdays=(5, 6))
    assert nights(fridays_saturdays, date(2026, 11, 23), date(2026, 11, 29)) == [date(2026, 11, 27), date(2026, 11, 28)]
    summer_only = exception("weekdays", weekdays=(5,), start_date=date(2026, 6, 1), end_date=date(2026, 8, 31))
    assert nights(summer_only, date(2026, 5, 25), date(2026, 6, 14)) == [date(2026, 6, 5), date(2026, 6, 12)]
    assert not matches(summer_only, date(2026, 9, 4))


def test_a_festival_from_24_january_to_1_february_comes_back_every_year():
    festival = exception("yearly", start_day="01-24", end_day="02-01")
    for year in (2026, 2027, 2028):
        covered = nights(festival, date(year, 1, 1), date(year, 12, 31))
        assert covered[0] == date(year, 1, 24) and covered[-1] == date(year, 2, 1) and len(covered) == 9


def test_a_yearly_range_may_wrap_the_year_end():
    holidays = exception("yearly", start_day="12-24", end_day="01-01")
    covered = nights(holidays, date(2026, 12, 1), date(2027, 1, 31))
    assert covered == [date(2026, 12, 24) + timedelta(days=n) for n in range(9)]


def test_a_single_public_holiday():
    bastille_day = exception("yearly", start_day="07-14", end_day="07-14")
    assert nights(bastille_day, date(2026, 1, 1), date(2026, 12, 31)) == [date(2026, 7, 14)]


def test_29_february_matches_in_leap_years_only():
    leap_day = exception("yearly", start_day="02-29", end_day="02-29")
    assert nights(leap_day, date(2027, 1, 1), date(2028, 12, 31)) == [date(2028, 2, 29)]


def test_problems_name_the_field():
    assert check(exception("dates", start_date=date(2026, 1, 2))) == [("end_date", "a dates exception needs end_date")]
    assert check(exception("dates", start_date=date(2026, 1, 2), end_date=date(2026, 1, 1))) == [
        ("end_date", "end_date 2026-01-01 is before start_date 2026-01-02")
    ]
    assert check(exception("weekdays")) == [
        ("weekdays", "a weekdays exception needs at least one weekday (1 = Monday ... 7 = Sunday)")
    ]
    assert check(exception("weekdays", weekdays=(0, 3))) == [
        ("weekdays", "weekdays are 1 (Monday) to 7 (Sunday), not [0]")
    ]
    assert check(exception("yearly", start_day="04-31")) == [
        ("start_day", "'04-31': month 4 has no day 31"),
        ("end_day", "a yearly exception needs end_day (MM-DD)"),
    ]
    assert check(exception("yearly", start_day="12-24", end_day="01-01")) == []
