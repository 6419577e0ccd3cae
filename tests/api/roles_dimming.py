"""The dimming endpoints' rows of the role table (tests/api/test_roles.py).

Everyone signed in reads schedules; energy managers and administrators change them.
Where a change can be made only once (an edit from a version, a deletion), each caller
gets a record of its own, made by prepare().
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dimming import store
from dimming.profiles import ProfileSpec, Step
from tests.api.role_kit import CALLERS, Call, any_role, energy_staff, fixed

STEPS = [{"anchor": "dusk", "offset_min": 0, "level": 100}, {"anchor": "dawn", "offset_min": 0, "level": 0}]
PROFILES = "/api/v1/dimming/profiles"


def _profile(world, caller: str = "shared") -> int:
    return world.extra["dimming"]["profiles"][caller]


def _own(kind: str, path: str):
    """A request on the caller's own record of `kind` (path has {id})."""
    return lambda world, caller: Call(path.format(id=world.extra["dimming"][kind][caller]))


def _override(world, caller: str) -> Call:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    return Call(
        "/api/v1/dimming/overrides",
        {"target_kind": "lamp", "target": "L1", "level": 50, "expires_at": expires_at.isoformat()},
    )


def _exception_body(world) -> dict[str, Any]:
    return {
        "name": "Festival",
        "profile_id": _profile(world),
        "kind": "yearly",
        "start_day": "01-24",
        "end_day": "02-01",
    }


# (method, route path) -> (request, expected status per caller); see test_roles.TABLE
TABLE: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {
    ("GET", PROFILES): (fixed(PROFILES), any_role(200)),
    ("POST", PROFILES): (
        lambda world, caller: Call(PROFILES, {"name": f"new-{caller}", "steps": STEPS}),
        energy_staff(201),
    ),
    ("GET", PROFILES + "/{profile_id}"): (lambda world, caller: Call(f"{PROFILES}/{_profile(world)}"), any_role(200)),
    ("PUT", PROFILES + "/{profile_id}"): (
        lambda world, caller: Call(
            f"{PROFILES}/{_profile(world, caller)}", {"name": f"edited-{caller}", "steps": STEPS, "version": 1}
        ),
        energy_staff(200),
    ),
    ("POST", PROFILES + "/{profile_id}/copy"): (
        lambda world, caller: Call(f"{PROFILES}/{_profile(world)}/copy", {"name": f"copy-{caller}"}),
        energy_staff(201),
    ),
    ("POST", PROFILES + "/{profile_id}/retire"): (
        lambda world, caller: Call(f"{PROFILES}/{world.extra['dimming']['unused']}/retire"),
        energy_staff(200),
    ),
    ("GET", "/api/v1/dimming/assignments"): (fixed("/api/v1/dimming/assignments"), any_role(200)),
    ("POST", "/api/v1/dimming/assignments"): (
        lambda world, caller: Call(
            "/api/v1/dimming/assignments", {"target_kind": "group", "target": "g1", "profile_id": _profile(world)}
        ),
        energy_staff(201),
    ),
    ("DELETE", "/api/v1/dimming/assignments/{assignment_id}"): (
        _own("assignments", "/api/v1/dimming/assignments/{id}"),
        energy_staff(204),
    ),
    ("GET", "/api/v1/dimming/calendar"): (fixed("/api/v1/dimming/calendar"), any_role(200)),
    ("POST", "/api/v1/dimming/calendar"): (
        lambda world, caller: Call("/api/v1/dimming/calendar", _exception_body(world)),
        energy_staff(201),
    ),
    ("PUT", "/api/v1/dimming/calendar/{exception_id}"): (
        lambda world, caller: Call(
            f"/api/v1/dimming/calendar/{world.extra['dimming']['exceptions'][caller]}", _exception_body(world)
        ),
        energy_staff(200),
    ),
    ("DELETE", "/api/v1/dimming/calendar/{exception_id}"): (
        _own("exceptions", "/api/v1/dimming/calendar/{id}"),
        energy_staff(204),
    ),
    ("GET", "/api/v1/dimming/overrides"): (fixed("/api/v1/dimming/overrides"), any_role(200)),
    ("POST", "/api/v1/dimming/overrides"): (_override, energy_staff(201)),
    ("POST", "/api/v1/dimming/overrides/{override_id}/cancel"): (
        _own("overrides", "/api/v1/dimming/overrides/{id}/cancel"),
        energy_staff(200),
    ),
    ("GET", "/api/v1/lamps/{lamp_id}/dimming"): (fixed("/api/v1/lamps/L1/dimming"), any_role(200)),
}


def prepare(conn, world) -> None:
    """Profiles (a shared one, one per caller to edit, an unused one to retire), and per caller
    an assignment, a calendar exception and an override of its own."""

    def profile(name: str) -> int:
        spec = ProfileSpec(name=name, steps=[Step(**step) for step in STEPS])
        return store.create_profile(conn, spec, "roles")["id"]

    shared = profile("shared")
    profiles = {"shared": shared} | {caller: profile(f"edit-{caller}") for caller in CALLERS}
    targets = dict(zip(CALLERS, [("lamp", "L1"), ("lamp", "L2"), ("circuit", "c1"), ("town", "")]))
    assignments = {
        caller: store.assign(conn, kind, target, shared, "roles")[1]["id"] for caller, (kind, target) in targets.items()
    }
    exceptions = {
        caller: store.create_exception(
            conn,
            {
                "name": f"x-{caller}",
                "profile_id": shared,
                "kind": "dates",
                "start_date": datetime(2026, 12, 24).date(),
                "end_date": datetime(2026, 12, 26).date(),
                "weekdays": None,
                "start_day": None,
                "end_day": None,
                "target_kind": "town",
                "target": "",
                "priority": 0,
            },
            "roles",
        )["id"]
        for caller in CALLERS
    }
    now = datetime.now(UTC)
    overrides = {
        caller: store.create_override(conn, "town", "", 30, now, now + timedelta(hours=1), caller, "roles")["id"]
        for caller in CALLERS
    }
    world.extra["dimming"] = {
        "profiles": profiles,
        "unused": profile("unused"),
        "assignments": assignments,
        "exceptions": exceptions,
        "overrides": overrides,
    }
