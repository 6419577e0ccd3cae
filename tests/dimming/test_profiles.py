"""Profile validation: every problem reported at once, each naming its step."""

from __future__ import annotations

import pytest

from dimming.profiles import ProfileError, ProfileSpec, Step, StepError, validate_profile


def spec(*steps: dict, twilight: str = "sunset") -> ProfileSpec:
    return ProfileSpec(name="p", twilight=twilight, steps=[Step(**step) for step in steps])


DUSK = {"anchor": "dusk", "offset_min": 0, "level": 100}
DAWN = {"anchor": "dawn", "offset_min": 0, "level": 0}


def errors_of(profile: ProfileSpec, *, min_level: int = 0, max_steps: int = 12) -> list[StepError]:
    with pytest.raises(ProfileError) as caught:
        validate_profile(profile, min_level=min_level, max_steps=max_steps)
    return caught.value.errors


def test_a_usual_part_night_profile_is_valid():
    profile = spec(
        {"anchor": "dusk", "offset_min": -10, "level": 100},
        {"anchor": "clock", "time": "22:30", "level": 60},
        {"anchor": "clock", "time": "00:00", "level": 30},
        {"anchor": "clock", "time": "05:30", "level": 80},
        {"anchor": "dawn", "offset_min": 15, "level": 0},
        twilight="civil",
    )
    validate_profile(profile, min_level=20, max_steps=5)  # 0 is allowed below the minimum: off


def test_levels_must_be_0_to_100_and_lit_levels_at_least_the_minimum():
    profile = spec(
        {"anchor": "dusk", "offset_min": 0, "level": 101},
        {"anchor": "clock", "time": "23:00", "level": 5},
        {"anchor": "clock", "time": "01:00", "level": -1},
        DAWN,
    )
    assert errors_of(profile, min_level=10) == [
        StepError(1, "step 1: level 101 is outside 0-100", "level"),
        StepError(2, "step 2: level 5 is below the minimum of 10 % (0 switches off)", "level"),
        StepError(3, "step 3: level -1 is outside 0-100", "level"),
    ]


def test_each_anchor_has_its_own_fields():
    profile = spec(
        {"anchor": "dusk", "level": 100},
        {"anchor": "clock", "offset_min": 30, "level": 50},
        {"anchor": "clock", "time": "7:00", "level": 50},
        {"anchor": "dawn", "offset_min": 0, "time": "06:00", "level": 0},
    )
    assert [(e.step, e.field, e.message) for e in errors_of(profile)] == [
        (1, "offset_min", "step 1: a dusk step needs offset_min (minutes)"),
        (2, "time", "step 2: a clock step needs a time (HH:MM)"),
        (2, "offset_min", "step 2: a clock step has a time, not an offset"),
        (3, "time", "step 3: time '7:00' is not HH:MM (00:00 to 23:59)"),
        (4, "time", "step 4: a dawn step has an offset, not a time"),
    ]


def test_offsets_stay_within_four_hours():
    assert errors_of(spec({"anchor": "dusk", "offset_min": -241, "level": 100}, DAWN)) == [
        StepError(1, "step 1: offset -241 min is outside -240..240", "offset_min")
    ]
    validate_profile(
        spec({"anchor": "dusk", "offset_min": -240, "level": 100}, {"anchor": "dawn", "offset_min": 240, "level": 0}),
        min_level=0,
        max_steps=12,
    )


def test_steps_must_follow_each_other_through_the_night():
    profile = spec(
        DUSK,
        {"anchor": "clock", "time": "01:00", "level": 50},
        {"anchor": "clock", "time": "23:00", "level": 40},  # 23:00 comes before 01:00 in a night
        {"anchor": "clock", "time": "23:00", "level": 30},
        DAWN,
        {"anchor": "dusk", "offset_min": 30, "level": 100},
    )
    assert [e.message for e in errors_of(profile)] == [
        "step 3: 23:00 is earlier in the night than step 2 (01:00); order the steps through the night",
        "step 4: 23:00 is the same time as step 3 (23:00); order the steps through the night",
        "step 6: a dusk step cannot follow a dawn step (step 5)",
    ]


def test_relative_steps_are_ordered_by_offset():
    profile = spec(
        {"anchor": "dusk", "offset_min": 30, "level": 100},
        {"anchor": "dusk", "offset_min": 10, "level": 80},
        {"anchor": "dawn", "offset_min": -30, "level": 100},
        {"anchor": "dawn", "offset_min": -60, "level": 0},
    )
    assert [e.message for e in errors_of(profile)] == [
        "step 2: dusk+10 min is earlier in the night than step 1 (dusk+30 min); order the steps through the night",
        "step 4: dawn-60 min is earlier in the night than step 3 (dawn-30 min); order the steps through the night",
    ]


def test_a_profile_has_at_least_one_and_at_most_the_configured_number_of_steps():
    assert errors_of(spec()) == [StepError(None, "a profile needs at least one step")]
    assert errors_of(spec(DUSK, {"anchor": "clock", "time": "23:00", "level": 50}, DAWN), max_steps=2) == [
        StepError(None, "a profile has at most 2 steps; this one has 3")
    ]


def test_a_last_step_at_or_after_dawn_must_switch_off():
    assert errors_of(spec(DUSK, {"anchor": "dawn", "offset_min": 10, "level": 30})) == [
        StepError(
            2,
            "step 2: the night ends with its last dawn step, so a last step at or after dawn must"
            " switch the lamp off (level 0)",
            "level",
        )
    ]
    # before dawn, a lit last step is fine: the night ends at dawn
    validate_profile(spec(DUSK, {"anchor": "dawn", "offset_min": -30, "level": 50}), min_level=0, max_steps=12)


def test_the_error_reads_as_one_message():
    error = ProfileError([StepError(1, "step 1: a"), StepError(None, "b")])
    assert str(error) == "step 1: a; b"


def test_unknown_anchors_and_fields_are_refused_by_the_model():
    with pytest.raises(ValueError):
        Step(anchor="noon", offset_min=0, level=10)
    with pytest.raises(ValueError):
        Step(anchor="dusk", offset_min=0, level=10, colour="red")
