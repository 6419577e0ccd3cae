"""What the column types hold (core/columns.py), checked against PostgreSQL itself."""

from __future__ import annotations

import math
from typing import Annotated, Any

import psycopg
import pytest
from pydantic import BaseModel, Field, ValidationError

from core.columns import (
    BIGINT_MAX,
    REAL_MAX,
    REAL_MIN_SUBNORMAL,
    BigInt,
    FitsReal,
    JsonObject,
    NoNul,
    Real,
    Text,
    fits_real,
    json_problems,
)


def around(value: float, steps: int = 3) -> list[float]:
    """`value` and the doubles next to it on both sides."""
    below, above = [value], [value]
    for _ in range(steps):
        below.append(math.nextafter(below[-1], 0))
        above.append(math.nextafter(above[-1], math.inf))
    return sorted(set(below + above))


EDGES = [
    0.0,
    -0.0,
    *around(REAL_MIN_SUBNORMAL / 2),  # rounds to zero at and below it
    *around(REAL_MIN_SUBNORMAL),
    *around(2.0**-126),  # the smallest normal float4
    *around(REAL_MAX),
    *around(2.0**128 - 2.0**103),  # rounds to infinity at and above it
    1e-300,
    5e-324,
    1e-45,
    54.0,
    1e38,
    1e39,
]


@pytest.mark.parametrize("backend", ["timescale", "postgres"])
def test_fits_real_is_what_postgresql_stores(admin_urls: dict[str, str], backend: str) -> None:
    with psycopg.connect(admin_urls[backend], autocommit=True) as conn:
        for value in EDGES + [-value for value in EDGES]:
            try:
                conn.execute("SELECT %s::float8::real", (value,))
                stored = True
            except psycopg.errors.NumericValueOutOfRange:
                stored = False
            assert fits_real(value) == stored, value


def test_fits_real_refuses_what_is_not_finite() -> None:
    assert [fits_real(value) for value in (math.inf, -math.inf, math.nan)] == [False, False, False]


def test_json_problems_name_each_path() -> None:
    value = {"a": ["x", "y\x00", {"b\x00": 1}], "n": [1.5, math.inf], "ok": {"deep": [None, True, 3]}}
    assert list(json_problems(value)) == [
        (("a", 1), "contains a NUL character"),
        (("a", 2, "b\\u0000"), "has a NUL character in its name"),
        (("n", 1), "is not a finite number"),
    ]


def test_json_problems_take_any_depth() -> None:
    value: Any = "\x00"
    for _ in range(100_000):
        value = [value]
    [(path, problem)] = json_problems(value)
    assert (len(path), problem) == (100_000, "contains a NUL character")


class Body(BaseModel):
    name: Text = Field("", max_length=5)
    note: Annotated[str, Field(max_length=5), NoNul] | None = None
    power_w: Annotated[float, Field(gt=0, le=10), FitsReal] | None = None
    level: Real = 0
    count: BigInt = 0
    extra: JsonObject = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("values", "field", "error_type"),
    [
        ({"name": "a\x00"}, "name", "nul_character"),
        ({"name": "abcdef"}, "name", "string_too_long"),
        ({"note": "a\x00"}, "note", "nul_character"),
        ({"note": "abcdef"}, "note", "string_too_long"),
        ({"power_w": 1e-300}, "power_w", "real_out_of_range"),
        ({"power_w": 11}, "power_w", "less_than_equal"),
        ({"level": 1e39}, "level", "less_than_equal"),
        ({"level": -5e-324}, "level", "real_out_of_range"),
        ({"count": BIGINT_MAX + 1}, "count", "less_than_equal"),
        ({"extra": {"k": [1, math.nan]}}, "extra", "json_number_not_finite"),
        ({"extra": {"k\x00": 1}}, "extra", "nul_character"),
    ],
)
def test_the_types_refuse_what_their_column_cannot_hold(values: dict[str, Any], field: str, error_type: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Body(**values)
    assert [(error["loc"], error["type"]) for error in caught.value.errors()] == [((field,), error_type)]


def test_the_types_keep_their_bounds_as_json_schema_keywords() -> None:
    properties = Body.model_json_schema()["properties"]
    assert properties["name"]["maxLength"] == 5
    assert properties["note"]["anyOf"][0] == {"maxLength": 5, "type": "string"}
    assert properties["power_w"]["anyOf"][0] == {"exclusiveMinimum": 0, "maximum": 10, "type": "number"}
    assert (properties["level"]["minimum"], properties["level"]["maximum"]) == (-REAL_MAX, REAL_MAX)
    assert properties["count"]["maximum"] == BIGINT_MAX
