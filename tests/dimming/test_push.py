"""The rules of plan pushing: change detection over the common window, horizon, backoff, the bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.contract import PLAN_MIN_HORIZON, Plan, PlanPoint
from dimming.push import (
    LONGEST_RETRY,
    LatestPlan,
    PlanEncoder,
    PushReason,
    level_at,
    levels_differ,
    plan_points,
    push_reason,
    retry_delay,
    retry_due,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HORIZON = timedelta(hours=72)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def points(*pairs: tuple[float, int]):
    return tuple((at(h), level) for h, level in pairs)


def night(start_h: float) -> list[tuple[float, int]]:
    """Dusk 100 %, 60 % from 22:00, 100 % at 05:00, off at dawn (hours from T0 = noon)."""
    return [(start_h + 4.5, 100), (start_h + 10, 60), (start_h + 17, 100), (start_h + 19.5, 0)]


def three_nights(start_h: float = 0.0):
    return points(*night(start_h), *night(start_h + 24), *night(start_h + 48), (start_h + 72, 0))


def test_level_at_holds_each_level_until_the_next_point():
    plan = points((1, 100), (3, 50), (5, 0))
    assert level_at(plan, at(0.5)) is None
    assert level_at(plan, at(1)) == 100
    assert level_at(plan, at(2.9)) == 100
    assert level_at(plan, at(3)) == 50
    assert level_at(plan, at(5)) == 0
    assert level_at(plan, at(5.1)) is None


def test_plan_points_reach_exactly_to_the_end_of_the_horizon():
    resolved = [PlanPoint(at=at(h), level=level) for h, level in night(0) + night(24) + night(48) + night(72)]
    kept = plan_points(resolved, T0, at(72))
    assert kept[-1] == (at(72), 0)
    assert all(when <= at(72) for when, _ in kept)
    assert len(kept) == 13  # three nights of four points, and the closing point


def test_a_horizon_ending_in_the_night_closes_with_the_level_in_force():
    resolved = [PlanPoint(at=at(h), level=level) for h, level in night(0) + night(24)]
    kept = plan_points(resolved, T0, at(36))  # midnight of the second night: 60 %
    assert kept[-1] == (at(36), 60)


def test_no_switch_in_the_window_gives_lamps_off_for_the_whole_horizon():
    # Under the midnight sun the resolver finds no night at all.
    assert plan_points([], T0, at(72)) == ((T0, 0), (at(72), 0))


def test_the_same_nights_resolved_later_are_not_a_change():
    earlier = three_nights(0)
    later = three_nights(0)[2:] + points(*night(72)[:2])  # an hour on: one night further
    assert not levels_differ(earlier, later)


def test_a_changed_level_inside_the_common_window_is_a_change():
    old = three_nights(0)
    new = tuple((when, 30 if level == 60 else level) for when, level in old)
    assert levels_differ(old, new)


def test_a_moved_switch_time_is_a_change():
    old = three_nights(0)
    new = tuple((when + timedelta(minutes=15) if level == 60 else when, level) for when, level in old)
    assert levels_differ(old, new)


def test_a_change_outside_the_common_window_is_not_a_change():
    old = points((0, 0), (4.5, 100), (10, 60), (24, 0))
    new = points((24, 0), (28.5, 100), (34, 30), (96, 0))  # differs only after the old plan ends
    assert not levels_differ(old, new)


def test_push_reasons():
    plan = three_nights(0)
    assert push_reason(None, plan, T0, HORIZON) is PushReason.NEW
    latest = LatestPlan(3, plan, T0, 1, True)
    assert push_reason(latest, plan, T0 + timedelta(hours=1), HORIZON) is None
    changed = tuple((when, 20 if level == 60 else level) for when, level in plan)
    assert push_reason(latest, changed, T0 + timedelta(hours=1), HORIZON) is PushReason.CHANGED
    # A day later the plan reaches only 48 h ahead: extended, though unchanged.
    assert push_reason(latest, plan, T0 + timedelta(hours=23, minutes=59), HORIZON) is None
    assert push_reason(latest, plan, T0 + timedelta(hours=24, minutes=1), HORIZON) is PushReason.EXTEND


@pytest.mark.parametrize(("attempts", "minutes"), [(0, 0), (1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (50, 60)])
def test_retry_backoff_doubles_up_to_an_hour(attempts, minutes):
    assert retry_delay(attempts) == timedelta(minutes=minutes)
    assert retry_delay(attempts) <= LONGEST_RETRY


def test_retry_due():
    plan = three_nights(0)
    never_sent = LatestPlan(2, plan, None, 0, False)
    assert retry_due(never_sent, T0)
    sent_twice = LatestPlan(2, plan, T0, 2, False)
    assert not retry_due(sent_twice, T0 + timedelta(seconds=119))
    assert retry_due(sent_twice, T0 + timedelta(seconds=120))
    answered = LatestPlan(2, plan, T0, 1, True)
    assert not retry_due(answered, T0 + timedelta(days=1))


def test_encoded_plans_are_the_contract_and_cover_the_minimum_horizon():
    encoder = PlanEncoder()
    generated_at = T0 + timedelta(microseconds=123)
    payload = encoder.encode(7, generated_at.replace(microsecond=0), three_nights(0))
    plan = Plan.model_validate_json(payload)
    assert plan.version == 7
    assert plan.generated_at == T0
    assert [(p.at, p.level) for p in plan.points] == list(three_nights(0))
    assert plan.covers_until() - plan.generated_at >= PLAN_MIN_HORIZON
    # The same points for another lamp: the same bytes apart from the version.
    assert encoder.encode(8, T0, three_nights(0)) == payload.replace(b'"version":7', b'"version":8')


def test_points_that_break_the_contract_are_refused_before_they_go_out():
    with pytest.raises(ValueError, match="increasing"):
        PlanEncoder().encode(1, T0, points((2, 100), (1, 0)))


def test_the_change_detector_compares_shared_points_once():
    from dimming.push import ChangeDetector

    old, same, changed = (
        three_nights(0),
        three_nights(0),
        tuple((w, 10 if lv == 60 else lv) for w, lv in three_nights(0)),
    )
    detector = ChangeDetector(T0 + timedelta(hours=1), HORIZON)
    latest = LatestPlan(1, old, T0, 1, True)
    assert detector.reason(latest, same) is None
    assert detector.reason(latest, changed) is PushReason.CHANGED
    assert detector.reason(latest, changed) is PushReason.CHANGED  # answered from memory
