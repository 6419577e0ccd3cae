"""From profiles, assignments, the calendar and overrides to each lamp's plan. Pure: no I/O.

A lamp follows, on the night starting on local date D, the calendar exception matching
it, else its most specific assignment, else full light from dusk to dawn; an active
override beats all three while it lasts. `night_levels` turns a profile into the night's
switch points. The rules, with their order of precedence, are in docs/dimming.md.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from core.contract import PlanPoint
from dimming.calendar import CalendarException, matches
from dimming.profiles import NIGHT_SPLIT, Step, Twilight
from dimming.sun import twilight_times

TargetKind = Literal["town", "lighting_class", "circuit", "street", "group", "lamp"]
# Most specific first.
TARGET_KINDS: tuple[TargetKind, ...] = ("lamp", "group", "street", "circuit", "lighting_class", "town")
SPECIFICITY: dict[str, int] = {kind: len(TARGET_KINDS) - rank for rank, kind in enumerate(TARGET_KINDS)}
# Sun times are shared by the lamps of one place, rounded to this many decimals of a degree.
PLACE_DECIMALS = 2

Source = Literal["override", "calendar", "lamp", "group", "street", "circuit", "lighting_class", "town", "none"]
SwitchPoint = tuple[datetime, int]

DEFAULT_STEPS: tuple[Step, ...] = (
    Step(anchor="dusk", offset_min=0, level=100),
    Step(anchor="dawn", offset_min=0, level=0),
)
DEFAULT_TWILIGHT: Twilight = "sunset"


@dataclass(frozen=True, slots=True)
class Lamp:
    lamp_id: str
    lat: float
    lon: float
    group_name: str = ""
    street: str = ""
    circuit: str = ""
    lighting_class: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """The version of a profile in force."""

    profile_id: int
    name: str
    version: int
    twilight: Twilight
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Assignment:
    assignment_id: int
    target_kind: TargetKind
    target: str
    profile_id: int


@dataclass(frozen=True, slots=True)
class Override:
    override_id: int
    target_kind: TargetKind
    target: str
    level: int
    starts_at: datetime
    expires_at: datetime
    reason: str = ""
    created_by: str = ""

    def active_at(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.expires_at


@dataclass(frozen=True, slots=True)
class DimmingConfig:
    profiles: Mapping[int, Profile] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] = ()
    exceptions: tuple[CalendarException, ...] = ()
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """What gives a lamp its light on a night, for people to read."""

    source: Source
    rule_id: int | None
    profile_id: int | None
    profile_version: int | None
    description: str


def lamp_target(lamp: Lamp, kind: str) -> str:
    """The lamp's name for a target kind: its id, group, street, circuit or class ('' for the town)."""
    if kind == "lamp":
        return lamp.lamp_id
    if kind == "group":
        return lamp.group_name
    if kind == "town":
        return ""
    return getattr(lamp, kind)


def reaches(target_kind: str, target: str, lamp: Lamp) -> bool:
    """Whether a rule aimed at (target_kind, target) applies to the lamp."""
    if target_kind == "town":
        return True
    return target != "" and lamp_target(lamp, target_kind) == target


def _target_text(kind: str, target: str) -> str:
    return "the whole town" if kind == "town" else f'{kind.replace("_", " ")} "{target}"'


# --- one night --------------------------------------------------------------------


def _step_instant(step: Step, day: date, dusk: datetime, dawn: datetime, tz: ZoneInfo) -> datetime:
    if step.anchor == "dusk":
        return dusk + timedelta(minutes=step.offset_min or 0)
    if step.anchor == "dawn":
        return dawn + timedelta(minutes=step.offset_min or 0)
    clock = step.clock_time()
    on = day if clock >= NIGHT_SPLIT else day + timedelta(days=1)
    # A clock time skipped in spring counts with the offset before the change (02:30
    # becomes 03:30); one repeated in autumn is its first occurrence (PEP 495, fold=0).
    return datetime.combine(on, clock, tzinfo=tz).astimezone(UTC)


def night_levels(
    steps: Sequence[Step], twilight: Twilight, day: date, lat: float, lon: float, tz: ZoneInfo
) -> list[SwitchPoint]:
    """UTC switch points of the night starting on local date `day`, ending with a level-0 point.

    Empty under the midnight sun. Steps are taken as valid (see validate_profile).
    """
    sun = twilight_times(lat, lon, day, tz, twilight)
    if sun.dusk is None or sun.dawn is None:
        return []
    instants = [_step_instant(step, day, sun.dusk, sun.dawn, tz) for step in steps]
    start = min([sun.dusk] + [at for step, at in zip(steps, instants) if step.anchor == "dusk"])
    end = max([sun.dawn] + [at for step, at in zip(steps, instants) if step.anchor == "dawn"])
    points: list[SwitchPoint] = []
    for step, at in zip(steps, instants):
        if at >= end:
            continue
        at = max(at, start, points[-1][0] if points else start)
        if points and points[-1][0] == at:
            points[-1] = (at, step.level)
        else:
            points.append((at, step.level))
    points.append((end, 0))
    return _without_repeats(points)


def _without_repeats(points: list[SwitchPoint]) -> list[SwitchPoint]:
    """Drop points that do not change the level (the first point is kept even at 0)."""
    kept: list[SwitchPoint] = []
    for point in points:
        if kept and kept[-1][1] == point[1]:
            continue
        kept.append(point)
    return kept


# --- who follows what -------------------------------------------------------------


class _Index:
    """The configuration arranged for fast look-ups, built once per resolution."""

    def __init__(self, config: DimmingConfig) -> None:
        self.config = config
        self.assignments: dict[str, dict[str, Assignment]] = {kind: {} for kind in TARGET_KINDS}
        for assignment in config.assignments:
            if assignment.profile_id in config.profiles:
                self.assignments[assignment.target_kind][assignment.target] = assignment
        self.exceptions = [e for e in config.exceptions if e.profile_id in config.profiles]
        self.overrides = list(config.overrides)
        # Lamps named by a rule of their own; every other lamp is known by its groups alone.
        self.named_lamps = {a.target for a in config.assignments if a.target_kind == "lamp"}
        self.named_lamps |= {e.target for e in self.exceptions if e.target_kind == "lamp"}
        self.named_lamps |= {o.target for o in self.overrides if o.target_kind == "lamp"}
        self._exceptions_on: dict[date, list[CalendarException]] = {}

    def signature(self, lamp: Lamp) -> tuple[str, str, str, str, str]:
        """What rule matching looks at: lamps with equal signatures follow the same rules."""
        named = lamp.lamp_id if lamp.lamp_id in self.named_lamps else ""
        return (named, lamp.group_name, lamp.street, lamp.circuit, lamp.lighting_class)

    def exceptions_on(self, day: date) -> list[CalendarException]:
        found = self._exceptions_on.get(day)
        if found is None:
            found = self._exceptions_on[day] = [e for e in self.exceptions if matches(e, day)]
        return found

    def calendar_rule(self, lamp: Lamp, day: date) -> CalendarException | None:
        candidates = [e for e in self.exceptions_on(day) if reaches(e.target_kind, e.target, lamp)]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (e.priority, SPECIFICITY[e.target_kind], e.exception_id))

    def assignment(self, lamp: Lamp) -> Assignment | None:
        for kind in TARGET_KINDS:
            name = lamp_target(lamp, kind)
            if kind != "town" and name == "":
                continue
            found = self.assignments[kind].get(name)
            if found is not None:
                return found
        return None

    def profile_for(self, lamp: Lamp, day: date) -> Profile | None:
        exception = self.calendar_rule(lamp, day)
        if exception is not None:
            return self.config.profiles[exception.profile_id]
        assignment = self.assignment(lamp)
        return self.config.profiles[assignment.profile_id] if assignment is not None else None

    def overrides_for(self, lamp: Lamp) -> tuple[Override, ...]:
        return tuple(o for o in self.overrides if reaches(o.target_kind, o.target, lamp))


def _winning_override(overrides: Iterable[Override], instant: datetime) -> Override | None:
    active = [o for o in overrides if o.active_at(instant)]
    if not active:
        return None
    return max(active, key=lambda o: (SPECIFICITY[o.target_kind], o.override_id))


def explain(config: DimmingConfig, lamp: Lamp, day: date, at: datetime | None = None) -> Rule:
    """Which rule gives the lamp its light on the night starting on local date `day`.

    With `at`, an override active at that instant is the answer.
    """
    index = _Index(config)
    if at is not None:
        override = _winning_override(index.overrides_for(lamp), at)
        if override is not None:
            until = override.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            reason = f": {override.reason}" if override.reason else ""
            return Rule(
                "override",
                override.override_id,
                None,
                None,
                f"override at {override.level} % on {_target_text(override.target_kind, override.target)}"
                f" until {until}{reason}",
            )
    exception = index.calendar_rule(lamp, day)
    if exception is not None:
        profile = config.profiles[exception.profile_id]
        return Rule(
            "calendar",
            exception.exception_id,
            profile.profile_id,
            profile.version,
            f'calendar exception "{exception.name}" on {_target_text(exception.target_kind, exception.target)}'
            f' (priority {exception.priority}): profile "{profile.name}" version {profile.version}',
        )
    assignment = index.assignment(lamp)
    if assignment is not None:
        profile = config.profiles[assignment.profile_id]
        return Rule(
            assignment.target_kind,
            assignment.assignment_id,
            profile.profile_id,
            profile.version,
            f"assigned to {_target_text(assignment.target_kind, assignment.target)}:"
            f' profile "{profile.name}" version {profile.version}',
        )
    return Rule("none", None, None, None, "no profile applies: full light from sunset to sunrise")


# --- plans ------------------------------------------------------------------------


def _level_at(points: Sequence[SwitchPoint], times: Sequence[datetime], instant: datetime) -> int:
    position = bisect.bisect_right(times, instant)
    return points[position - 1][1] if position else 0


def _join_nights(nights: Iterable[list[SwitchPoint]]) -> list[SwitchPoint]:
    """One timeline from consecutive nights; where two overlap, the later night wins from its start."""
    timeline: list[SwitchPoint] = []
    for points in nights:
        if not points:
            continue
        while timeline and timeline[-1][0] >= points[0][0]:
            timeline.pop()
        timeline.extend(points)
    return timeline


def _with_overrides(timeline: list[SwitchPoint], overrides: Sequence[Override]) -> list[SwitchPoint]:
    if not overrides:
        return timeline
    times = [at for at, _ in timeline]
    moments = sorted(set(times) | {o.starts_at for o in overrides} | {o.expires_at for o in overrides})
    merged: list[SwitchPoint] = []
    for moment in moments:
        override = _winning_override(overrides, moment)
        merged.append((moment, override.level if override else _level_at(timeline, times, moment)))
    return merged


def _window(timeline: list[SwitchPoint], start: datetime, end: datetime) -> list[SwitchPoint]:
    """The points from `start` (with the level then in force) to `end` (a last point, for coverage)."""
    times = [at for at, _ in timeline]
    points = [(start, _level_at(timeline, times, start))]
    points += [(at, level) for at, level in timeline if start < at < end]
    points = _without_repeats(points)
    points.append((end, _level_at(timeline, times, end)))
    return points


def resolve_plans(
    config: DimmingConfig, lamps: Iterable[Lamp], start: datetime, hours: int, tz: ZoneInfo
) -> dict[str, list[PlanPoint]]:
    """Each lamp's switch points from `start` to `start + hours`, as the plan of the contract.

    The first point is at `start` (the level then in force), the last at the end (so
    that the plan covers the horizon); in between, one point per change. Pass a start
    rounded (e.g. to the minute) so that unchanged plans resolve equal.

    Lamps that follow the same rules at the same rounded place share one computation
    (sun times per place and date, nights per profile version, place and date).
    """
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if hours <= 0:
        raise ValueError(f"hours must be positive, not {hours}")
    start = start.astimezone(UTC)
    end = start + timedelta(hours=hours)
    first_day = start.astimezone(tz).date() - timedelta(days=1)  # last night may still be running
    days = [first_day + timedelta(days=n) for n in range((end.astimezone(tz).date() - first_day).days + 1)]
    index = _Index(config)
    nights: dict[tuple, list[SwitchPoint]] = {}
    plans_by_key: dict[tuple, list[PlanPoint]] = {}
    rules_by_signature: dict[tuple, tuple] = {}
    rule_ids: dict[tuple, int] = {}  # one small number per distinct set of rules
    plans: dict[str, list[PlanPoint]] = {}
    for lamp in lamps:
        signature = index.signature(lamp)
        rules = rules_by_signature.get(signature)
        if rules is None:
            # Lamps whose profiles (by id and version) and overrides are the same share a number.
            profiles = tuple(index.profile_for(lamp, day) for day in days)
            overrides = index.overrides_for(lamp)
            same = (tuple((p.profile_id, p.version) if p else None for p in profiles), overrides)
            rules = rules_by_signature[signature] = (rule_ids.setdefault(same, len(rule_ids)), profiles, overrides)
        place = (round(lamp.lat, PLACE_DECIMALS), round(lamp.lon, PLACE_DECIMALS))
        key = (rules[0], place)
        plan = plans_by_key.get(key)
        if plan is None:
            _, profiles, overrides = rules
            timeline = _join_nights(
                _cached_night(nights, profile, day, place, tz) for profile, day in zip(profiles, days)
            )
            points = _window(_with_overrides(timeline, overrides), start, end)
            plan = plans_by_key[key] = [PlanPoint(at=at, level=level) for at, level in points]
        plans[lamp.lamp_id] = list(plan)
    return plans


def _cached_night(
    cache: dict[tuple, list[SwitchPoint]], profile: Profile | None, day: date, place: tuple[float, float], tz: ZoneInfo
) -> list[SwitchPoint]:
    key = (profile.profile_id, profile.version) if profile else None, day, place
    points = cache.get(key)
    if points is None:
        steps, twilight = (profile.steps, profile.twilight) if profile else (DEFAULT_STEPS, DEFAULT_TWILIGHT)
        points = cache[key] = night_levels(steps, twilight, day, place[0], place[1], tz)
    return points
