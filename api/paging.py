"""The paging parameter the list endpoints share.

An offset is bounded so that any value the API accepts is one the database takes (a
bigint): a larger one is a 422 problem naming the parameter, not a server error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 1_000_000_000

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="How many matching items to skip before the page (at most 10⁹).")
]
