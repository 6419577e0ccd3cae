"""The rules of plan pushing, free of I/O: which lamps need a new plan, the plan's bytes, retry backoff.

A lamp's plan is held as `Points`: a tuple of (UTC instant, level) pairs in strictly
increasing time order, as in the contract's `Plan.points`. A level holds from its
instant until the next one; before the first and after the last point the plan is
not in force.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import TypeAdapter

from core.contract import PLAN_MIN_HORIZON, Plan, PlanPoint

Points = tuple[tuple[datetime, int], ...]

# A plan is extended (pushed again, unchanged where it overlaps) once it reaches less
# than this much further than the horizon a new plan would reach: once a day.
EXTEND_EVERY = timedelta(hours=24)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


class PushReason(StrEnum):
    NEW = "new"  # the lamp never had a plan
    CHANGED = "changed"  # its levels differ where the old and the new plan overlap
    EXTEND = "extend"  # the daily push that keeps the horizon ahead
    REQUESTED = "requested"  # someone asked to push every plan again


@dataclass(frozen=True, slots=True)
class LatestPlan:
    """What the scheduler knows of a lamp's most recent plan version."""

    version: int
    points: Points
    pushed_at: datetime | None  # when the broker last took it; None: not (yet) published
    attempts: int
    answered: bool  # the controller applied or rejected it


def as_points(points: Iterable[PlanPoint]) -> Points:
    return tuple((p.at, p.level) for p in points)


def level_at(points: Points, when: datetime) -> int | None:
    """The level in force at `when`; None before the first point or after the last one."""
    if not points or when > points[-1][0]:
        return None
    index = bisect.bisect_right(points, when, key=lambda point: point[0]) - 1
    return points[index][1] if index >= 0 else None


def plan_points(resolved: Sequence[PlanPoint], start: datetime, end: datetime) -> Points:
    """The points to push for the window [start, end], from what the resolver gave.

    Points after `end` are dropped, and a closing point at `end` carries the level in
    force there, so that every plan reaches exactly to the end of its horizon (the
    contract asks for at least 48 h) whatever the season: a lamp with no switch in the
    window (the midnight sun) gets two level-0 points, at `start` and at `end`.
    """
    kept = [(p.at, p.level) for p in resolved if p.at <= end]
    if not kept:
        return ((start, 0), (end, 0))
    if kept[-1][0] < end:
        kept.append((end, kept[-1][1]))
    return tuple(kept)


def levels_differ(old: Points, new: Points) -> bool:
    """True when the two plans command a different level at some instant both cover."""
    if not old or not new:
        return bool(old) != bool(new)
    begin = max(old[0][0], new[0][0])
    finish = min(old[-1][0], new[-1][0])
    if begin > finish:
        return False  # nothing in common: not a change (the caller decides about gaps)
    instants = {begin}
    instants.update(at for at, _ in old if begin <= at <= finish)
    instants.update(at for at, _ in new if begin <= at <= finish)
    return any(level_at(old, at) != level_at(new, at) for at in instants)


def push_reason(latest: LatestPlan | None, new_points: Points, now: datetime, horizon: timedelta) -> PushReason | None:
    """Why the lamp needs a new version now, or None when its latest plan still serves."""
    return ChangeDetector(now, horizon).reason(latest, new_points)


class ChangeDetector:
    """`push_reason` for a whole town: lamps that share their old and new points share one comparison.

    Points are compared by identity here; the resolver and the scheduler share point
    lists between lamps of one place and rule, so a town-wide check makes a few hundred
    comparisons, not one per lamp.
    """

    def __init__(self, now: datetime, horizon: timedelta) -> None:
        self.now = now
        self.horizon = horizon
        self._differ: dict[tuple[int, int], tuple[Points, Points, bool]] = {}

    def reason(self, latest: LatestPlan | None, new_points: Points) -> PushReason | None:
        if latest is None:
            return PushReason.NEW
        key = (id(latest.points), id(new_points))
        known = self._differ.get(key)
        if known is None:  # the tuples are kept with the answer, so their ids stay theirs
            known = self._differ[key] = (latest.points, new_points, levels_differ(latest.points, new_points))
        if known[2]:
            return PushReason.CHANGED
        if latest.points[-1][0] < self.now + self.horizon - EXTEND_EVERY:
            return PushReason.EXTEND
        return None


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th unanswered publish: 1 min, 2, 4, ... at most 1 h."""
    if attempts <= 0:
        return timedelta(0)
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LONGEST_RETRY)


def retry_due(latest: LatestPlan, now: datetime) -> bool:
    """True when the latest plan is still unanswered and its wait is over (or it never went out)."""
    if latest.answered:
        return False
    if latest.pushed_at is None:
        return True
    return now >= latest.pushed_at + retry_delay(latest.attempts)


# --- the bytes on the wire -----------------------------------------------------
_POINTS_JSON = TypeAdapter(list[PlanPoint])


class PlanEncoder:
    """Encodes plans as the contract's JSON, fast: each distinct points list is checked once.

    Lamps that share a place and a rule share their points, so a town-wide push checks
    and serialises a few hundred point lists, not one per lamp.
    """

    def __init__(self) -> None:
        self._fragments: dict[Points, bytes] = {}
        self._by_identity: dict[int, tuple[Points, bytes]] = {}

    def encode(self, version: int, generated_at: datetime, points: Points) -> bytes:
        known = self._by_identity.get(id(points))
        fragment = known[1] if known is not None and known[0] is points else self._fragments.get(points)
        if fragment is None:
            plan = Plan(
                version=version,
                generated_at=generated_at,
                points=[PlanPoint(at=at, level=level) for at, level in points],
            )  # raises if these points break the contract
            fragment = _POINTS_JSON.dump_json(plan.points)
            self._fragments[points] = fragment
        self._by_identity[id(points)] = (points, fragment)
        stamp = generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return b'{"version":%d,"generated_at":"%s","points":%s}' % (version, stamp.encode(), fragment)


def generation_time(now: datetime) -> datetime:
    """A plan's generated_at: now, to the second, in UTC."""
    return now.astimezone(UTC).replace(microsecond=0)


def covers_min_horizon(generated_at: datetime, points: Points) -> bool:
    return bool(points) and points[-1][0] - generated_at >= PLAN_MIN_HORIZON


# --- what the status page calls each lamp ---------------------------------------
class PushState(StrEnum):
    APPLIED = "applied"  # the controller applied its latest plan, which reaches far enough ahead
    PENDING = "pending"  # the latest plan is on its way: pushed, not answered yet
    REJECTED = "rejected"  # the controller refused its latest plan (it keeps the one before)
    STALE = "stale"  # the lamp runs an older plan than its schedule, or none


# An unanswered plan is pending this long after it was made; after that the controller is
# taken to be offline or deaf, running an older plan than its schedule.
PENDING_FOR = timedelta(hours=1)
# An applied plan that ends sooner than this was not extended: the scheduler is not running.
RUNS_OUT_WITHIN = timedelta(hours=24)
