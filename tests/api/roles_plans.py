"""The plans endpoints' rows of the role table (tests/api/test_roles.py)."""

from __future__ import annotations

from typing import Any

# (method, route path) -> (request, expected status per caller); see test_roles.TABLE
TABLE: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {}


def prepare(conn, world) -> None:
    """Create what this area's requests refer to (ids go into world.extra)."""
