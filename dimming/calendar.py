"""Calendar exceptions: nights that follow another profile, and on which dates they apply.

An exception applies to the night that starts on a matching town-local date (the evening
of 31 December is New Year's Eve's night, even after midnight). Its kind is `dates`,
`weekdays` (ISO 1 = Monday) or `yearly` ("MM-DD" to "MM-DD", may wrap the year end);
docs/dimming.md ("Who follows which profile") has the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

ExceptionKind = Literal["dates", "weekdays", "yearly"]
MONTH_DAY_PATTERN = r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_MONTH_DAY_RE = re.compile(MONTH_DAY_PATTERN)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 is allowed: it matches in leap years


@dataclass(frozen=True, slots=True)
class CalendarException:
    exception_id: int
    name: str
    profile_id: int
    kind: ExceptionKind
    start_date: date | None = None
    end_date: date | None = None
    weekdays: tuple[int, ...] = ()
    start_day: str | None = None
    end_day: str | None = None
    target_kind: str = "town"
    target: str = ""
    priority: int = 0


def month_day(text: str) -> tuple[int, int]:
    """ "MM-DD" as (month, day); ValueError naming the problem."""
    if not _MONTH_DAY_RE.match(text):
        raise ValueError(f"{text!r} is not a day of the year as MM-DD")
    month, day = int(text[:2]), int(text[3:])
    if day > _DAYS_IN_MONTH[month - 1]:
        raise ValueError(f"{text!r}: month {month} has no day {day}")
    return month, day


def matches(exception: CalendarException, day: date) -> bool:
    """Whether the exception applies to the night that starts on local date `day`."""
    if exception.kind == "dates":
        return (
            exception.start_date is not None
            and exception.end_date is not None
            and (exception.start_date <= day <= exception.end_date)
        )
    if exception.kind == "weekdays":
        if exception.start_date is not None and day < exception.start_date:
            return False
        if exception.end_date is not None and day > exception.end_date:
            return False
        return day.isoweekday() in exception.weekdays
    if exception.kind == "yearly":
        if exception.start_day is None or exception.end_day is None:
            return False
        first, last, today = month_day(exception.start_day), month_day(exception.end_day), (day.month, day.day)
        if first <= last:
            return first <= today <= last
        return today >= first or today <= last  # wraps the year end
    return False


def check(exception: CalendarException) -> list[tuple[str, str]]:
    """What is wrong with an exception's dates, as (field, message) pairs; empty when it is fine."""
    problems: list[tuple[str, str]] = []
    if exception.kind == "dates":
        if exception.start_date is None:
            problems.append(("start_date", "a dates exception needs start_date"))
        if exception.end_date is None:
            problems.append(("end_date", "a dates exception needs end_date"))
    if exception.start_date and exception.end_date and exception.end_date < exception.start_date:
        problems.append(("end_date", f"end_date {exception.end_date} is before start_date {exception.start_date}"))
    if exception.kind == "weekdays":
        if not exception.weekdays:
            problems.append(("weekdays", "a weekdays exception needs at least one weekday (1 = Monday ... 7 = Sunday)"))
        wrong = [day for day in exception.weekdays if not 1 <= day <= 7]
        if wrong:
            problems.append(("weekdays", f"weekdays are 1 (Monday) to 7 (Sunday), not {wrong}"))
    if exception.kind == "yearly":
        for name in ("start_day", "end_day"):
            value = getattr(exception, name)
            if value is None:
                problems.append((name, f"a yearly exception needs {name} (MM-DD)"))
                continue
            try:
                month_day(value)
            except ValueError as exc:
                problems.append((name, str(exc)))
    return problems
