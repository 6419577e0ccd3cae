"""The console's dashboard in headless Chromium: from navigation until the map shows every lamp.

The dashboard writes how many lamps its map holds into `#map[data-drawn]` once it has
drawn them; the clock runs from the navigation to that count being every lamp with a
position. Chromium is the system's, launched as the console's browser tests launch it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.city.build import ADMIN_PASSWORD, ADMIN_USER
from benchmarks.common import BenchmarkError

if TYPE_CHECKING:
    from playwright.sync_api import Request

DASHBOARD_TARGET_S = 5.0
TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class DashboardTiming:
    drawn_s: list[float]  # one per page load (the first with a cold browser cache)
    map_received_s: list[float]  # ... until the map's answer was received: the rest is the browser's drawing
    lamps: int


def dashboard_times(base_url: str, lamps_placed: int, loads: int) -> DashboardTiming:
    from playwright.sync_api import sync_playwright

    from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        raise BenchmarkError(f"{CHROMIUM} is missing (apt-get install chromium)")
    times: list[float] = []
    received: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(base_url=base_url, locale="en-GB", viewport={"width": 1180, "height": 820})
            context.set_default_timeout(TIMEOUT_S * 1000)
            page = context.new_page()
            page.goto("/login")
            page.fill("#username", ADMIN_USER)
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto("about:blank")
            map_done: list[float] = []

            def finished(request: Request) -> None:
                if "/api/v1/fleet/map" in request.url:
                    map_done.append(time.perf_counter())

            page.on("requestfinished", finished)
            for _ in range(loads):
                map_done.clear()
                began = time.perf_counter()
                page.goto("/", wait_until="commit")
                page.wait_for_function(
                    "n => document.getElementById('map')?.dataset.drawn === String(n)",
                    arg=lamps_placed,
                    polling=50,
                )
                times.append(time.perf_counter() - began)
                received.append(map_done[0] - began if map_done else float("nan"))
                page.goto("about:blank")
        finally:
            browser.close()
    return DashboardTiming(times, received, lamps_placed)
