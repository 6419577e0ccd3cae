"""A profile edited in the console reaches the lamps: the whole service (`streetlight serve`: API and
console, ingester, plan scheduler), Mosquitto, a simulated town (`streetlight simulate run`), and an
energy manager in Chromium. The edit is saved as a new version, the scheduler pushes the new plans,
every controller acknowledges them, and the console's push status says so.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect

from core import inventory
from core.contract import Topics
from core.vocabulary import Role
from dimming import store
from dimming.profiles import ProfileSpec
from simulators.town import generate_town, town_to_csv
from tests.api.factories import PASSWORD, make_account
from tests.console.conftest import TABLET
from tests.console.test_console import no_page_errors, sign_in
from tests.helpers import Publisher, ingester_env, scalar, start_cli, stop_process, wait_for_log, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timescale, pytest.mark.slow]

LAMPS = 12
SEED = 23
STEPS = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
# Lamps whose newest plan is acknowledged as applied, and carries a level (a JSON number).
APPLIED_WITH_LEVEL = """
    SELECT count(*) FROM (
        SELECT DISTINCT ON (lamp_id) lamp_id, ack_status, plan FROM plan_pushes ORDER BY lamp_id, version DESC
    ) newest
    WHERE ack_status = 'applied' AND jsonb_path_exists(plan, '$.points[*] ? (@.level == $level)', %s)"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def applied_with(url: str, level: int) -> int:
    return scalar(url, APPLIED_WITH_LEVEL, (psycopg.types.json.Jsonb({"level": level}),))


@pytest.fixture
def town_service(timescale_url: str, mqtt_url: str, topic_prefix: str, tmp_path: Path):
    """A town of LAMPS lamps under one profile, the service and the town's controllers, all running."""
    lamps = generate_town(LAMPS, seed=SEED)
    town_file = tmp_path / "town.csv"
    town_to_csv(lamps, town_file)
    with psycopg.connect(timescale_url) as conn:
        assert inventory.import_inventory(conn, inventory.load_inventory_file(town_file, None)).inserted == LAMPS
        make_account(conn, Role.ENERGY_MANAGER, "energy")
        conn.execute("UPDATE users SET locale = 'en' WHERE username = 'energy'")  # the labels the test reads
        spec = ProfileSpec(name="Town", twilight="sunset", steps=STEPS)
        profile_id = store.create_profile(conn, spec, "test")["id"]
        store.assign(conn, "town", "", profile_id, "test")

    port = free_port()
    env = ingester_env(timescale_url, mqtt_url, topic_prefix, f"dim-console-{uuid.uuid4().hex[:8]}")
    serve = start_cli(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "serve.log")
    simulator = None
    try:
        wait_for_log(tmp_path / "serve.log", "is the active scheduler", 90)
        simulator = start_cli(
            [
                "simulate",
                "run",
                "--town",
                str(town_file),
                "--seed",
                str(10_000 + uuid.uuid4().int % 80_000),
                "--interval",
                "60",
                "--speed",
                "1",
                "--failure-scale",
                "0",
                "--outage-scale",
                "0",
            ],
            env,
            tmp_path / "simulate.log",
        )
        wait_until(lambda: applied_with(timescale_url, 50) == LAMPS, 120, what="the first plans applied")
        yield f"http://127.0.0.1:{port}", profile_id
    finally:
        if simulator is not None:
            stop_process(simulator)
        stop_process(serve)
        publisher = Publisher(mqtt_url, f"dim-console-clean-{uuid.uuid4().hex[:8]}")
        for lamp in lamps:  # leave no retained plan behind on the shared broker
            publisher.publish(Topics(topic_prefix).plan(lamp.lamp_id), b"", retain=True)
        publisher.wait_acked(60)
        publisher.close()


@pytest.fixture
def service_page(browser, town_service):
    url, _ = town_service
    context = browser.new_context(base_url=url, locale="en-GB", timezone_id="UTC", **TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(f"console: {msg.text}"))
    yield page
    context.close()


def test_a_profile_edited_in_the_console_is_pushed_and_applied_by_every_lamp(
    service_page: Page, town_service, timescale_url: str
):
    page = service_page
    _, profile_id = town_service
    versions_before = scalar(timescale_url, "SELECT count(*) FROM plan_pushes")

    sign_in(page, "energy", PASSWORD, start=f"/login?next=/dimming/profiles/{profile_id}")
    expect(page.locator("#profile-version")).to_have_text("Version 1")
    page.get_by_label("Step 2: level in %").fill("30")
    expect(page.locator("#profile-errors li")).to_have_count(0)
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#profile-version")).to_have_text("Version 2")

    # The scheduler hears of the change, pushes a new plan to every lamp, and every controller applies it.
    wait_until(lambda: applied_with(timescale_url, 30) == LAMPS, 120, what="the new plans applied")
    assert applied_with(timescale_url, 50) == 0, "no lamp's newest plan keeps the old level"
    assert scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == versions_before + LAMPS, (
        "one new plan version per lamp, no more"
    )

    # The console's push status shows it.
    page.goto("/dimming")
    expect(page.locator('#push-counts [data-state="applied"] .kpi-value')).to_have_text(str(LAMPS))
    expect(page.locator('#push-counts [data-state="pending"] .kpi-value')).to_have_text("0")
    no_page_errors(page)
