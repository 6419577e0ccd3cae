"""A page's bounds, written into the statement that reads the page.

A list's LIMIT and OFFSET are written into its statement as numbers rather than passed
as parameters. Passed as parameters, a statement run often enough becomes a prepared
statement with a generic plan, made without knowing how many rows a page takes: for a
filter that matches few rows it walked the whole index of the list's order from the
start, testing every row, where a plan for a page of known size reads the matching rows
by their own index and sorts them. Only whole numbers from 0 are ever written, so the
text added is never anything else.
"""

from __future__ import annotations

MAX_BOUND = 2**63 - 1  # a bigint, which is what PostgreSQL takes


def page_clause(limit: int, offset: int = 0) -> str:
    """`LIMIT n OFFSET m`; ValueError for anything but whole numbers from 0 to a bigint's largest."""
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BOUND:
            raise ValueError(f"a page's {name} is a whole number from 0: {value!r}")
    return f"LIMIT {limit:d} OFFSET {offset:d}"
