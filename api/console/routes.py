"""The web console: its pages and their static files, served by the API's own app.

The pages are thin. The server checks who asks (the console session cookie, as the
API does), picks the language, and renders a template; the browser scripts then
read the JSON API with the same cookie and send the session's CSRF token with every
change. A page asked for without a session redirects to /login; a page the role may
not see answers 403 here, on the server, not only by hiding its link.

Third-party browser libraries (the map, the charts, the API documentation) are npm
packages installed into ``node_modules`` beside this file by ``scripts/console-assets``
and served from there: nothing is fetched from another site at run time. Map tiles are
the one exception, and only when a tile server is configured (STREETLIGHT_MAP_TILE_URL).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    Translator,
    from_accept_language,
    supported,
)
from api.deps import FoundPrincipal
from api.principals import SESSION_COOKIE, Principal, find_principal
from api.settings import app_settings
from core.settings import Settings
from core.vocabulary import Role

log = logging.getLogger(__name__)

ResponseT = TypeVar("ResponseT", bound=Response)

router = APIRouter(include_in_schema=False)

CONSOLE_DIR = Path(__file__).resolve().parent
STATIC_DIR = CONSOLE_DIR / "static"
NODE_MODULES = CONSOLE_DIR / "node_modules"
# Third-party libraries served at /console/vendor/NAME/...: NAME -> its folder in node_modules.
# Swagger UI and ReDoc are the API documentation's (api/ops/docs.py).
VENDOR = {
    "leaflet": "leaflet/dist",
    "uplot": "uplot/dist",
    "swagger-ui": "swagger-ui-dist",
    "redoc": "redoc/bundles",
}
VENDOR_SUFFIXES = frozenset({".js", ".css", ".png", ".svg"})
STATIC_SUFFIXES = frozenset({".js", ".css", ".svg", ".png", ".ico", ".woff2"})

# The language chosen with the switch: "fr" before signing in, "fr:username" after, so
# that a tablet shared by two technicians shows each their own choice.
LANG_COOKIE = "streetlight_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
LAMP_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as the lamps table's CHECK
REFRESH_SECONDS = 60  # the dashboard and the lists fetch their figures again this often

ALL_ROLES = frozenset(Role)
FIELD_STAFF = frozenset({Role.TECHNICIAN, Role.ADMIN})  # as the API's commissioning endpoints
ENERGY_STAFF = frozenset({Role.ENERGY_MANAGER, Role.ADMIN})  # who edits dimming and follows energy
# The lists technicians work from: name -> (title key, description key, roles that may see it).
LISTS = {
    "out": ("lists.out.title", "lists.out.intro", ALL_ROLES),
    "offline": ("lists.offline.title", "lists.offline.intro", ALL_ROLES),
    "unknown": ("lists.unknown.title", "lists.unknown.intro", FIELD_STAFF),
}

templates = Jinja2Templates(directory=str(CONSOLE_DIR / "templates"))


def _asset_version() -> str:
    """Changes whenever a served file may have: appended to asset URLs so browsers may cache them."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    lock = CONSOLE_DIR / "package-lock.json"
    if lock.exists():
        digest.update(lock.read_bytes())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()


def static_url(name: str) -> str:
    return f"/console/static/{name}?v={ASSET_VERSION}"


def vendor_url(package: str, name: str) -> str:
    return f"/console/vendor/{package}/{name}?v={ASSET_VERSION}"


def vendor_installed() -> bool:
    return all((NODE_MODULES / folder).is_dir() for folder in VENDOR.values())


if not vendor_installed():
    log.warning("console libraries missing from %s: run scripts/console-assets (npm ci)", NODE_MODULES)


# --- who is asking, and in which language ----------------------------------------------------------
async def principal(request: Request, who: FoundPrincipal) -> Principal | None:
    """The signed-in console user, if any. Pages use the session cookie only, never a bearer token."""
    if not request.cookies.get(SESSION_COOKIE):
        return None
    return who if who is not None and who.via == "session" else None


# What a page depends on: who is looking (None: nobody signed in). A page needs no connection.
Viewer = Annotated[Principal | None, Depends(principal)]


def _choose_language(request: Request, who: Principal | None) -> tuple[str, str | None]:
    """(language, cookie value to set or None). The switch beats the account, which beats the browser."""
    asked = supported(request.query_params.get("lang"))
    if asked:
        return asked, f"{asked}:{who.username}" if who else asked
    cookie = request.cookies.get(LANG_COOKIE, "")
    lang, _, owner = cookie.partition(":")
    lang = supported(lang) or ""
    if lang and (who is None or owner == who.username):
        return lang, None
    if who is not None:
        return supported(who.locale) or DEFAULT_LANGUAGE, None
    return from_accept_language(request.headers.get("accept-language")) or DEFAULT_LANGUAGE, None


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site) becomes /."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"
    return RedirectResponse(location, status_code=303)


# --- rendering --------------------------------------------------------------------------------------
def _json_for_html(value: Any) -> str:
    """JSON that is safe inside a <script type="application/json"> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _tile_source(url: str | None) -> str | None:
    """The CSP source that lets the configured tile server's images in ({s} subdomains as a wildcard)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # with its port, if any
    if "{s}" in host:
        host = "*." + host.split(".", 1)[-1]
    return f"{parts.scheme}://{host}"


def _security_headers(response: ResponseT, settings: Settings) -> ResponseT:
    images = " ".join(filter(None, ("'self'", "data:", _tile_source(settings.map_tile_url))))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"  # pages carry the session's CSRF token
    return response


def render(
    request: Request,
    template: str,
    who: Principal | None,
    *,
    page: str,
    title_key: str,
    status_code: int = 200,
    scripts: tuple[str, ...] = (),
    vendor_css: tuple[tuple[str, str], ...] = (),
    vendor_js: tuple[tuple[str, str], ...] = (),
    page_config: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    settings = app_settings(request)
    lang, set_cookie = _choose_language(request, who)
    t = Translator(lang)
    config = {
        "lang": lang,
        "page": page,
        "timezone": settings.town_timezone,
        "user": {"username": who.username, "role": who.role.value} if who else None,
        "mapTileUrl": settings.map_tile_url,
        "mapTileAttribution": settings.map_tile_attribution,
        "refreshSeconds": REFRESH_SECONDS,
        **(page_config or {}),
    }
    here = request.url.path
    other_query = {k: v for k, v in request.query_params.items() if k != "lang"}
    lang_links = [
        {
            "code": code,
            "name": LANGUAGE_NAMES[code],
            "href": here + "?" + urlencode({**other_query, "lang": code}),
            "current": code == lang,
        }
        for code in LANGUAGES
    ]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": lang,
            "lang_links": lang_links,
            "user": who,
            "is_admin": who is not None and who.role is Role.ADMIN,
            "is_field_staff": who is not None and who.role in FIELD_STAFF,
            "is_energy_staff": who is not None and who.role in ENERGY_STAFF,
            "role_label": t(f"role.{who.role.value}") if who else "",
            "csrf_token": (who.csrf_token or "") if who else "",
            "page": page,
            "title": t(title_key),
            "timezone": settings.town_timezone,
            "static_url": static_url,
            "vendor_url": vendor_url,
            "scripts": scripts,
            "vendor_css": vendor_css,
            "vendor_js": vendor_js,
            "config_json": _json_for_html(config),
            "messages_json": _json_for_html(t.messages),
            "vendor_missing": bool(vendor_js) and not vendor_installed(),
            **context,
        },
        status_code=status_code,
    )
    if set_cookie:
        response.set_cookie(
            LANG_COOKIE,
            set_cookie,
            max_age=LANG_COOKIE_MAX_AGE,
            path="/",
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return _security_headers(response, settings)


# --- error pages ------------------------------------------------------------------------------------
# (title key, message key) of the errors a console address answers with a page of its own.
ERROR_PAGES = {
    403: ("error.forbidden.title", "error.forbidden.text"),
    404: ("error.not_found.title", "error.not_found.text"),
    500: ("error.internal.title", "error.internal.text"),
}


def error_page(
    request: Request, who: Principal | None, status_code: int, message_key: str | None = None
) -> HTMLResponse:
    """A console page saying what went wrong (403, 404 or 500), with the way back."""
    title_key, default_message_key = ERROR_PAGES[status_code]
    return render(
        request,
        "error.html",
        who,
        page="error",
        title_key=title_key,
        status_code=status_code,
        message_key=message_key or default_message_key,
        error_status=status_code,
    )


def forbidden(request: Request, who: Principal, message_key: str = "error.forbidden.admin") -> HTMLResponse:
    return error_page(request, who, 403, message_key)


def not_found(request: Request, who: Principal) -> HTMLResponse:
    return error_page(request, who, 404)


# --- errors outside the pages: a mistyped address, an unexpected failure ------------------------------
# Outside /api/ but read by machines (probes, Prometheus): they keep the problem details too.
MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def is_console_address(request: Request) -> bool:
    """A page a person opened in a browser: a GET outside the JSON API."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/") or path in MACHINE_PATHS:
        return False
    return request.method in ("GET", "HEAD")


def install_error_pages(app: FastAPI) -> None:
    """Answer a console address's 403, 404 and 500 with a page in the console's layout.

    Call it after `problems.install`: its handlers still answer first (they log the unexpected
    error), and their problem details stay the answer of the JSON API and of anything else.
    """
    for exc_class in (StarletteHTTPException, Exception):
        app.add_exception_handler(exc_class, _with_page(app.exception_handlers[exc_class]))


def _with_page(problem_handler: Callable[[Request, Exception], Any]) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> Response:
        answer = problem_handler(request, exc)
        problem: Response = await answer if inspect.isawaitable(answer) else answer
        if problem.status_code not in ERROR_PAGES or not is_console_address(request):
            return problem
        try:
            who = await principal(request, await find_principal(request))
        except Exception:  # the database may be what failed: the page then shows no account
            who = None
        try:
            return error_page(request, who, problem.status_code)
        except Exception:
            log.exception("cannot render the console's error page for %s", request.url.path)
            return problem

    return handler


# --- pages ------------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, who: Viewer) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if who is not None:
        return RedirectResponse(next_path, status_code=303)
    return render(
        request,
        "login.html",
        None,
        page="login",
        title_key="login.title",
        scripts=("login.js",),
        next_path=next_path,
        signed_out=request.query_params.get("signed_out") == "1",
        expired=request.query_params.get("expired") == "1",
    )


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, who: Viewer) -> Response:
    if who is None:
        return login_redirect(request)
    return render(
        request,
        "dashboard.html",
        who,
        page="dashboard",
        title_key="dashboard.title",
        vendor_css=(("leaflet", "leaflet.css"),),
        vendor_js=(("leaflet", "leaflet.js"),),
        scripts=("dashboard.js",),
    )


@router.get("/lamps/{lamp_id}", response_class=HTMLResponse)
def lamp_page(request: Request, who: Viewer, lamp_id: str) -> Response:
    if who is None:
        return login_redirect(request)
    if not LAMP_ID.match(lamp_id):
        return not_found(request, who)
    return render(
        request,
        "lamp.html",
        who,
        page="lamp",
        title_key="lamp.title",
        vendor_css=(("uplot", "uPlot.min.css"),),
        vendor_js=(("uplot", "uPlot.iife.min.js"),),
        scripts=("lamp.js",),
        page_config={"lampId": lamp_id},
        lamp_id=lamp_id,
    )


@router.get("/lists/{kind}", response_class=HTMLResponse)
def list_page(request: Request, who: Viewer, kind: str) -> Response:
    if who is None:
        return login_redirect(request)
    if kind not in LISTS:
        return not_found(request, who)
    title_key, intro_key, roles = LISTS[kind]
    if who.role not in roles:
        return forbidden(request, who, "error.forbidden.field_staff")
    return render(
        request,
        "list.html",
        who,
        page=f"list-{kind}",
        title_key=title_key,
        scripts=("lists.js",),
        page_config={"list": kind},
        intro_key=intro_key,
        list_kind=kind,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, who: Viewer) -> Response:
    if who is None:
        return login_redirect(request)
    if who.role is not Role.ADMIN:
        return forbidden(request, who)
    return render(request, "users.html", who, page="admin-users", title_key="users.title", scripts=("users.js",))


# --- files ------------------------------------------------------------------------------------------
def _file(base: Path, relative: str, suffixes: frozenset[str], cache: str) -> Response:
    path = (base / relative).resolve()
    if not path.is_relative_to(base.resolve()) or path.suffix not in suffixes or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    response = FileResponse(path)
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/console/static/{name:path}")
def static_file(name: str) -> Response:
    return _file(STATIC_DIR, name, STATIC_SUFFIXES, "public, max-age=86400")


@router.get("/console/vendor/{package}/{name:path}")
def vendor_file(package: str, name: str) -> Response:
    folder = VENDOR.get(package)
    if folder is None:
        return Response("not found", status_code=404, media_type="text/plain")
    if not vendor_installed():
        return Response(
            "the console's libraries are not installed: run scripts/console-assets",
            status_code=503,
            media_type="text/plain",
        )
    return _file(NODE_MODULES / folder, name, VENDOR_SUFFIXES, "public, max-age=604800")
