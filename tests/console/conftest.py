"""The console's browser tests: the real app under uvicorn, a demo town in TimescaleDB, Debian's Chromium.

One database and one server per test module (loading the town takes a few seconds);
each test gets a fresh browser context, so no cookie leaks from one test to the next.
Chromium is the system's (`apt-get install chromium`, done by scripts/test): Playwright
only drives it and never downloads a browser of its own.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from psycopg_pool import ConnectionPool

from core import db
from core.settings import Settings
from tests.conftest import drop_database, fresh_database
from tests.console.demo_data import DemoTown, load_demo_town

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where the tests leave screenshots of the pages, for a person to look at.
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "streetlight-console-screenshots"
# A landscape tablet (10-11 inch); touch, as in the street.
TABLET = {"viewport": {"width": 1180, "height": 820}, "has_touch": True, "device_scale_factor": 1}


@dataclass
class Console:
    url: str
    database_url: str
    town: DemoTown
    app: Any  # the FastAPI app; its state.settings may be swapped by a test


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def console_database(admin_urls: dict[str, str]) -> Iterator[tuple[str, DemoTown]]:
    """As tests/conftest.py's `timescale_url` (a fresh migrated database on the project's
    TimescaleDB), but shared by a module's tests, with the demo town loaded."""
    admin = admin_urls["timescale"]
    name, url = fresh_database(admin)
    try:
        db.upgrade(url)
        yield url, load_demo_town(url)
    finally:
        drop_database(admin, name)


@pytest.fixture(scope="module")
def console(console_database: tuple[str, DemoTown]) -> Iterator[Console]:
    from api.app import create_app

    database_url, town = console_database
    settings = Settings(database_url=database_url, town_timezone="Europe/Paris", _env_file=None)
    port = _free_port()
    with ConnectionPool(database_url, min_size=1, max_size=6) as pool:
        app = create_app(pool, readiness=lambda: {"broker": True}, settings=settings)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="console-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the app did not start"
        try:
            yield Console(f"http://127.0.0.1:{port}", database_url, town, app)
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run the suite with scripts/test, which installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, console: Console):
    context = browser.new_context(base_url=console.url, locale="en-GB", timezone_id="UTC", **TABLET)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.errors = []  # uncaught script errors and console errors, checked by the tests
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(f"console: {msg.text}"))
    yield page


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True)
    return SCREENSHOT_DIR
