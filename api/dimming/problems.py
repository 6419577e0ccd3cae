"""What the dimming package refuses, as the problem the API answers: 404, 409, or 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import status

import dimming
from api import problems
from api.dimming.schemas import CalendarExceptionSet
from api.problems import VALIDATION_ERROR, ProblemException
from core.settings import Settings


@contextmanager
def store_problems() -> Iterator[None]:
    """What the store refuses, as the problem it is: 404, 409, or 422 naming the field."""
    try:
        yield
    except dimming.StoreError as exc:
        raise _store_error(exc) from None


def _store_error(exc: dimming.StoreError) -> ProblemException:
    if isinstance(exc, dimming.NotFound):
        return ProblemException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, dimming.Conflict):
        extensions = {"field": exc.field} if exc.field else None
        return ProblemException(status.HTTP_409_CONFLICT, str(exc), extensions=extensions)
    return problems.invalid(exc.field or "body", str(exc), location="body")


def _profile_problem(exc: dimming.ProfileError) -> ProblemException:
    """422 naming each bad step: `field` is the JSON path (steps counted from 0), the message counts from 1."""
    errors = []
    for error in exc.errors:
        if error.step is None:
            field = "steps"
        else:
            field = f"steps.{error.step - 1}" + (f".{error.field}" if error.field else "")
        errors.append({"location": "body", "field": field, "message": error.message, "type": "value_error"})
    count = len(errors)
    return ProblemException(
        422,
        f"{count} problem{'s' if count != 1 else ''} with the profile: {exc}",
        type=VALIDATION_ERROR,
        extensions={"errors": errors},
    )


def validated(spec: dimming.ProfileSpec, settings: Settings) -> dimming.ProfileSpec:
    """The profile, when it is one the town's settings allow; else a 422 naming each bad step."""
    try:
        dimming.validate_profile(spec, min_level=settings.dimming_min_level, max_steps=settings.dimming_max_steps)
    except dimming.ProfileError as exc:
        raise _profile_problem(exc) from None
    return spec


def calendar_values(body: CalendarExceptionSet) -> dict[str, Any]:
    """The exception's values for the store, when they make a valid exception; else a 422 naming the fields."""
    values = body.model_dump()
    problems_found = dimming.check_calendar_exception(
        dimming.CalendarException(exception_id=0, **{**values, "weekdays": tuple(values["weekdays"] or ())})
    )
    if problems_found:
        errors = [
            {"location": "body", "field": field, "message": message, "type": "value_error"}
            for field, message in problems_found
        ]
        raise ProblemException(
            422,
            f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''}: " + "; ".join(e["message"] for e in errors),
            type=VALIDATION_ERROR,
            extensions={"errors": errors},
        )
    return values
