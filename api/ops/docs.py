"""The API's documentation pages: Swagger UI at /api/docs and ReDoc at /api/redoc, open to everyone.

FastAPI's own pages load both from a CDN, which leaves a blank page on a network without
internet (a town hall's, a depot's). These load them from the service itself: the npm
packages installed by ``scripts/console-assets`` and served with the console's libraries.
Their content security policy allows this service alone, so that an address written into a
library (ReDoc's logo) is not even asked for.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from api.console.routes import static_url, vendor_installed, vendor_url

router = APIRouter(include_in_schema=False)

MISSING = "the API documentation's libraries are not installed: run scripts/console-assets"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _this_service_only(page: HTMLResponse) -> HTMLResponse:
    """The page's policy: its files from here; its own inline script (Swagger UI's set-up) by hash."""
    scripts = INLINE_SCRIPT.findall(bytes(page.body).decode())
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in scripts
    )
    # The libraries set style attributes and ReDoc searches in a worker made from a blob.
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "same-origin"
    return page


def _openapi_url(request: Request) -> str:
    return request.app.openapi_url or "/api/openapi.json"


@router.get("/api/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> Response:
    if not vendor_installed():
        return PlainTextResponse(MISSING, status_code=503)
    return _this_service_only(
        get_swagger_ui_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} API",
            swagger_js_url=vendor_url("swagger-ui", "swagger-ui-bundle.js"),
            swagger_css_url=vendor_url("swagger-ui", "swagger-ui.css"),
            swagger_favicon_url=static_url("favicon.svg"),
            # The API has no OAuth2 flow, so Swagger UI needs no page to come back to.
            oauth2_redirect_url=None,
            # Swagger UI's validator badge would ask another site to check the schema.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/api/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> Response:
    if not vendor_installed():
        return PlainTextResponse(MISSING, status_code=503)
    return _this_service_only(
        get_redoc_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} API",
            redoc_js_url=vendor_url("redoc", "redoc.standalone.js"),
            redoc_favicon_url=static_url("favicon.svg"),
            with_google_fonts=False,  # another site; ReDoc falls back to the system's fonts
        )
    )
