"""The energy endpoints' and the dimming console pages' rows of the role table (tests/api/test_roles.py)."""

from __future__ import annotations

from typing import Any

from dimming import store
from dimming.profiles import ProfileSpec
from tests.api.role_kit import Call, any_role, energy_staff, fixed, page, signed_in_page

PARIS = {"lat": 48.8566, "lon": 2.3522}
FULL_NIGHT = [{"anchor": "dusk", "offset_min": 0, "level": 100}, {"anchor": "dawn", "offset_min": 0, "level": 0}]


def _with_profile(path: str, **params: Any):
    return lambda world, caller: Call(path, None, {"profile_id": world.extra["energy_profile_id"], **params})


# (method, route path) -> (request, expected status per caller); see test_roles.TABLE
TABLE: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {
    # the preview is for everyone signed in: technicians read schedules too
    ("POST", "/api/v1/dimming/preview"): (
        fixed("/api/v1/dimming/preview", {"steps": FULL_NIGHT, "date": "2027-01-15", **PARIS}),
        any_role(200),
    ),
    ("GET", "/api/v1/energy/curve"): (
        _with_profile("/api/v1/energy/curve", date="2027-01-15", **PARIS),
        energy_staff(200),
    ),
    ("GET", "/api/v1/energy/estimate"): (
        _with_profile("/api/v1/energy/estimate", **{"from": "2027-01", "to": "2027-01"}, **PARIS),
        energy_staff(200),
    ),
    ("GET", "/api/v1/energy/consumption"): (
        fixed("/api/v1/energy/consumption", **{"from": "2026-11", "to": "2026-11"}),
        energy_staff(200),
    ),
    # console pages: schedules for everyone (read-only for technicians), energy for the energy staff
    ("GET", "/dimming"): (page("/dimming"), signed_in_page(any_role(200))),
    ("GET", "/dimming/profiles/{profile_id}"): (
        lambda world, caller: Call(f"/dimming/profiles/{world.extra['energy_profile_id']}", page=True),
        signed_in_page(any_role(200)),
    ),
    ("GET", "/energy"): (page("/energy"), signed_in_page(energy_staff(200))),
}


def prepare(conn, world) -> None:
    """A saved profile for the curve, the estimate and the editor page."""
    spec = ProfileSpec(name="Energy roles", twilight="sunset", steps=FULL_NIGHT)
    world.extra["energy_profile_id"] = store.create_profile(conn, spec, "test")["id"]
