"""What the database's column types can hold, as checks and as pydantic types. Pure.

Every way in (the HTTP API, MQTT payloads, inventory files) refuses a value that its
column would refuse, with the field named, instead of letting the database fail the
statement:

- `text` and `jsonb` strings never hold the NUL character (U+0000), nor a lone UTF-16
  surrogate (which Python's JSON parser makes of an escape such as ``\\ud800``, and
  which no UTF-8 text can hold);
- `real` (float4) holds zero and magnitudes that stay non-zero and finite once rounded
  to single precision: PostgreSQL keeps the subnormals (down to about 1.4e-45) but
  refuses a value that rounds to zero ("underflow") or to infinity ("overflow");
- `double precision` holds every finite double; `jsonb` numbers must be finite too;
- `smallint`, `integer` and `bigint` hold 16-, 32- and 64-bit signed integers.

Bounds of a field's own stay JSON Schema keywords in the OpenAPI document only when
pydantic applies them before the check: a required text writes them in its `Field`
as usual (``name: Text = Field(max_length=200)``), but a number, or an optional text,
writes them inside the `Annotated`, before the check:
``Annotated[float, Field(gt=0, le=10_000), FitsReal]``,
``Annotated[str, Field(max_length=200), NoNul] | None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

NUL = "\x00"

REAL_MAX = 3.4028234663852886e38  # float4's largest finite value
REAL_MIN_SUBNORMAL = 2.0**-149  # float4's smallest non-zero magnitude, about 1.4e-45
# A double rounds to float4 zero at or below half the smallest subnormal (a tie rounds to
# even, which is zero), and to infinity at or above the midpoint between REAL_MAX and 2^128.
REAL_UNDERFLOW = 2.0**-150
_REAL_OVERFLOW = 2.0**128 - 2.0**103

SMALLINT_MIN, SMALLINT_MAX = -(2**15), 2**15 - 1
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

# Error types of the pydantic types below (ingest maps them to dead-letter reasons).
NUL_ERROR = "nul_character"
REAL_ERROR = "real_out_of_range"
SURROGATE_ERROR = "lone_surrogate"
JSON_NUMBER_ERROR = "json_number_not_finite"

REAL_RANGE_TEXT = "zero, or a magnitude from 1.4e-45 to 3.4e38 (the range of a real column)"

# What json_problems and text_problem say, after the value's name.
NUL_PROBLEM = "contains a NUL character"
SURROGATE_PROBLEM = "contains a lone surrogate, which is not Unicode text"
NOT_FINITE_PROBLEM = "is not a finite number"
_IN_NAME = {NUL_PROBLEM: "has a NUL character in its name", SURROGATE_PROBLEM: "has a lone surrogate in its name"}
# The error type of each problem, as the API's problems and the pydantic types name it.
PROBLEM_ERRORS = {
    NUL_PROBLEM: NUL_ERROR,
    _IN_NAME[NUL_PROBLEM]: NUL_ERROR,
    SURROGATE_PROBLEM: SURROGATE_ERROR,
    _IN_NAME[SURROGATE_PROBLEM]: SURROGATE_ERROR,
    NOT_FINITE_PROBLEM: JSON_NUMBER_ERROR,
}
_SURROGATE = re.compile("[\ud800-\udfff]")


def fits_real(value: float) -> bool:
    """Whether PostgreSQL stores `value` in a `real` column (see the module's docstring)."""
    magnitude = abs(value)
    return magnitude == 0 or REAL_UNDERFLOW < magnitude < _REAL_OVERFLOW


def text_problem(text: str) -> str | None:
    """What keeps `text` out of a text column, if anything."""
    if NUL in text:
        return NUL_PROBLEM
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_PROBLEM
    return None


def shown(text: str) -> str:
    """`text` with NUL and lone surrogates written as escapes (``\\u0000``), for messages and names."""
    text = text.replace(NUL, "\\u0000")
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


_Place = tuple[Any, str | int] | None  # (the parent's place, the key or index), None at the top


def _path(place: _Place) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    while place is not None:
        place, part = place
        parts.append(part)
    return tuple(reversed(parts))


def json_problems(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, problem) of each string or key that is not text a column holds, and each number
    that is not finite, in a JSON value bound for a `jsonb` column. Iterative: the depth of
    `value` costs no stack."""
    # Each item's place is a link to its parent's: the path is spelled out only for a problem.
    pending: list[tuple[_Place, Any]] = [(None, value)]
    while pending:
        place, item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                yield _path(place), problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield _path(place), NOT_FINITE_PROBLEM
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    yield _path((place, shown(key))), _IN_NAME[problem]
                else:
                    pending.append(((place, key), child))
        elif isinstance(item, (list, tuple)):
            pending.extend(((place, index), child) for index, child in reversed(list(enumerate(item))))


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


# --- pydantic types ------------------------------------------------------------------------------


def _check_text(value: str) -> str:
    problem = text_problem(value)
    if problem == NUL_PROBLEM:
        raise PydanticCustomError(NUL_ERROR, "Text must not contain the NUL character (U+0000)")
    if problem is not None:
        raise PydanticCustomError(SURROGATE_ERROR, "Text must not contain a lone surrogate (U+D800 to U+DFFF)")
    return value


def _check_real(value: float) -> float:
    if not fits_real(value):
        raise PydanticCustomError(REAL_ERROR, "Input should be " + REAL_RANGE_TEXT)
    return value


def _check_json(value: Any) -> Any:
    for path, problem in json_problems(value):
        where = dotted(path) or "the value"
        raise PydanticCustomError(PROBLEM_ERRORS[problem], "{where} {problem}", {"where": where, "problem": problem})
    return value


NoNul = AfterValidator(_check_text)
FitsReal = AfterValidator(_check_real)
StorableJson = AfterValidator(_check_json)

# text: a string without NUL or lone surrogates. A required text's bounds go in its Field.
Text = Annotated[str, NoNul]
# real (float4); a field with bounds of its own writes Annotated[float, Field(...), FitsReal].
Real = Annotated[float, Field(ge=-REAL_MAX, le=REAL_MAX), FitsReal]
# double precision.
Double = Annotated[float, Field(allow_inf_nan=False)]
SmallInt = Annotated[int, Field(ge=SMALLINT_MIN, le=SMALLINT_MAX)]
Integer = Annotated[int, Field(ge=INTEGER_MIN, le=INTEGER_MAX)]
BigInt = Annotated[int, Field(ge=BIGINT_MIN, le=BIGINT_MAX)]
# jsonb: an object whose strings and keys hold no NUL and whose numbers are finite.
JsonObject = Annotated[dict[str, Any], StorableJson]
