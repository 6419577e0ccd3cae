"""The plan delivery endpoints' rows of the role table (tests/api/test_roles.py).

Everyone signed in reads the push status; energy managers and administrators ask for a push.
"""

from __future__ import annotations

from typing import Any

from tests.api.role_kit import any_role, energy_staff, fixed

# (method, route path) -> (request, expected status per caller); see test_roles.TABLE
TABLE: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {
    ("GET", "/api/v1/dimming/push-status"): (fixed("/api/v1/dimming/push-status", state="stale"), any_role(200)),
    ("POST", "/api/v1/dimming/push"): (fixed("/api/v1/dimming/push", {"all": False}), energy_staff(202)),
}


def prepare(conn, world) -> None:
    """Nothing to create: both endpoints work on whatever lamps and plans there are."""
