"""Dimming profiles: the steps of a night and the rules they must follow.

A step sets the light level from its instant, a town-local clock time or an offset from
dusk or dawn, until the next step (docs/dimming.md, "Profiles"). Steps are checked by
`validate_profile`, not by the models, so that every problem of a profile is reported at
once, each naming its step (counted from 1, as the console shows them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

Anchor = Literal["dusk", "dawn", "clock"]
Twilight = Literal["sunset", "civil"]
MAX_OFFSET_MIN = 240
NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
# A hard cap on what is parsed at all; the configured maximum is checked by validate_profile.
STEPS_PARSE_LIMIT = 200
_CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Clock times from noon on are in the evening the night starts; before noon, the morning after.
NIGHT_SPLIT = time(12, 0)
# Inside `Step`, `time` names the step's field, so its methods annotate with this alias.
TimeOfDay: TypeAlias = time


class Step(BaseModel):
    """One switch of the night: from this instant on, the lamp runs at `level` %."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"anchor": "dusk", "offset_min": 0, "level": 100}]},
    )

    anchor: Anchor = Field(description="dusk or dawn (with offset_min), or clock (with time, town local time)")
    offset_min: int | None = Field(
        None, description=f"Minutes after (+) or before (-) dusk or dawn, -{MAX_OFFSET_MIN}..{MAX_OFFSET_MIN}"
    )
    time: str | None = Field(None, description="HH:MM, town local time; before 12:00 means the morning after")
    level: int = Field(description="Light level from this step on, 0-100 % (0 = off)")

    def clock_time(self) -> TimeOfDay:
        """The step's clock time (clock steps that passed validation only)."""
        match = _CLOCK_RE.match(self.time or "")
        if match is None:
            raise ValueError(f"not a clock time: {self.time!r}")
        return time(int(match.group(1)), int(match.group(2)))


class ProfileSpec(BaseModel):
    """What a profile does, as the energy manager writes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Residential streets",
                    "description": "Full light in the evening, 40 % from 23:00 to 05:00",
                    "twilight": "sunset",
                    "steps": [
                        {"anchor": "dusk", "offset_min": 0, "level": 100},
                        {"anchor": "clock", "time": "23:00", "level": 40},
                        {"anchor": "clock", "time": "05:00", "level": 100},
                        {"anchor": "dawn", "offset_min": 0, "level": 0},
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str = Field("", max_length=DESCRIPTION_MAX_LENGTH)
    twilight: Twilight = Field(
        "sunset", description="sunset: sunset and sunrise; civil: civil dusk and dawn (sun 6° below)"
    )
    steps: list[Step] = Field(max_length=STEPS_PARSE_LIMIT)


@dataclass(frozen=True, slots=True)
class StepError:
    """One problem of a profile. `step` counts from 1; None: the profile as a whole."""

    step: int | None
    message: str
    field: str | None = None  # the step's field at fault: anchor, offset_min, time or level


class ProfileError(ValueError):
    """A profile that breaks the rules; `errors` has one entry per problem."""

    def __init__(self, errors: list[StepError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(error.message for error in self.errors))


def night_order(step: Step) -> int | None:
    """Where a step sits within the night, in minutes, comparable between steps of one anchor.

    Clock steps count minutes from noon (so 23:00 comes before 05:00); dusk and
    dawn steps their offset. None for a step that is itself invalid.
    """
    if step.anchor == "clock":
        if step.time is None or not _CLOCK_RE.match(step.time):
            return None
        at = step.clock_time()
        minutes = at.hour * 60 + at.minute
        return (minutes - 12 * 60) % (24 * 60)
    if step.offset_min is None:
        return None
    return step.offset_min


def _step_errors(number: int, step: Step, min_level: int) -> list[StepError]:
    errors: list[StepError] = []
    prefix = f"step {number}"
    if step.anchor == "clock":
        if step.time is None:
            errors.append(StepError(number, f"{prefix}: a clock step needs a time (HH:MM)", "time"))
        elif not _CLOCK_RE.match(step.time):
            errors.append(StepError(number, f"{prefix}: time {step.time!r} is not HH:MM (00:00 to 23:59)", "time"))
        if step.offset_min is not None:
            errors.append(StepError(number, f"{prefix}: a clock step has a time, not an offset", "offset_min"))
    else:
        if step.offset_min is None:
            errors.append(StepError(number, f"{prefix}: a {step.anchor} step needs offset_min (minutes)", "offset_min"))
        elif abs(step.offset_min) > MAX_OFFSET_MIN:
            errors.append(
                StepError(
                    number,
                    f"{prefix}: offset {step.offset_min} min is outside -{MAX_OFFSET_MIN}..{MAX_OFFSET_MIN}",
                    "offset_min",
                )
            )
        if step.time is not None:
            errors.append(StepError(number, f"{prefix}: a {step.anchor} step has an offset, not a time", "time"))
    if not 0 <= step.level <= 100:
        errors.append(StepError(number, f"{prefix}: level {step.level} is outside 0-100", "level"))
    elif 0 < step.level < min_level:
        errors.append(
            StepError(
                number, f"{prefix}: level {step.level} is below the minimum of {min_level} % (0 switches off)", "level"
            )
        )
    return errors


def _describe(step: Step) -> str:
    if step.anchor == "clock":
        return step.time or "?"
    offset = step.offset_min or 0
    return step.anchor if offset == 0 else f"{step.anchor}{offset:+d} min"


def _order_errors(steps: list[Step]) -> list[StepError]:
    """Steps must follow each other within the night.

    Checked without a place or date: dusk steps before dawn steps, and among steps of
    one anchor, strictly increasing times. How clock steps fall between dusk and dawn
    depends on the season; `resolve` handles that (see docs/dimming.md).
    """
    errors: list[StepError] = []
    seen_dawn: int | None = None
    last_by_anchor: dict[str, tuple[int, Step]] = {}
    for number, step in enumerate(steps, start=1):
        if step.anchor == "dawn" and seen_dawn is None:
            seen_dawn = number
        if step.anchor == "dusk" and seen_dawn is not None:
            errors.append(
                StepError(number, f"step {number}: a dusk step cannot follow a dawn step (step {seen_dawn})", "anchor")
            )
        key = night_order(step)
        if key is None:
            continue
        previous = last_by_anchor.get(step.anchor)
        if previous is not None:
            previous_number, previous_step = previous
            previous_key = night_order(previous_step)
            if previous_key is not None and key <= previous_key:
                what = "the same time as" if key == previous_key else "earlier in the night than"
                errors.append(
                    StepError(
                        number,
                        f"step {number}: {_describe(step)} is {what} step {previous_number}"
                        f" ({_describe(previous_step)}); order the steps through the night",
                        "time" if step.anchor == "clock" else "offset_min",
                    )
                )
        last_by_anchor[step.anchor] = (number, step)
    return errors


def validate_profile(spec: ProfileSpec, *, min_level: int, max_steps: int) -> None:
    """Raise ProfileError listing every problem of the profile, each naming its step."""
    errors: list[StepError] = []
    if not spec.steps:
        errors.append(StepError(None, "a profile needs at least one step"))
    if len(spec.steps) > max_steps:
        errors.append(StepError(None, f"a profile has at most {max_steps} steps; this one has {len(spec.steps)}"))
    for number, step in enumerate(spec.steps, start=1):
        errors.extend(_step_errors(number, step, min_level))
    errors.extend(_order_errors(spec.steps))
    if spec.steps:
        last, number = spec.steps[-1], len(spec.steps)
        if last.anchor == "dawn" and (last.offset_min or 0) >= 0 and last.level > 0:
            errors.append(
                StepError(
                    number,
                    f"step {number}: the night ends with its last dawn step, so a last step at or"
                    " after dawn must switch the lamp off (level 0)",
                    "level",
                )
            )
    if errors:
        errors.sort(key=lambda error: error.step or 0)
        raise ProfileError(errors)
