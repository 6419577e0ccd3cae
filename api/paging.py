"""Paged lists: the offset parameter the list endpoints share, and the page they answer.

An offset is bounded so that any value the API accepts is one the database takes (a
bigint): a larger one is a 422 problem naming the parameter, not a server error.

Each list declares its page as a subclass, `class LampPage(Page[Lamp])`, so that the
OpenAPI schema keeps one plain name per page (a bare `Page[Lamp]` would be named
`Page_Lamp_`); a subclass may redeclare a field to describe it, which keeps its place.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

MAX_OFFSET = 1_000_000_000

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="How many matching items to skip before the page (at most 10⁹).")
]

ItemT = TypeVar("ItemT")


class PageBounds(BaseModel):
    total: int
    limit: int
    offset: int


class Page(PageBounds, Generic[ItemT]):
    items: list[ItemT]
