"""The console's header at every width, from a phone to a large screen, in both languages.

The administrator has the longest menu. Nothing in the header may stick out of its box or
of the screen, and every entry must be reachable: shown, or shown once its group (or, on a
phone, the menu button) is opened, with the mouse and with the keyboard.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.console.conftest import Console
from tests.console.test_console import no_page_errors, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timescale]

WIDTHS = (360, 820, 1280, 1920)
PHONE_WIDTH = 640  # the menu folds behind a button at this width and below (console.css)
# Every page of the administrator's menu.
ADMIN_ENTRIES = (
    "/",
    "/lists/out",
    "/lists/offline",
    "/lists/unknown",
    "/predictions",
    "/work-orders",
    "/round",
    "/dimming",
    "/energy",
    "/admin/users",
)
NAV_LABEL = {"en": "Main", "fr": "Navigation principale"}
MENU_LABEL = {"en": "Menu", "fr": "Menu"}

# What sticks out: for each box of the header, whether it leaves the screen or its parent
# (horizontally), and whether a box that clips or an entry is wider inside than it shows (cut text).
OVERFLOWS = """
() => {
  const screen = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "")
    + (el.textContent.trim() ? " '" + el.textContent.trim().slice(0, 30) + "'" : "");
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && !el.closest(".visually-hidden");
  };
  const found = [];
  if (document.documentElement.scrollWidth > window.innerWidth) {
    found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  for (const el of document.querySelectorAll(".topbar, .topbar *")) {
    if (!shown(el) || el instanceof SVGElement) continue;
    const box = el.getBoundingClientRect();
    if (box.left < -0.5 || box.right > screen + 0.5) found.push(`${name(el)} leaves the screen: ${box.left}..${box.right}`);
    // Cut: a box that clips (or scrolls) what it holds, or an entry wider inside than shown.
    const clips = getComputedStyle(el).overflowX !== "visible" || el.matches("a, summary, button");
    if (clips && el.scrollWidth > el.clientWidth + 1) found.push(`${name(el)} is cut: ${el.scrollWidth} > ${el.clientWidth}`);
    const parent = el.parentElement;
    // A dropped-down group's list is laid over the page, outside its entry on purpose.
    if (parent && shown(parent) && getComputedStyle(el).position !== "absolute" && !el.matches(".visually-hidden")) {
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - 0.5 || box.right > outer.right + 0.5) {
        found.push(`${name(el)} leaves ${name(parent)}: ${box.left}..${box.right} in ${outer.left}..${outer.right}`);
      }
    }
  }
  // The header's parts side by side must not overlap.
  const parts = [".brand", ".menu-toggle", ".mainnav", ".topbar-tools"]
    .map((selector) => document.querySelector(selector))
    .filter((el) => el && shown(el));
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      const a = parts[i].getBoundingClientRect(), b = parts[j].getBoundingClientRect();
      const apart = a.right <= b.left + 0.5 || b.right <= a.left + 0.5 || a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5;
      if (!apart) found.push(`${name(parts[i])} overlaps ${name(parts[j])}`);
    }
  }
  return found;
}
"""


def overflows(page: Page) -> list[str]:
    return page.evaluate(OVERFLOWS)


def group_of(link: Locator) -> Locator:
    """The summary of the group holding `link` (none for an entry of its own)."""
    return link.locator("xpath=ancestor::details[1]/summary")


@pytest.fixture
def sized_page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Page:
    width = request.param
    context = browser.new_context(
        base_url=console.url,
        locale="en-GB",
        timezone_id="UTC",
        viewport={"width": width, "height": 900},
        has_touch=width <= 1280,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(f"console: {msg.text}"))
    yield page
    context.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("sized_page", WIDTHS, indirect=True, ids=lambda w: f"{w}px")
def test_the_administrators_menu_fits_and_every_entry_is_reachable(
    sized_page: Page, console: Console, lang: str, screenshot_dir: Path
):
    page = sized_page
    width = page.viewport_size["width"]
    sign_in(page, "admin", start="/login?next=/lists/out")
    page.goto(f"/lists/out?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    nav = page.get_by_role("navigation", name=NAV_LABEL[lang], include_hidden=True)
    toggle = page.locator("#menu-toggle")
    shots = screenshot_dir / "navigation"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{width}-{lang}.png"))

    if width <= PHONE_WIDTH:
        # Folded behind the menu button, which says whether it is open.
        expect(nav).to_be_hidden()
        expect(toggle).to_have_accessible_name(MENU_LABEL[lang])
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        expect(toggle).to_be_hidden()
    expect(nav).to_be_visible()
    assert overflows(page) == []

    links = nav.locator("a")
    assert sorted(links.evaluate_all("links => links.map(a => a.getAttribute('href'))")) == sorted(ADMIN_ENTRIES)
    for href in ADMIN_ENTRIES:
        link = nav.locator(f'a[href="{href}"]')
        if not link.is_visible():
            summary = group_of(link)
            expect(summary).to_be_visible()
            summary.click()
        expect(link).to_be_visible()
        assert overflows(page) == [], href
        box = link.bounding_box()
        assert box is not None and box["height"] >= 40, (href, box)  # a touch target
        if href == "/predictions":  # an open group, for the person looking at the screenshots
            page.screenshot(path=str(shots / f"{width}-{lang}-open.png"))
    # The current page's group says so.
    expect(group_of(nav.locator('a[href="/lists/out"]'))).to_have_class("current")
    no_page_errors(page)


@pytest.mark.parametrize("sized_page", [360, 1280], indirect=True, ids=lambda w: f"{w}px")
def test_the_menu_works_from_the_keyboard(sized_page: Page, console: Console):
    page = sized_page
    width = page.viewport_size["width"]
    sign_in(page, "admin", start="/login?next=/admin/users")
    expect(page.locator("h1")).to_have_text("Users")
    if width <= PHONE_WIDTH:
        toggle = page.locator("#menu-toggle")
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        page.locator(".brand").focus()
    nav = page.get_by_role("navigation", name="Main")
    # Tab to the Maintenance group and open it with Enter; its first entry is next.
    maintenance = nav.locator("#nav-maintenance > summary")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_focused()
    page.keyboard.press("Tab")
    expect(maintenance).to_be_focused()
    page.keyboard.press("Enter")
    lamps_out = nav.get_by_role("link", name="Lamps out", include_hidden=True)
    expect(lamps_out).to_be_visible()
    page.keyboard.press("Tab")
    expect(lamps_out).to_be_focused()
    # Escape closes it and gives the focus back to its name.
    page.keyboard.press("Escape")
    expect(lamps_out).to_be_hidden()
    expect(maintenance).to_be_focused()
    # Space opens it too; the last entry followed by Tab leaves a dropped-down group closed behind.
    page.keyboard.press(" ")
    round_link = nav.get_by_role("link", name="Daily round", include_hidden=True)
    round_link.focus()
    page.keyboard.press("Tab")
    if width > PHONE_WIDTH:
        expect(round_link).to_be_hidden()
        expect(nav.locator("#nav-energy > summary")).to_be_focused()
    # An entry is followed with Enter.
    nav.locator("#nav-energy > summary").focus()
    page.keyboard.press("Enter")
    consumption = nav.get_by_role("link", name="Consumption and savings")
    consumption.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/energy")
    no_page_errors(page)


@pytest.mark.parametrize("sized_page", [1280], indirect=True, ids=lambda w: f"{w}px")
def test_a_group_closes_on_a_click_elsewhere_and_drops_over_the_map(sized_page: Page, console: Console):
    page = sized_page
    sign_in(page, "admin")
    page.wait_for_selector("#map[data-drawn]")
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("#nav-maintenance > summary").click()
    entry = nav.get_by_role("link", name="Work orders", include_hidden=True)
    expect(entry).to_be_visible()
    # Over the map: the entry is what a click at its place reaches.
    box = entry.bounding_box()
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('a')?.getAttribute('href')",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit == "/work-orders"
    # Opening another group closes the first.
    nav.locator("#nav-energy > summary").click()
    expect(entry).to_be_hidden()
    dimming = nav.get_by_role("link", name="Dimming", include_hidden=True)
    expect(dimming).to_be_visible()
    page.locator("h1").click()
    expect(dimming).to_be_hidden()
    no_page_errors(page)


@pytest.mark.parametrize("sized_page", [360], indirect=True, ids=lambda w: f"{w}px")
def test_a_technician_on_a_phone_has_dimming_as_an_entry_of_its_own(sized_page: Page, console: Console):
    page = sized_page
    sign_in(page, "tech", start="/login?next=/lists/offline")
    page.locator("#menu-toggle").click()
    nav = page.get_by_role("navigation", name="Main")
    # The energy group of a technician holds the dimming page alone: it is shown as an entry.
    expect(nav.get_by_role("link", name="Dimming")).to_be_visible()
    expect(nav.locator("#nav-energy")).to_have_count(0)
    expect(nav.locator("#nav-admin")).to_have_count(0)
    expect(nav.get_by_role("link", name="Users", include_hidden=True)).to_have_count(0)
    assert overflows(page) == []
    no_page_errors(page)
