"""The API documentation in a real browser with no network: Swagger UI at /api/docs and ReDoc at
/api/redoc load everything from the service itself (the npm packages scripts/console-assets installs)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.console.conftest import Console

pytestmark = [pytest.mark.browser, pytest.mark.timescale]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# An operation of the lamps tag, by the summary its route declares.
LIST_LAMPS = "List lamps, filtered, a page at a time"


@pytest.fixture
def offline_page(context: BrowserContext, page: Page) -> Page:
    """A page whose every request to another host is aborted and recorded in page.left."""
    page.left = []

    def only_this_machine(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK:
            route.continue_()
        else:
            page.left.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_this_machine)
    return page


def test_swagger_ui_shows_the_operations_without_a_network(offline_page: Page, console: Console, screenshot_dir):
    page = offline_page
    response = page.goto("/api/docs")
    assert response is not None and response.status == 200
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("streetlight")
    lamps = page.locator('.opblock-tag-section h3[data-tag="lamps"]')
    expect(lamps).to_be_visible()
    expect(page.locator(".opblock-summary-description", has_text=LIST_LAMPS)).to_be_visible()
    # An operation opens, with its parameters.
    page.locator("#operations-lamps-list_lamps_api_v1_lamps_get, .opblock", has_text=LIST_LAMPS).first.click()
    expect(page.locator(".opblock.is-open .parameters-container")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "api-docs.png"))
    page.wait_for_load_state("networkidle")
    assert page.left == []
    assert page.errors == []


def test_redoc_shows_the_operations_without_a_network(offline_page: Page, console: Console, screenshot_dir):
    page = offline_page
    response = page.goto("/api/redoc")
    assert response is not None and response.status == 200
    expect(page.locator("h1").first).to_contain_text("streetlight")
    menu = page.locator(".menu-content")
    expect(menu.get_by_text("lamps", exact=True)).to_be_visible()
    expect(page.locator("h2", has_text=LIST_LAMPS)).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "api-redoc.png"))
    page.wait_for_load_state("networkidle")
    assert page.left == []
    # ReDoc's "by Redocly" logo has an address elsewhere written into the library: the page's
    # policy refuses it in the browser (ReDoc then leaves it out), so it is never requested.
    refused = [e for e in page.errors if "violates the following Content Security Policy" in e]
    assert all("https://cdn.redoc.ly/" in e for e in refused), refused
    assert [e for e in page.errors if e not in refused] == []
