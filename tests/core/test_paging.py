"""A page's bounds written into a statement: whole numbers from 0, and nothing else."""

from __future__ import annotations

import pytest

from core.paging import MAX_BOUND, page_clause


def test_the_bounds_are_written_as_numbers():
    assert page_clause(100, 0) == "LIMIT 100 OFFSET 0"
    assert page_clause(7) == "LIMIT 7 OFFSET 0"
    assert page_clause(0, MAX_BOUND) == f"LIMIT 0 OFFSET {MAX_BOUND}"


@pytest.mark.parametrize(
    ("limit", "offset", "named"),
    [
        (-1, 0, "limit"),
        (10, -1, "offset"),
        (True, 0, "limit"),  # a bool is an int to Python, never a page size
        (10, False, "offset"),
        (10.0, 0, "limit"),
        ("10", 0, "limit"),
        (10, "0; DROP TABLE lamps", "offset"),
        (10, MAX_BOUND + 1, "offset"),
        (None, 0, "limit"),
    ],
)
def test_anything_else_is_refused(limit, offset, named):
    with pytest.raises(ValueError, match=f"a page's {named} is a whole number from 0"):
        page_clause(limit, offset)
