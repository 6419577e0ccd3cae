"""The console's server side without a browser: translations, redirects, refusals, files, headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

import accounts
from api.console import i18n, routes
from core.contract import EventType
from core.settings import Settings
from core.vocabulary import Role

CONSOLE = Path(routes.__file__).parent
PASSWORD = "console-test-password"


# --- translations ----------------------------------------------------------------------------------
def test_both_catalogues_have_the_same_keys_and_placeholders():
    en, fr = i18n.catalogue("en"), i18n.catalogue("fr")
    assert sorted(en) == sorted(fr)
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", fr[key])), key


def test_every_text_the_pages_ask_for_is_in_the_catalogue():
    en = i18n.catalogue("en")
    sources = [p.read_text() for p in (CONSOLE / "templates").glob("*.html")]
    sources += [p.read_text() for p in (CONSOLE / "static").glob("*.js")]
    literal = {key for text in sources for key in re.findall(r"\bt\(\s*['\"]([a-z0-9_.]+[a-z0-9_])['\"]", text)}
    assert len(literal) > 100
    dynamic = (
        [f"state.{s}" for s in ("in_service", "faulty", "under_repair", "planned", "retired")]
        + [f"role.{r.value}" for r in Role]
        + [f"event.{e.value}" for e in EventType]
        + [f"source.{s}" for s in ("controller", "service", "technician")]
        + [f"metric.{m}" for m in ("power_w", "power_factor", "voltage_v", "driver_temp_c", "dim_level")]
        + [f"lamp.bucket.{b}" for b in ("raw", "5min", "1h", "1d")]
        + [f"lists.{kind}.{part}" for kind in routes.LISTS for part in ("title", "intro", "count", "empty")]
        + [f"wo_status.{s}" for s in ("open", "scheduled", "done", "cancelled")]
        + [f"outcome.{o}" for o in ("repaired", "replaced", "false_alarm", "no_fault_found")]
        + [f"risk.{r}" for r in ("high", "elevated", "moderate", "low")]
        + [f"signal.{s}" for s in ("switch_cycles", "burning_hours", "reports", "events", "age")]
    )
    missing = sorted(key for key in literal | set(dynamic) if key not in en)
    assert missing == []


def test_a_translator_fills_placeholders_and_falls_back():
    t = i18n.Translator("fr")
    assert t("dashboard.map.count", count="1 500") == "1 500 lampes sur la carte"
    assert t("no.such.key") == "no.such.key"
    assert i18n.Translator("de").lang == i18n.DEFAULT_LANGUAGE


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE,en-GB;q=0.7,fr;q=0.5", "en"),
        ("en;q=0.2, fr;q=0.9", "fr"),
        ("de, es", None),
        ("fr;q=0, en;q=0.1", "en"),
        ("", None),
    ],
)
def test_the_browser_language_is_used_before_signing_in(header, expected):
    assert i18n.from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/lamps/L1?range=7d", "/lamps/L1?range=7d"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("lamps", "/"),
        (None, "/"),
    ],
)
def test_after_signing_in_the_console_goes_only_to_its_own_pages(value, expected):
    assert routes.safe_next(value) == expected


def test_the_tile_server_is_the_only_other_site_images_may_come_from():
    assert routes._tile_source(None) is None
    assert routes._tile_source("https://tiles.example.org/{z}/{x}/{y}.png") == "https://tiles.example.org"
    assert routes._tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    assert routes._tile_source("http://127.0.0.1:8080/t/{z}/{x}/{y}.png") == "http://127.0.0.1:8080"
    with pytest.raises(ValueError, match="STREETLIGHT_MAP_TILE_URL"):
        Settings(map_tile_url="https://tiles.example.org/tile.png", _env_file=None)


# --- files -------------------------------------------------------------------------------------------
@pytest.fixture
def files_client() -> TestClient:
    app = FastAPI()
    app.include_router(routes.router)
    return TestClient(app)


def test_the_console_serves_its_files_and_the_installed_libraries(files_client):
    css = files_client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for path in (
        "/console/vendor/leaflet/leaflet.js",
        "/console/vendor/uplot/uPlot.iife.min.js",
        "/console/vendor/swagger-ui/swagger-ui-bundle.js",
        "/console/vendor/redoc/redoc.standalone.js",
    ):
        response = files_client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
        assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/../routes.py",
        "/console/static/%2e%2e/routes.py",
        "/console/static/nothing.js",
        "/console/vendor/leaflet/../package.json",
        "/console/vendor/leaflet/../../uplot/package.json",
        "/console/vendor/left-pad/index.js",
    ],
)
def test_nothing_else_is_served(files_client, path):
    assert files_client.get(path).status_code == 404


# --- pages -------------------------------------------------------------------------------------------
@pytest.fixture
def client(timescale_url: str):
    from api.app import create_app

    with psycopg.connect(timescale_url, autocommit=True) as conn:
        for username, role, locale in (("tech", Role.TECHNICIAN, "fr"), ("energy", Role.ENERGY_MANAGER, "en")):
            accounts.create_user(conn, username, role, password=PASSWORD, locale=locale)
    settings = Settings(
        database_url=timescale_url, map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png", _env_file=None
    )
    with ConnectionPool(timescale_url, min_size=1, max_size=2) as pool:
        yield TestClient(create_app(pool, settings=settings), follow_redirects=False)


def _sign_in(client: TestClient, username: str) -> None:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


@pytest.mark.timescale
@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/login"),
        ("/lamps/L00001", "/login?next=/lamps/L00001"),
        ("/lists/out?x=1", "/login?next=/lists/out%3Fx%3D1"),
        ("/admin/users", "/login?next=/admin/users"),
    ],
)
def test_pages_need_a_session(client, path, location):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == location
    # A bearer token is for scripts: it does not open the console's pages.
    assert client.get(path, headers={"Authorization": "Bearer slt_whatever"}).status_code == 303


@pytest.mark.timescale
def test_the_login_page_is_plain_html_with_a_strict_policy(client):
    response = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "img-src 'self' data: https://*.tiles.example.org" in policy
    assert response.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in response.text
    config = json.loads(re.search(r'id="console-config">(.*?)</script>', response.text).group(1))
    assert config["mapTileUrl"] == "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    assert config["timezone"] == "Europe/Paris"


@pytest.mark.timescale
def test_roles_are_checked_by_the_server(client):
    _sign_in(client, "tech")
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text  # the account's language
    assert 'href="/admin/users"' not in page.text
    refused = client.get("/admin/users")
    assert refused.status_code == 403
    assert "Accès refusé" in refused.text
    assert client.get("/lists/unknown").status_code == 200
    assert client.get("/lamps/bad%20id").status_code == 404

    client.cookies.clear()
    _sign_in(client, "energy")
    assert client.get("/lists/unknown").status_code == 403
    assert client.get("/lists/offline").status_code == 200
    assert client.get("/lists/nothing").status_code == 404


@pytest.mark.timescale
@pytest.mark.parametrize("profile_id", ["%C2%B2", "1" * 5000, "0", "9223372036854775808"])
def test_a_profile_page_for_no_profile_number_is_not_found(client, profile_id):
    # "²" passes str.isdigit() but not int(), and int() refuses numbers of more than 4,300 digits.
    _sign_in(client, "tech")
    assert client.get(f"/dimming/profiles/{profile_id}").status_code == 404


@pytest.mark.timescale
def test_the_language_switch_is_remembered_per_user(client):
    _sign_in(client, "tech")
    switched = client.get("/?lang=en")
    assert '<html lang="en">' in switched.text
    assert switched.cookies.get(routes.LANG_COOKIE) == "en:tech"
    assert '<html lang="en">' in client.get("/").text
    # Another user on the same browser gets their own account's language.
    client.cookies.set(routes.LANG_COOKIE, "en:someone-else")
    assert '<html lang="fr">' in client.get("/").text


@pytest.mark.timescale
def test_the_login_form_works_without_scripts(client):
    form = client.get("/login?next=/lists/out").text
    assert 'action="/api/v1/auth/login"' in form and 'name="next" value="/lists/out"' in form
    response = client.post("/api/v1/auth/login", data={"username": "tech", "password": PASSWORD, "next": "/lists/out"})
    assert response.status_code == 303
    assert response.headers["location"] == "/lists/out"
    assert client.get("/lists/out").status_code == 200


# --- error pages -------------------------------------------------------------------------------------
def _add_failing_routes(app: FastAPI) -> None:
    """Routes for these tests only: one that fails unexpectedly and one that refuses, in the console and in the API."""

    def fail() -> None:
        raise RuntimeError("a bug in a page")

    def refuse() -> None:
        raise HTTPException(403, "refused")

    for path in ("/test-only/fail", "/api/v1/test-only/fail"):
        app.add_api_route(path, fail)
    app.add_api_route("/test-only/refuse", refuse)


@pytest.fixture
def lenient_client(client: TestClient) -> TestClient:
    """The same app, answering a failure as the server does instead of raising it in the test."""
    _add_failing_routes(client.app)
    return TestClient(client.app, follow_redirects=False, raise_server_exceptions=False)


def _is_console_page(response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("text/html")
        and 'class="topbar"' in response.text
        and "Content-Security-Policy" in response.headers
    )


@pytest.mark.timescale
def test_a_mistyped_address_shows_a_console_page_in_the_browsers_language(client):
    response = client.get("/lamsp/L1", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert _is_console_page(response, 404)
    assert '<html lang="fr">' in response.text
    assert "Page introuvable" in response.text and "Erreur 404" in response.text
    assert 'href="/login"' in response.text  # nobody signed in: the way back is signing in


@pytest.mark.timescale
def test_a_signed_in_user_gets_the_error_page_with_the_menu_in_their_language(client):
    _sign_in(client, "energy")
    response = client.get("/no/such/page")
    assert _is_console_page(response, 404)
    assert '<html lang="en">' in response.text  # the account's language
    assert "Page not found" in response.text
    assert 'class="mainnav"' in response.text and 'href="/">Back to the dashboard' in response.text
    refused = client.get("/admin/users")
    assert _is_console_page(refused, 403)
    assert "Access refused" in refused.text and "Error 403" in refused.text


@pytest.mark.timescale
def test_a_refusal_and_a_failure_outside_the_pages_show_console_pages(lenient_client):
    _sign_in(lenient_client, "tech")
    refused = lenient_client.get("/test-only/refuse")
    assert _is_console_page(refused, 403)
    assert "Accès refusé" in refused.text
    failed = lenient_client.get("/test-only/fail")
    assert _is_console_page(failed, 500)
    assert "Une erreur est survenue" in failed.text and 'href="/"' in failed.text
    assert "a bug in a page" not in failed.text  # nothing of the internals


@pytest.mark.timescale
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nonexistent", 404),
        ("GET", "/api/v1/test-only/fail", 500),
        ("GET", "/api/nothing", 404),
        ("POST", "/no/such/page", 404),  # not a page a browser opens
    ],
)
def test_the_api_keeps_its_problem_details(lenient_client, method, path, status):
    _sign_in(lenient_client, "tech")
    response = lenient_client.request(method, path, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status and response.json()["instance"] == path


# --- API documentation -------------------------------------------------------------------------------
@pytest.mark.timescale
@pytest.mark.parametrize(
    ("path", "library"),
    [
        ("/api/docs", "/console/vendor/swagger-ui/swagger-ui-bundle.js"),
        ("/api/redoc", "/console/vendor/redoc/redoc.standalone.js"),
    ],
)
def test_the_api_documentation_loads_its_libraries_from_the_service(client, path, library):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/openapi.json" in page.text and library in page.text
    # Every address in the page is the service's own: no CDN, no web fonts from elsewhere.
    assert re.findall(r"(?:src|href)=\"(?!/)[^\"]*\"", page.text) == []
    assert "https://" not in page.text and "http://" not in page.text
    assert client.get(library).status_code == 200
