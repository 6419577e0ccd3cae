"""The web console in a real browser (Debian's Chromium, driven by Playwright) against the real app.

The app runs under uvicorn on a loopback port, on a TimescaleDB database holding a
demo town of 300 lamps with a day of simulated readings (see demo_data.py); the
browser runs in UTC, so that times shown in Europe/Paris prove the town's zone is used.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.console.conftest import Console
from tests.console.demo_data import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.timescale]

CHART_FIELDS = ("power_w", "power_factor", "voltage_v", "driver_temp_c", "dim_level")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def sign_in(page: Page, username: str, password: str = PASSWORD, *, start: str = "/login") -> None:
    page.goto(start)
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    try:
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    except PlaywrightTimeout as exc:
        error = page.locator("#login-error")
        shown = error.inner_text() if error.is_visible() else page.url
        raise AssertionError(f"{username} was not signed in: {shown}") from exc


def nav_entry(page: Page, name: str, nav_label: str = "Main") -> Locator:
    """The main menu's entry `name`, its group opened first when it is in one, as a person would."""
    link = page.get_by_role("navigation", name=nav_label).get_by_role("link", name=name, include_hidden=True)
    if not link.is_visible():
        link.locator("xpath=ancestor::details[1]/summary").click()
    return link


def wait_for_map(page: Page) -> None:
    page.wait_for_selector("#map[data-drawn]")


def no_page_errors(page: Page) -> None:
    assert page.errors == [], page.errors


# --- signing in and out ----------------------------------------------------------------------------
def test_a_page_without_a_session_goes_to_the_login_form(page: Page, console: Console):
    page.goto("/lamps/L00001?range=7d")
    assert page.url == console.url + "/login?next=/lamps/L00001%3Frange%3D7d"
    expect(page.locator("h1")).to_have_text("Sign in")
    # After signing in, the browser goes where it was going.
    page.fill("#username", "tech")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/lamps/L00001?range=7d")
    expect(page.locator("#range-7d")).to_be_checked()
    no_page_errors(page)


def test_a_wrong_password_is_said_so_and_nothing_else_happens(page: Page, console: Console):
    page.goto("/login")
    page.get_by_label("Username").fill("tech")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Password")).to_have_value("")
    assert page.url.endswith("/login")
    # An empty form is caught before it is sent.
    page.get_by_label("Username").fill("")
    page.get_by_role("button", name="Sign in").click()
    expect(error).to_have_text("Enter your username.")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")


def test_signing_out_ends_the_session(page: Page, console: Console):
    sign_in(page, "energy")
    wait_for_map(page)
    page.get_by_role("button", name="Sign out").click()  # POST with the X-CSRF-Token header
    page.wait_for_url("**/login?signed_out=1")
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto("/")
    assert page.url == console.url + "/login"
    assert not [c for c in page.context.cookies() if c["name"] == "streetlight_session"]
    no_page_errors(page)


# --- the dashboard -----------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["tech", "energy", "admin"])
def test_each_role_sees_the_dashboard_and_every_lamp_on_the_map(
    page: Page, console: Console, username: str, screenshot_dir
):
    sign_in(page, username)
    assert page.url == console.url + "/"
    expect(page.locator("h1")).to_have_text("Dashboard")
    wait_for_map(page)
    town = console.town
    markers = page.locator("#map path.lamp-marker")
    expect(markers).to_have_count(town.size)
    assert page.locator("#map").get_attribute("data-drawn") == str(town.size)
    expect(page.locator("#map-count")).to_have_text(f"{town.size} lamps on the map")
    # Coloured by state: the faulty lamps are drawn red, the others by their own state.
    faulty = page.locator('#map path.lamp-marker[data-state="faulty"]')
    expect(faulty).to_have_count(len(town.faulty))
    assert {faulty.nth(i).get_attribute("fill") for i in range(len(town.faulty))} == {"#c62828"}
    expect(page.locator('#map path.lamp-marker[data-state="under_repair"]')).to_have_count(len(town.under_repair))
    expect(page.locator('#map path.lamp-marker[data-online="false"]')).to_have_count(len(town.offline))
    # The figures of GET /api/v1/fleet/summary.
    expect(page.locator('[data-kpi="total"]')).to_have_text(str(town.size))
    expect(page.locator('[data-kpi="lamps_out"]')).to_have_text(str(len(town.out)))
    expect(page.locator('[data-kpi="offline"]')).to_have_text(str(len(town.offline)))
    expect(page.locator('#state-table tr[data-state="faulty"] td')).to_have_text(str(len(town.faulty)))
    expect(page.locator('[data-kpi="energy_today"]')).to_contain_text("kWh")
    # Only an administrator is offered the accounts page.
    users_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Users", include_hidden=True)
    expect(users_link).to_have_count(1 if username == "admin" else 0)
    if username == "tech":
        page.screenshot(path=str(screenshot_dir / "dashboard.png"), full_page=True)
    # A lamp's dot opens a popup that leads to its page.
    page.locator(f'#map path.lamp-marker[data-lamp-id="{town.faulty[0]}"]').click(force=True)
    popup_link = page.locator(".leaflet-popup").get_by_role("link", name="Open lamp")
    expect(popup_link).to_have_attribute("href", f"/lamps/{town.faulty[0]}")
    no_page_errors(page)


def test_the_dashboard_refreshes_every_minute(page: Page, console: Console):
    page.clock.install()
    sign_in(page, "tech")
    wait_for_map(page)
    requests: list[str] = []
    page.on("request", lambda request: "/api/v1/fleet/summary" in request.url and requests.append(request.url))
    page.clock.fast_forward("00:30")
    page.wait_for_timeout(300)
    assert requests == []
    page.clock.fast_forward("00:31")
    page.wait_for_timeout(500)
    assert len(requests) == 1
    expect(page.locator("#refresh-status")).to_contain_text("Updated at")


def test_map_tiles_are_drawn_only_from_a_configured_tile_server(page: Page, console: Console):
    sign_in(page, "tech")
    wait_for_map(page)
    expect(page.locator("#map.map-plain")).to_have_count(1)
    assert page.locator("#map img").count() == 0  # no tile, no request to another site

    # A tile server of the town's (here the app itself, serving one small picture for every tile).
    settings = console.app.state.settings
    tiles = console.url + "/console/static/favicon.svg?z={z}&x={x}&y={y}"
    console.app.state.settings = settings.model_copy(
        update={"map_tile_url": tiles, "map_tile_attribution": "Tiles: the town's own server"}
    )
    try:
        page.reload()
        wait_for_map(page)
        expect(page.locator("#map.map-tiles")).to_have_count(1)
        expect(page.locator("#map img.leaflet-tile-loaded").first).to_be_visible()
        assert (
            page.locator("#map img.leaflet-tile")
            .first.get_attribute("src")
            .startswith(console.url + "/console/static/favicon.svg?z=")
        )
        expect(page.locator(".leaflet-control-attribution")).to_contain_text("Tiles: the town's own server")
        expect(page.locator("#map path.lamp-marker")).to_have_count(console.town.size)
    finally:
        console.app.state.settings = settings
    no_page_errors(page)


def test_finding_a_lamp_by_street(page: Page, console: Console):
    sign_in(page, "tech")
    wait_for_map(page)
    with psycopg.connect(console.database_url) as conn:
        street, count = conn.execute(
            "SELECT street, count(*) FROM lamps GROUP BY street ORDER BY count(*) DESC, street LIMIT 1"
        ).fetchone()
    page.get_by_label("Lamp id, name, street or address").fill(street)
    page.get_by_label("Lamp id, name, street or address").press("Enter")
    results = page.locator("#find-results li")
    expect(results).to_have_count(min(count, 20))
    results.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/lamps/[A-Za-z0-9_.-]+$"))
    expect(page.locator("#lamp-subtitle")).to_contain_text(street)


# --- a lamp ------------------------------------------------------------------------------------------
def test_a_lamp_page_shows_its_data_and_draws_its_charts(page: Page, console: Console, screenshot_dir):
    lamp_id = console.town.faulty[0]
    sign_in(page, "tech", start=f"/login?next=/lamps/{lamp_id}")
    assert page.url == f"{console.url}/lamps/{lamp_id}"
    expect(page.locator("#inventory")).to_contain_text(lamp_id)
    expect(page.locator("#lamp-badges")).to_contain_text("Faulty")
    expect(page.locator("#lamp-badges")).to_contain_text("Online")
    expect(page.locator("#open-events")).to_contain_text("Lamp failure")
    expect(page.locator("#recent-events li.event").first).to_be_visible()

    # The five charts, drawn (a canvas each) from data, over the last 24 h in 5-minute buckets.
    for field in CHART_FIELDS:
        figure = page.locator(f"#chart-{field}")
        expect(figure.locator(".uplot canvas")).to_have_count(1)
        points = int(figure.get_attribute("data-points"))
        assert 100 <= points <= 24 * 12 + 1, (field, points)
        expect(figure.locator(".chart-summary")).to_contain_text("average")
    expect(page.locator("#charts-status")).to_contain_text("5-minute averages")
    page.screenshot(path=str(screenshot_dir / "lamp.png"), full_page=True)

    # 7 days: hourly buckets (the town has one day of readings).
    page.get_by_text("7 days").click()
    expect(page.locator("#charts-status")).to_contain_text("hourly averages")
    assert page.url.endswith("?range=7d")
    points = int(page.locator("#chart-power_w").get_attribute("data-points"))
    assert 24 <= points <= 28
    # 30 days: daily buckets.
    page.get_by_text("30 days").click()
    expect(page.locator("#charts-status")).to_contain_text("daily averages")
    expect(page.locator("#chart-voltage_v .uplot canvas")).to_have_count(1)
    no_page_errors(page)


def test_a_technician_records_a_failure_then_a_repair(page: Page, console: Console):
    lamp_id = console.town.lamp_ids[100]
    sign_in(page, "tech", start=f"/login?next=/lamps/{lamp_id}")
    badges = page.locator("#lamp-badges")
    expect(badges).to_contain_text("In service")
    form = page.locator("#record-form")
    form.get_by_role("button", name="Record").click()
    expect(page.locator("#record-status")).to_have_text("Choose what you found.")

    form.get_by_text("Lamp failure").click()
    form.get_by_label("Note (optional)").fill("dark at 22:00, bowl cracked")
    form.get_by_role("button", name="Record").click()  # POST with the X-CSRF-Token header
    expect(page.locator("#record-status")).to_contain_text("Recorded: Lamp failure")
    expect(badges).to_contain_text("Faulty")
    expect(page.locator("#open-events")).to_contain_text("dark at 22:00, bowl cracked")
    expect(page.locator("#open-events")).to_contain_text("Recorded by a technician")

    form.get_by_text("Repaired").click()
    form.get_by_role("button", name="Record").click()
    expect(page.locator("#record-status")).to_contain_text("Recorded: Repaired")
    expect(badges).to_contain_text("In service")
    expect(page.locator("#open-events")).to_have_text("No open event.")
    no_page_errors(page)


def test_the_energy_manager_sees_a_lamp_but_records_nothing(page: Page, console: Console):
    sign_in(page, "energy", start=f"/login?next=/lamps/{console.town.lamp_ids[0]}")
    expect(page.locator("#chart-power_w .uplot canvas")).to_have_count(1)
    expect(page.locator("#record-form")).to_have_count(0)


def test_times_are_shown_in_the_town_time_zone(page: Page, console: Console):
    lamp_id = console.town.lamp_ids[0]
    with psycopg.connect(console.database_url) as conn:
        (last,) = conn.execute("SELECT max(ts) FROM readings WHERE lamp_id = %s", (lamp_id,)).fetchone()
    local = last.astimezone(ZoneInfo("Europe/Paris"))
    expected = f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    assert local.utcoffset() != datetime.now(ZoneInfo("UTC")).utcoffset()  # the browser itself runs in UTC
    sign_in(page, "tech", start=f"/login?next=/lamps/{lamp_id}")
    expect(page.locator("#last-reading")).to_contain_text(expected)


def test_an_unknown_lamp_says_so(page: Page, console: Console):
    sign_in(page, "tech", start="/login?next=/lamps/NO-SUCH-LAMP")
    expect(page.locator("#lamp-error")).to_have_text("There is no lamp NO-SUCH-LAMP in the inventory.")


# --- lists ---------------------------------------------------------------------------------------------
def test_the_technicians_lists(page: Page, console: Console):
    town = console.town
    sign_in(page, "tech")
    nav_entry(page, "Lamps out").click()
    # As the dashboard counts them: the faulty lamps, and the one under repair whose failure is still open,
    # longest out first.
    expect(page.locator("#list-count")).to_have_text(f"{len(town.out)} lamps out")
    rows = page.locator("#list-table tbody tr")
    expect(rows).to_have_count(len(town.out))
    expect(rows.first.locator("th")).to_have_text(town.under_repair[0])
    expect(rows.first).to_contain_text("Under repair")
    expect(rows.first).to_contain_text("6 hours ago")
    for lamp_id in town.out:
        expect(page.locator("#list-table").get_by_role("link", name=lamp_id)).to_have_attribute(
            "href", f"/lamps/{lamp_id}"
        )
    expect(page.locator("#list-more")).to_be_hidden()

    nav_entry(page, "Offline controllers").click()
    expect(page.locator("#list-count")).to_have_text(f"{len(town.offline)} offline controllers")
    expect(page.locator("#list-table tbody tr")).to_have_count(len(town.offline))

    nav_entry(page, "Awaiting commissioning").click()
    expect(page.locator("#list-count")).to_have_text(f"{len(town.unknown)} unknown lamp ids")
    for lamp_id in town.unknown:
        expect(page.locator("#list-table")).to_contain_text(lamp_id)
    no_page_errors(page)


# --- roles ----------------------------------------------------------------------------------------------
def test_a_technician_is_refused_the_admin_page_by_the_server(page: Page, console: Console):
    sign_in(page, "tech")
    response = page.goto("/admin/users")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Access refused")
    expect(page.locator("main")).to_contain_text("Technician")
    expect(page.locator("#users-table")).to_have_count(0)


def test_a_mistyped_address_shows_a_page_of_the_console_with_the_way_back(page: Page, console: Console, screenshot_dir):
    sign_in(page, "tech")
    response = page.goto("/lamsp/L00001")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "not-found.png"))
    page.get_by_role("link", name="Back to the dashboard").click()
    page.wait_for_url(console.url + "/")
    expect(page.locator("h1")).to_have_text("Dashboard")


def test_the_energy_manager_is_refused_the_commissioning_list(page: Page, console: Console):
    sign_in(page, "energy")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Awaiting commissioning", include_hidden=True)).to_have_count(0)
    response = page.goto("/lists/unknown")
    assert response.status == 403


def test_an_administrator_lists_the_accounts(page: Page, console: Console):
    sign_in(page, "admin")
    nav_entry(page, "Users").click()
    expect(page.locator("#users-count")).to_have_text("4 accounts")
    row = page.locator('#users-table tr[data-username="technicien"]')
    expect(row).to_contain_text("Technician")
    expect(row).to_contain_text("Français")
    no_page_errors(page)


# --- languages -------------------------------------------------------------------------------------------
def test_a_french_user_gets_the_console_in_french(page: Page, console: Console):
    sign_in(page, "technicien")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    expect(nav_entry(page, "Lampes éteintes", "Navigation principale")).to_be_visible()
    wait_for_map(page)
    expect(page.locator("#map-count")).to_have_text(f"{console.town.size} lampes sur la carte")
    expect(page.locator("#refresh-status")).to_contain_text("Mis à jour à")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

    page.goto(f"/lamps/{console.town.lamp_ids[0]}")
    expect(page.locator("#chart-power_w figcaption")).to_have_text("Puissance (W)")
    expect(page.locator("#chart-power_w .uplot canvas")).to_have_count(1)
    expect(page.locator("#last-reading")).to_contain_text(re.compile(r"\d{1,2} [a-zéû]+\.? \d{4}"))
    no_page_errors(page)


def test_the_language_switch_is_kept_on_the_account(page: Page, console: Console):
    sign_in(page, "technicien")
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    with psycopg.connect(console.database_url) as conn:
        (locale,) = conn.execute("SELECT locale FROM users WHERE username = 'technicien'").fetchone()
        assert locale == "en"
        conn.execute("UPDATE users SET locale = 'fr' WHERE username = 'technicien'")


def test_the_login_page_switches_language(page: Page, console: Console):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the browser asks for English
    page.get_by_role("link", name="Français").click()
    expect(page.locator("h1")).to_have_text("Connexion")
    expect(page.get_by_label("Mot de passe")).to_be_visible()
    page.reload()
    expect(page.locator("h1")).to_have_text("Connexion")  # remembered


# --- keyboard and tablet -----------------------------------------------------------------------------------
def test_keyboard_users_skip_to_the_content_and_see_where_the_focus_is(page: Page, console: Console):
    sign_in(page, "tech")
    wait_for_map(page)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The range picker of a lamp page is a radio group: arrow keys change the range.
    page.goto(f"/lamps/{console.town.lamp_ids[0]}")
    expect(page.locator("#chart-power_w .uplot canvas")).to_have_count(1)
    page.locator("#range-24h").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#range-7d")).to_be_checked()
    expect(page.locator("#charts-status")).to_contain_text("hourly averages")


@pytest.mark.parametrize("viewport", [{"width": 800, "height": 1280}, {"width": 1180, "height": 820}])
def test_tablets_get_no_sideways_scrolling_and_large_touch_targets(page: Page, console: Console, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, "tech")
    wait_for_map(page)
    for path in ("/", f"/lamps/{console.town.lamp_ids[0]}", "/lists/offline"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
        for target in page.locator(".mainnav a, .btn, .langswitch a").all():
            if target.is_visible():
                box = target.bounding_box()
                assert box["height"] >= 40, (path, target.inner_text(), box)
