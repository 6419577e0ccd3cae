"""The console's dimming and energy pages (see api/console/routes.py for the shared rendering).

/dimming and the profile editor are for every signed-in role: technicians see the
schedules read-only (no edit controls; the API refuses their changes anyway).
/energy is for the energy staff. The pages are shells; their scripts read and
change the JSON API (api/dimming/, api/energy/).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.routes import ENERGY_STAFF, Viewer, forbidden, login_redirect, not_found, render
from api.principals import Principal

router = APIRouter(include_in_schema=False)

_CHART_CSS = (("uplot", "uPlot.min.css"),)
_CHART_JS = (("uplot", "uPlot.iife.min.js"),)
MAX_PROFILE_ID = 2**63 - 1
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_PROFILE_ID = re.compile(r"[0-9]{1,19}")


def _can_edit(who: Principal) -> bool:
    return who.role in ENERGY_STAFF


@router.get("/dimming", response_class=HTMLResponse)
def dimming_page(request: Request, who: Viewer) -> Response:
    if who is None:
        return login_redirect(request)
    can_edit = _can_edit(who)
    return render(
        request,
        "dimming.html",
        who,
        page="dimming",
        title_key="dimming.title",
        scripts=("dimming.js",),
        page_config={"canEdit": can_edit},
        can_edit=can_edit,
    )


@router.get("/dimming/profiles/{profile_id}", response_class=HTMLResponse)
def profile_page(request: Request, who: Viewer, profile_id: str) -> Response:
    if who is None:
        return login_redirect(request)
    if not _PROFILE_ID.fullmatch(profile_id) or not 0 < int(profile_id) <= MAX_PROFILE_ID:
        return not_found(request, who)
    can_edit = _can_edit(who)
    return render(
        request,
        "profile.html",
        who,
        page="dimming-profile",
        title_key="profile.title",
        vendor_css=_CHART_CSS,
        vendor_js=_CHART_JS,
        scripts=("profile.js",),
        page_config={"profileId": int(profile_id), "canEdit": can_edit},
        can_edit=can_edit,
        profile_id=int(profile_id),
    )


@router.get("/energy", response_class=HTMLResponse)
def energy_page(request: Request, who: Viewer) -> Response:
    if who is None:
        return login_redirect(request)
    if who.role not in ENERGY_STAFF:
        return forbidden(request, who, "error.forbidden.energy_staff")
    return render(
        request,
        "energy.html",
        who,
        page="energy",
        title_key="energy.title",
        vendor_css=_CHART_CSS,
        vendor_js=_CHART_JS,
        scripts=("energy.js",),
    )
