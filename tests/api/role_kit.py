"""The vocabulary of the role table (tests/api/test_roles.py): callers, expected statuses, requests.

Each area's rows live beside it (roles_prediction.py, roles_dimming.py) and are merged
into the one table that must name every route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.console.routes import vendor_installed
from core.vocabulary import Role

ANONYMOUS = "anonymous"
CALLERS = (ANONYMOUS, Role.TECHNICIAN.value, Role.ENERGY_MANAGER.value, Role.ADMIN.value)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


def any_role(status: int) -> dict[str, int]:
    return everyone(status) | {ANONYMOUS: 401}


def field_staff(status: int) -> dict[str, int]:
    """Technicians and administrators."""
    return any_role(status) | {Role.ENERGY_MANAGER.value: 403}


def energy_staff(status: int) -> dict[str, int]:
    """Energy managers and administrators."""
    return any_role(status) | {Role.TECHNICIAN.value: 403}


def admin_only(status: int) -> dict[str, int]:
    return {ANONYMOUS: 401, Role.TECHNICIAN.value: 403, Role.ENERGY_MANAGER.value: 403, Role.ADMIN.value: status}


def signed_in_page(expected: dict[str, int]) -> dict[str, int]:
    """A console page: the anonymous is sent to the sign-in page."""
    return expected | {ANONYMOUS: 303}


@dataclass
class World:
    """What the requests refer to: tokens per role, a spare token per role (to revoke), lamps, ids."""

    tokens: dict[str, str]
    sessions: dict[str, str]
    spare_token_ids: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)  # ids made by each area's prepare()


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    page: bool = False  # a console page: signed in with the session cookie


Request = Callable[[World, str], Call]


def fixed(path: str, json: Any = None, **params: Any) -> Request:
    return lambda world, caller: Call(path, json, params)


def page(path: str) -> Request:
    return lambda world, caller: Call(path, page=True)


VENDOR_STATUS = 200 if vendor_installed() else 503  # scripts/console-assets installs the libraries
