"""The dimming console in a real browser: an energy manager edits a profile's step, sees the preview and
the saving change, saves a new version that the lamp's dimming view then resolves; a technician sees
the same profile read-only; the energy page shows the months."""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import Page, expect

from dimming import store
from dimming.profiles import ProfileSpec
from tests.console.conftest import Console
from tests.console.test_console import no_page_errors, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timescale]

HALF_FROM_23_TO_05 = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]


@pytest.fixture(scope="module")
def residential(console: Console) -> tuple[int, str]:
    """A profile assigned to the group of one demo lamp: (profile id, that lamp's id)."""
    with psycopg.connect(console.database_url) as conn:
        lamp_id, group = conn.execute(
            """SELECT lamp_id, group_name FROM lamps
               WHERE state = 'in_service' AND lat IS NOT NULL AND group_name <> '' ORDER BY lamp_id LIMIT 1"""
        ).fetchone()
        spec = ProfileSpec(name="Residential", twilight="sunset", steps=HALF_FROM_23_TO_05)
        profile_id = store.create_profile(conn, spec, "test")["id"]
        store.assign(conn, "group", group, profile_id, "test")
        conn.commit()
    return profile_id, lamp_id


def night_saved_kwh(page: Page) -> float:
    return float(page.locator("#preview-figures").get_attribute("data-night-saved-kwh") or "nan")


def test_an_energy_manager_edits_a_step_and_the_lamp_follows_the_new_version(page: Page, console: Console, residential):
    profile_id, lamp_id = residential
    sign_in(page, "energy", start=f"/login?next=/dimming/profiles/{profile_id}")
    expect(page.locator("#profile-title")).to_have_text("Residential")
    expect(page.locator("#profile-version")).to_have_text("Version 1")
    expect(page.locator('[data-figure="night-saved"]')).to_be_visible()
    expect(page.locator("#preview-chart")).to_have_attribute("data-points", "4")
    before = night_saved_kwh(page)
    assert before > 0

    level_after_23 = page.get_by_label("Step 2: level in %")
    # A level out of range is named by its step, and the saving waits for a valid profile.
    level_after_23.fill("150")
    expect(page.locator('#profile-errors li[data-step="2"]')).to_contain_text("step 2: level 150 is outside 0-100")
    expect(level_after_23).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#preview-chart")).to_have_attribute("data-points", "0")

    # 30 % instead of 50 % after 23:00: more is saved.
    level_after_23.fill("30")
    expect(page.locator("#profile-errors li")).to_have_count(0)
    page.wait_for_function(
        "before => Number(document.getElementById('preview-figures').dataset.nightSavedKwh) > before", arg=before
    )
    after = night_saved_kwh(page)
    # Six hours at 20 % less light, for the group's whole rated power (linear power model, 97 % dimmable).
    assert after > before

    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#profile-version")).to_have_text("Version 2")
    expect(page.locator("#profile-status")).to_contain_text("Saved as version 2")

    view = page.request.get(f"/api/v1/lamps/{lamp_id}/dimming").json()
    assert (view["rule"]["source"], view["rule"]["profile_id"], view["rule"]["profile_version"]) == (
        "group",
        profile_id,
        2,
    )
    assert 30 in [point["level"] for point in view["points"]]
    assert 50 not in [point["level"] for point in view["points"]]

    # The dimming page's look-up tells the same.
    page.goto("/dimming")
    page.get_by_label("Which rule gives this lamp its profile? Lamp id").fill(lamp_id)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#lookup-source")).to_have_text("Its group's assignment")
    expect(page.locator("#lookup-profile")).to_have_text("Residential · v2")
    no_page_errors(page)


def test_a_technician_sees_the_profile_read_only(page: Page, console: Console, residential):
    profile_id, _ = residential
    sign_in(page, "tech", start=f"/login?next=/dimming/profiles/{profile_id}")
    expect(page.locator("#profile-title")).to_have_text("Residential")
    expect(page.locator("#read-only-notice")).to_be_visible()
    expect(page.locator('#steps-table tr[data-step="2"]')).to_be_visible()
    assert page.locator("#steps-table input, #steps-table select").count() == 0
    assert page.locator("#profile-save, #copy-form, #retire-profile, #add-step").count() == 0
    expect(page.locator('[data-figure="night-saved"]')).to_be_visible()  # the preview is for everyone

    page.goto("/dimming")
    expect(page.locator("#profiles-table")).to_contain_text("Residential")
    assert page.locator("#new-profile-form, #assignment-form, #calendar-form, #override-form").count() == 0
    no_page_errors(page)


def test_the_energy_page_shows_the_summary_first_and_the_table_folded(page: Page, console: Console, residential):
    sign_in(page, "energy", start="/login?next=/energy")
    expect(page.locator('[data-total="kwh"]')).to_be_visible()
    expect(page.locator('[data-total="coverage"]')).to_contain_text("%")
    # About a day of readings in a year: the page says the period is only partly measured.
    expect(page.locator("#energy-coverage")).to_have_attribute("data-partial", "true")
    expect(page.locator("#energy-coverage")).to_be_visible()
    assert "format=csv" in page.locator("#energy-csv").get_attribute("href")
    # The per-group table is folded, so the page stays short; opened, it shows a page of rows.
    expect(page.locator("#energy-table tbody tr").first).to_be_attached()
    expect(page.locator("#energy-table")).not_to_be_visible()
    assert page.evaluate("document.documentElement.scrollHeight") < 2500
    page.locator("#energy-details-summary").click()
    expect(page.locator("#energy-table tbody tr").first).to_be_visible()
    shown = page.locator("#energy-table tbody tr").count()
    assert 0 < shown <= 24
    expect(page.locator("#energy-table tbody tr").first).to_have_attribute("data-partial", "true")
    no_page_errors(page)


def test_the_energy_page_is_refused_to_a_technician(page: Page, console: Console):
    sign_in(page, "tech", start="/login?next=/energy")
    expect(page.locator("h1")).to_have_text("Access refused")
