"""Resolution: a night's switch points, who follows which profile, overrides, and whole plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.contract import Plan
from dimming.calendar import CalendarException
from dimming.profiles import Step
from dimming.resolve import (
    Assignment,
    DimmingConfig,
    Lamp,
    Override,
    Profile,
    Rule,
    explain,
    night_levels,
    resolve_plans,
)
from dimming.sun import twilight_times

PARIS = ZoneInfo("Europe/Paris")
OSLO = ZoneInfo("Europe/Oslo")
PARIS_AT = (48.8566, 2.3522)
TROMSO = (69.65, 18.96)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def steps(*specs: tuple) -> tuple[Step, ...]:
    made = []
    for anchor, when, level in specs:
        if anchor == "clock":
            made.append(Step(anchor="clock", time=when, level=level))
        else:
            made.append(Step(anchor=anchor, offset_min=when, level=level))
    return tuple(made)


PART_NIGHT = steps(("dusk", 30, 100), ("clock", "23:00", 50), ("clock", "05:00", 100), ("dawn", 0, 0))
FULL = steps(("dusk", 0, 100), ("dawn", 0, 0))


def points(day: date, profile_steps=PART_NIGHT, twilight="sunset", place=PARIS_AT, tz=PARIS):
    return [(at.isoformat()[5:16], level) for at, level in night_levels(profile_steps, twilight, day, *place, tz)]


# --- one night -----------------------------------------------------------------------


def test_the_spring_clock_change_nights_in_utc():
    # 23:00 is 22:00 UTC before the change (CET) and 21:00 UTC after it (CEST); 05:00 on the
    # morning of the change is already CEST.
    assert points(date(2026, 3, 28)) == [
        ("03-28T18:45", 100),
        ("03-28T22:00", 50),
        ("03-29T03:00", 100),
        ("03-29T05:35", 0),
    ]
    assert points(date(2026, 3, 29)) == [
        ("03-29T18:47", 100),
        ("03-29T21:00", 50),
        ("03-30T03:00", 100),
        ("03-30T05:33", 0),
    ]


def test_the_autumn_clock_change_nights_in_utc():
    assert points(date(2026, 10, 24)) == [
        ("10-24T17:14", 100),
        ("10-24T21:00", 50),
        ("10-25T04:00", 100),
        ("10-25T06:27", 0),
    ]
    assert points(date(2026, 10, 25)) == [
        ("10-25T17:12", 100),
        ("10-25T22:00", 50),
        ("10-26T04:00", 100),
        ("10-26T06:28", 0),
    ]


def test_a_clock_time_skipped_or_repeated_by_the_change():
    skipped = steps(("dusk", 0, 100), ("clock", "02:30", 40), ("dawn", 0, 0))
    # 02:30 does not exist on 29 March: it counts with the winter offset, i.e. 03:30 CEST
    assert ("03-29T01:30", 40) in points(date(2026, 3, 28), skipped)
    # 02:30 happens twice on 25 October: the first time (CEST)
    assert ("10-25T00:30", 40) in points(date(2026, 10, 24), skipped)


def test_a_night_crosses_midnight_and_morning_clock_steps_belong_to_it():
    night = points(
        date(2026, 11, 25),
        steps(
            ("dusk", 0, 100), ("clock", "22:00", 70), ("clock", "00:30", 30), ("clock", "05:45", 100), ("dawn", 15, 0)
        ),
    )
    assert night == [
        ("11-25T16:00", 100),
        ("11-25T21:00", 70),
        ("11-25T23:30", 30),
        ("11-26T04:45", 100),
        ("11-26T07:31", 0),
    ]


def test_in_summer_evening_clock_steps_wait_for_dusk_and_morning_ones_after_dawn_are_dropped():
    profile = steps(("clock", "20:00", 100), ("clock", "23:00", 50), ("clock", "06:30", 100))
    sun = twilight_times(*PARIS_AT, date(2026, 6, 21), PARIS, "sunset")
    assert night_levels(profile, "sunset", date(2026, 6, 21), *PARIS_AT, PARIS) == [
        (sun.dusk, 100),
        (utc("2026-06-21T21:00"), 50),
        (sun.dawn, 0),
    ]
    # in winter the same profile starts at 20:00, after dusk, and relights before dawn
    assert points(date(2026, 12, 21), profile) == [
        ("12-21T19:00", 100),
        ("12-21T22:00", 50),
        ("12-22T05:30", 100),
        ("12-22T07:42", 0),
    ]


def test_a_step_that_comes_too_early_in_a_short_night_lasts_no_time():
    # dusk+200 falls after 23:00 in June: the later step (23:00) takes effect with it
    profile = steps(("dusk", 0, 100), ("dusk", 200, 80), ("clock", "23:00", 40), ("dawn", 0, 0))
    night = night_levels(profile, "sunset", date(2026, 6, 21), *PARIS_AT, PARIS)
    assert [level for _, level in night] == [100, 40, 0]
    assert night[1][0] == night[0][0] + timedelta(minutes=200)


def test_steps_before_dusk_and_after_dawn_extend_the_night():
    profile = steps(("dusk", -20, 100), ("dawn", 20, 0))
    sun = twilight_times(*PARIS_AT, date(2026, 1, 10), PARIS, "civil")
    assert night_levels(profile, "civil", date(2026, 1, 10), *PARIS_AT, PARIS) == [
        (sun.dusk - timedelta(minutes=20), 100),
        (sun.dawn + timedelta(minutes=20), 0),
    ]


def test_under_the_midnight_sun_the_lamp_stays_off():
    assert night_levels(PART_NIGHT, "sunset", date(2026, 6, 21), *TROMSO, OSLO) == []
    assert night_levels(FULL, "civil", date(2026, 6, 21), *TROMSO, OSLO) == []


def test_in_the_polar_night_the_lamp_follows_civil_twilight():
    sun = twilight_times(*TROMSO, date(2026, 12, 21), OSLO, "sunset")
    assert sun.polar == "night"
    night = night_levels(PART_NIGHT, "sunset", date(2026, 12, 21), *TROMSO, OSLO)
    assert night == [
        (sun.dusk + timedelta(minutes=30), 100),
        (utc("2026-12-21T22:00"), 50),
        (utc("2026-12-22T04:00"), 100),
        (sun.dawn, 0),
    ]


# --- who follows what ------------------------------------------------------------------

RES = Profile(1, "Residential", 3, "sunset", PART_NIGHT)
ALL = Profile(2, "Full", 1, "sunset", FULL)
LOW = Profile(3, "Low", 2, "civil", steps(("dusk", 0, 30), ("dawn", 0, 0)))
PROFILES = {p.profile_id: p for p in (RES, ALL, LOW)}
LAMP = Lamp("A1", *PARIS_AT, group_name="centre", street="Rue des Tilleuls", circuit="C1", lighting_class="M4")
NIGHT = date(2026, 11, 25)


def config(assignments=(), exceptions=(), overrides=()) -> DimmingConfig:
    return DimmingConfig(PROFILES, tuple(assignments), tuple(exceptions), tuple(overrides))


LEVELS = [
    ("town", ""),
    ("lighting_class", "M4"),
    ("circuit", "C1"),
    ("street", "Rue des Tilleuls"),
    ("group", "centre"),
    ("lamp", "A1"),
]


def test_the_most_specific_assignment_wins():
    assignments = []
    for number, (kind, target) in enumerate(LEVELS, start=1):
        assignments.append(Assignment(number, kind, target, (number % 3) + 1))
        rule = explain(config(assignments), LAMP, NIGHT)
        assert (rule.source, rule.rule_id) == (kind, number)
    # others in the town follow what reaches them
    neighbour = Lamp("A2", *PARIS_AT, group_name="centre", street="Other", circuit="C9", lighting_class="M4")
    assert explain(config(assignments), neighbour, NIGHT).source == "group"
    stranger = Lamp("Z1", *PARIS_AT)
    assert explain(config(assignments), stranger, NIGHT).source == "town"


def test_assignments_to_something_the_lamp_is_not_in_do_not_reach_it():
    rule = explain(config([Assignment(1, "group", "gare", 1), Assignment(2, "street", "", 2)]), LAMP, NIGHT)
    assert rule == Rule("none", None, None, None, "no profile applies: full light from sunset to sunrise")


def test_an_exception_beats_every_assignment_on_its_nights_only():
    festival = CalendarException(7, "Festival", ALL.profile_id, "yearly", start_day="01-24", end_day="02-01")
    cfg = config([Assignment(1, "lamp", "A1", RES.profile_id)], [festival])
    assert explain(cfg, LAMP, date(2027, 1, 23)).source == "lamp"
    rule = explain(cfg, LAMP, date(2027, 1, 24))
    assert rule == Rule(
        "calendar",
        7,
        ALL.profile_id,
        1,
        'calendar exception "Festival" on the whole town (priority 0): profile "Full" version 1',
    )
    assert explain(cfg, LAMP, date(2027, 2, 1)).source == "calendar"
    assert explain(cfg, LAMP, date(2027, 2, 2)).source == "lamp"


def test_overlapping_exceptions_priority_then_narrower_target_then_newest():
    town_high = CalendarException(
        1, "town high", LOW.profile_id, "dates", date(2026, 12, 1), date(2026, 12, 31), priority=5
    )
    group_low = CalendarException(
        2, "group low", ALL.profile_id, "weekdays", weekdays=(4,), target_kind="group", target="centre"
    )
    group_low_newer = CalendarException(
        3,
        "group newer",
        RES.profile_id,
        "yearly",
        start_day="12-24",
        end_day="12-26",
        target_kind="group",
        target="centre",
    )
    lamp_low = CalendarException(
        4, "lamp low", ALL.profile_id, "yearly", start_day="12-24", end_day="12-24", target_kind="lamp", target="A1"
    )
    cfg = config([], [town_high, group_low, group_low_newer, lamp_low])
    thursday_24 = date(2026, 12, 24)
    assert explain(cfg, LAMP, thursday_24).rule_id == 1  # priority first
    cfg = config([], [group_low, group_low_newer, lamp_low])
    assert explain(cfg, LAMP, thursday_24).rule_id == 4  # then the narrower target
    cfg = config([], [group_low, group_low_newer])
    assert explain(cfg, LAMP, thursday_24).rule_id == 3  # then the newest
    assert explain(cfg, LAMP, date(2026, 12, 31)).rule_id == 2  # only the Thursday rule on the 31st


def test_an_exception_for_another_group_does_not_apply():
    elsewhere = CalendarException(1, "gare", ALL.profile_id, "dates", NIGHT, NIGHT, target_kind="group", target="gare")
    assert explain(config([Assignment(9, "town", "", RES.profile_id)], [elsewhere]), LAMP, NIGHT).source == "town"


def test_an_override_beats_everything_while_active():
    override = Override(
        5, "street", "Rue des Tilleuls", 100, utc("2026-11-25T17:00"), utc("2026-11-25T23:00"), "road works"
    )
    cfg = config(
        [Assignment(1, "lamp", "A1", RES.profile_id)],
        [CalendarException(2, "x", LOW.profile_id, "dates", NIGHT, NIGHT, priority=100)],
        [override],
    )
    assert explain(cfg, LAMP, NIGHT, at=utc("2026-11-25T18:00")) == Rule(
        "override",
        5,
        None,
        None,
        'override at 100 % on street "Rue des Tilleuls" until 2026-11-25 23:00 UTC: road works',
    )
    assert explain(cfg, LAMP, NIGHT, at=utc("2026-11-25T23:00")).source == "calendar"  # expired
    assert explain(cfg, LAMP, NIGHT).source == "calendar"


# --- plans --------------------------------------------------------------------------------

START = utc("2026-11-25T12:00")


def plan_of(cfg: DimmingConfig, lamp: Lamp = LAMP, hours: int = 48, start: datetime = START) -> list[tuple]:
    return [(p.at.isoformat()[5:16], p.level) for p in resolve_plans(cfg, [lamp], start, hours, PARIS)[lamp.lamp_id]]


def test_a_plan_covers_the_horizon_with_the_nights_in_it():
    plan = plan_of(config([Assignment(1, "town", "", RES.profile_id)]))
    assert plan == [
        ("11-25T12:00", 0),
        ("11-25T16:30", 100),
        ("11-25T22:00", 50),
        ("11-26T04:00", 100),
        ("11-26T07:16", 0),
        ("11-26T16:29", 100),
        ("11-26T22:00", 50),
        ("11-27T04:00", 100),
        ("11-27T07:18", 0),
        ("11-27T12:00", 0),
    ]
    full = resolve_plans(config([Assignment(1, "town", "", RES.profile_id)]), [LAMP], START, 72, PARIS)["A1"]
    contract = Plan(version=1, generated_at=START, points=full)  # strictly increasing, UTC
    assert contract.covers_until() - START == timedelta(hours=72)
    assert contract.level_at(utc("2026-11-27T23:00")) == 50


def test_a_plan_starting_in_the_night_begins_with_the_level_in_force():
    plan = plan_of(config([Assignment(1, "town", "", RES.profile_id)]), hours=6, start=utc("2026-11-25T23:10"))
    assert plan == [("11-25T23:10", 50), ("11-26T04:00", 100), ("11-26T05:10", 100)]


def test_a_lamp_no_rule_reaches_is_lit_from_sunset_to_sunrise():
    plan = plan_of(config(), hours=24)
    sun = twilight_times(*PARIS_AT, NIGHT, PARIS, "sunset")
    assert plan == [
        ("11-25T12:00", 0),
        (sun.dusk.isoformat()[5:16], 100),
        (sun.dawn.isoformat()[5:16], 0),
        ("11-26T12:00", 0),
    ]


def test_overrides_end_by_themselves_and_the_schedule_resumes():
    cfg = config(
        [Assignment(1, "town", "", RES.profile_id)],
        overrides=[
            Override(1, "town", "", 0, utc("2026-11-25T20:00"), utc("2026-11-26T02:00")),
            Override(2, "group", "centre", 80, utc("2026-11-25T21:00"), utc("2026-11-25T23:30")),
            Override(3, "group", "centre", 60, utc("2026-11-25T22:00"), utc("2026-11-25T22:30")),
        ],
    )
    assert plan_of(cfg, hours=24) == [
        ("11-25T12:00", 0),
        ("11-25T16:30", 100),
        ("11-25T20:00", 0),  # town-wide: off
        ("11-25T21:00", 80),  # the group's beats the town's
        ("11-25T22:00", 60),  # the newer of the group's
        ("11-25T22:30", 80),
        ("11-25T23:30", 0),  # back to the town-wide override
        ("11-26T02:00", 50),  # expired: the schedule's 50 %
        ("11-26T04:00", 100),
        ("11-26T07:16", 0),
        ("11-26T12:00", 0),
    ]
    other = Lamp("B1", *PARIS_AT, group_name="gare")
    assert ("11-25T21:00", 80) not in plan_of(cfg, other, hours=24)


def test_the_calendar_switches_profile_for_its_night_only():
    exception = CalendarException(1, "Friday", ALL.profile_id, "dates", date(2026, 11, 26), date(2026, 11, 26))
    plan = plan_of(config([Assignment(1, "town", "", RES.profile_id)], [exception]))
    assert plan == [
        ("11-25T12:00", 0),
        ("11-25T16:30", 100),
        ("11-25T22:00", 50),
        ("11-26T04:00", 100),
        ("11-26T07:16", 0),
        ("11-26T15:59", 100),
        ("11-27T07:18", 0),
        ("11-27T12:00", 0),
    ]


def test_the_arctic_lamp_stays_off_in_june_and_is_lit_in_december():
    arctic = Lamp("T1", *TROMSO)
    cfg = config([Assignment(1, "town", "", RES.profile_id)])
    june = resolve_plans(cfg, [arctic], utc("2026-06-20T12:00"), 72, OSLO)["T1"]
    assert [p.level for p in june] == [0, 0]
    december = resolve_plans(cfg, [arctic], utc("2026-12-20T12:00"), 48, OSLO)["T1"]
    assert [p.level for p in december] == [0, 100, 50, 100, 0, 100, 50, 100, 0, 0]


def test_noon_to_noon_polar_nights_join_into_one_lit_stretch():
    svalbard = Lamp("S1", 78.22, 15.65)
    plan = resolve_plans(
        config([Assignment(1, "town", "", ALL.profile_id)]), [svalbard], utc("2026-12-20T00:00"), 72, OSLO
    )["S1"]
    assert [p.level for p in plan] == [100, 100]


def test_lamps_sharing_rules_and_place_share_the_plan_and_others_do_not():
    cfg = config([Assignment(1, "town", "", RES.profile_id), Assignment(2, "group", "gare", ALL.profile_id)])
    lamps = [Lamp(f"C{n}", 48.8566 + n * 0.001, 2.3522, group_name="centre") for n in range(3)]
    lamps += [Lamp("G1", *PARIS_AT, group_name="gare"), Lamp("N1", 60.17, 24.94, group_name="centre")]
    plans = resolve_plans(cfg, lamps, START, 48, PARIS)
    assert set(plans) == {"C0", "C1", "C2", "G1", "N1"}
    assert plans["C0"] == plans["C1"] == plans["C2"]
    assert plans["G1"] != plans["C0"] and plans["N1"] != plans["C0"]
    plans["C0"].pop()  # each lamp's list is its own
    assert len(plans["C1"]) == len(plans["C0"]) + 1


def test_a_start_without_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        resolve_plans(config(), [LAMP], datetime(2026, 11, 25), 48, PARIS)
