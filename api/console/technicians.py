"""The console's maintenance pages for technicians and administrators: predicted failures (the circuits'
supply warnings, map, ranked list, signals), work orders (schedule, notes, close) and the printable daily
round. See api/console/routes.py for the shared rendering; the pages' scripts read the JSON API (predictions,
work-orders, round)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.routes import FIELD_STAFF, Viewer, forbidden, login_redirect, render
from api.principals import Principal
from api.settings import app_settings

router = APIRouter(include_in_schema=False)

UPLOT_CSS = (("uplot", "uPlot.min.css"),)
UPLOT_JS = (("uplot", "uPlot.iife.min.js"),)
LEAFLET_CSS = (("leaflet", "leaflet.css"),)
LEAFLET_JS = (("leaflet", "leaflet.js"),)


def _page(request: Request, who: Principal | None, template: str, page: str, title_key: str, **options) -> Response:
    if who is None:
        return login_redirect(request)
    if who.role not in FIELD_STAFF:
        return forbidden(request, who, "error.forbidden.field_staff")
    return render(request, template, who, page=page, title_key=title_key, **options)


@router.get("/predictions", response_class=HTMLResponse)
def predictions_page(request: Request, who: Viewer) -> Response:
    return _page(
        request,
        who,
        "predictions.html",
        "predictions",
        "predictions.title",
        vendor_css=LEAFLET_CSS + UPLOT_CSS,
        vendor_js=LEAFLET_JS + UPLOT_JS,
        scripts=("predictions.js",),
        # The supply warnings listed are the circuits the daily round would visit.
        page_config={"circuitMinProbability": app_settings(request).circuit_round_min_probability},
    )


@router.get("/work-orders", response_class=HTMLResponse)
def work_orders_page(request: Request, who: Viewer) -> Response:
    return _page(request, who, "work_orders.html", "work-orders", "work_orders.title", scripts=("work_orders.js",))


@router.get("/round", response_class=HTMLResponse)
def round_page(request: Request, who: Viewer) -> Response:
    return _page(request, who, "round.html", "round", "round.title", scripts=("round.js",))
