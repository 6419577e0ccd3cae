"""The technicians' maintenance pages in a real browser: predicted failures (the circuits' supply warnings,
map, ranked list, reasons, signals), work orders (create, schedule, close), and the printable daily round.

The demo town of the console tests (tests/console/conftest.py) is scored here with plain SQL, as the
nightly scoring job would: a few lamps with a risk and reasons, the others low; the top lamp's circuit at
risk of a supply loss, another circuit low.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Console
from tests.console.test_console import nav_entry, no_page_errors, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timescale]

MODEL_VERSION = "20261125T020000Z"
PF = {
    "feature": "power_factor_trend_10d",
    "signal": "power_factor",
    "weight": 0.31,
    "text": "power factor fell from 0.96 to 0.88 over 10 days",
    "text_fr": "le facteur de puissance est passé de 0,96 à 0,88 en 10 jours",
}
TEMP = {
    "feature": "driver_temp_vs_neighbours",
    "signal": "driver_temp_c",
    "weight": 0.2,
    "text": "driver 14 °C hotter than its neighbours",
    "text_fr": "driver 14 °C plus chaud que ses voisins",
}
AGE = {
    "feature": "age_years",
    "signal": "age",
    "weight": 0.05,
    "text": "installed 14 years ago",
    "text_fr": "installée il y a 14 ans",
}
SAG = {
    "feature": "voltage_sag_7d",
    "signal": "voltage_v",
    "weight": 0.42,
    "text": "the circuit's voltage sagged by 9 V over 7 days",
    "text_fr": "la tension du circuit a baissé de 9 V en 7 jours",
}


@dataclass
class Scores:
    scored_at: datetime
    top: str  # 0.83: power factor, driver temperature, age
    second: str  # 0.41: driver temperature
    third: str  # 0.12
    low: list[str]  # 0.02 each
    street: dict[str, str]  # lamp id -> street
    circuit: str = ""  # the top lamp's: 0.62 of a supply loss, above the round's threshold (0.3)
    circuit_lamps: int = 0  # its lamps
    circuit_street: str = ""  # the street with most of its lamps
    on_circuit: tuple[str, ...] = ()  # the scored lamps on it
    circuit_of: dict[str, str] | None = None  # scored lamp id -> its circuit

    @property
    def lamps(self) -> list[str]:
        return [self.top, self.second, self.third, *self.low]


@pytest.fixture(scope="module")
def scores(console: Console) -> Scores:
    ids = console.town.lamp_ids
    scored_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    result = Scores(scored_at, ids[100], ids[101], ids[102], ids[103:110], {})
    with psycopg.connect(console.database_url) as conn:
        conn.execute(
            "INSERT INTO model_versions (version, horizon_days, features) VALUES (%s, 14, '[\"f\"]')", (MODEL_VERSION,)
        )
        rows = [(result.top, 0.83, [PF, TEMP, AGE]), (result.second, 0.41, [TEMP]), (result.third, 0.12, [AGE])]
        rows += [(lamp_id, 0.02, []) for lamp_id in result.low]
        for lamp_id, probability, reasons in rows:
            conn.execute(
                """INSERT INTO lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days,
                                                 model_version, reasons)
                   VALUES (%s, %s, %s, %s, 14, %s, %s)""",
                (
                    lamp_id,
                    scored_at,
                    (scored_at - timedelta(days=1)).date(),
                    probability,
                    MODEL_VERSION,
                    json.dumps(reasons),
                ),
            )
            # A score the night before, for the risk chart.
            conn.execute(
                """INSERT INTO lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days,
                                                 model_version, reasons)
                   VALUES (%s, %s, %s, %s, 14, %s, '[]')""",
                (
                    lamp_id,
                    scored_at - timedelta(days=1),
                    (scored_at - timedelta(days=2)).date(),
                    probability / 2,
                    MODEL_VERSION,
                ),
            )
        result.street = dict(
            conn.execute("SELECT lamp_id, street FROM lamps WHERE lamp_id = ANY(%s)", (result.lamps,)).fetchall()
        )
        circuits = dict(conn.execute("SELECT lamp_id, circuit FROM lamps WHERE state <> 'retired'").fetchall())
        result.circuit = circuits[result.top]
        other = next(c for c in sorted(set(circuits.values())) if c != result.circuit)
        result.circuit_of = {lamp_id: circuits[lamp_id] for lamp_id in result.lamps}
        result.on_circuit = tuple(lamp_id for lamp_id in result.lamps if circuits[lamp_id] == result.circuit)
        streets = Counter(
            street
            for (street,) in conn.execute(
                "SELECT street FROM lamps WHERE circuit = %s AND state <> 'retired'", (result.circuit,)
            )
        )
        result.circuit_lamps = sum(streets.values())
        result.circuit_street = min(streets, key=lambda street: (-streets[street], street))
        for circuit, probability, reasons in ((result.circuit, 0.62, [SAG]), (other, 0.1, [SAG])):
            conn.execute(
                """INSERT INTO circuit_predictions (circuit, scored_at, feature_day, probability, horizon_days,
                                                    model_version, lamps, reasons)
                   VALUES (%s, %s, %s, %s, 14, %s, %s, %s)""",
                (
                    circuit,
                    scored_at,
                    (scored_at - timedelta(days=1)).date(),
                    probability,
                    MODEL_VERSION,
                    result.circuit_lamps,
                    json.dumps(reasons),
                ),
            )
    return result


def ranking_rows(page: Page):
    return page.locator("#ranking tbody tr")


def open_orders(console: Console, lamp_id: str) -> list[tuple]:
    with psycopg.connect(console.database_url) as conn:
        return conn.execute(
            "SELECT id, status FROM work_orders WHERE lamp_id = %s AND status IN ('open', 'scheduled')", (lamp_id,)
        ).fetchall()


# --- from a prediction to a repair ------------------------------------------------------------------------
def test_a_technician_follows_a_predicted_failure_to_its_repair(
    page: Page, console: Console, scores: Scores, screenshot_dir
):
    sign_in(page, "tech")
    nav_entry(page, "Predicted failures").click()
    page.wait_for_url("**/predictions")
    expect(page.locator("h1")).to_have_text("Predicted failures")

    # Ranked by risk, each with its reasons in plain words.
    rows = ranking_rows(page)
    expect(rows).to_have_count(len(scores.lamps))
    expect(page.locator("#ranking-count")).to_have_text(f"{len(scores.lamps)} lamps scored")
    first = rows.first
    expect(first.locator("th a").first).to_have_text(scores.top)
    expect(first).to_contain_text("83\u202f%")
    expect(first.locator("li.reason")).to_have_text([PF["text"], TEMP["text"], AGE["text"]])
    expect(rows.nth(1).locator("th a").first).to_have_text(scores.second)
    expect(rows.nth(2).locator("th a").first).to_have_text(scores.third)

    # Above them, the supply warning of the circuit at risk; the circuit below the round's threshold is not listed.
    expect(page.locator("#circuits-title")).to_have_text("Supply warnings by circuit")
    expect(page.locator("#circuits-intro")).to_contain_text("30 % or more")
    warnings = page.locator("#circuit-warnings tbody tr")
    expect(warnings).to_have_count(1)
    warning = warnings.first
    expect(warning.locator("th .circuit-name")).to_have_text(scores.circuit)
    expect(warning.locator("td")).to_have_text(
        ["62\u202f%", str(scores.circuit_lamps), re.compile("^" + re.escape(scores.circuit_street)), SAG["text"]]
    )
    assert page.locator("#circuits").bounding_box()["y"] < page.locator("#ranking").bounding_box()["y"]
    # When it was scored, in the town's time zone (the browser runs in UTC).
    local = scores.scored_at.astimezone(ZoneInfo("Europe/Paris"))
    expect(page.locator("#predictions-scored")).to_contain_text(f"{local:%H:%M}")
    expect(page.locator("#predictions-scored")).to_contain_text("within 14 days")

    # On the map, coloured by risk.
    page.wait_for_selector("#map[data-drawn]")
    expect(page.locator("#map path.lamp-marker")).to_have_count(len(scores.lamps))
    high = page.locator('#map path.lamp-marker[data-risk="high"]')
    expect(high).to_have_count(1)
    assert high.get_attribute("data-lamp-id") == scores.top
    assert high.get_attribute("fill") == "#c62828"
    expect(page.locator('#map path.lamp-marker[data-risk="low"]')).to_have_count(len(scores.low))

    # The signals behind its reasons: its risk over time, then power factor and driver temperature.
    first.get_by_role("button", name="Signals").click()
    expect(page.locator("#signals-title")).to_be_focused()
    expect(page.locator("#signals-title")).to_contain_text("Signals of")
    charts = page.locator("#signal-charts figure.chart")
    expect(charts).to_have_count(3)
    assert [charts.nth(i).get_attribute("data-field") for i in range(3)] == ["risk", "power_factor", "driver_temp_c"]
    for field in ("risk", "power_factor", "driver_temp_c"):
        expect(page.locator(f"#signal-{field} .uplot canvas")).to_have_count(1)
    assert page.locator("#signal-risk").get_attribute("data-points") == "2"
    assert int(page.locator("#signal-power_factor").get_attribute("data-points")) >= 20  # a day of hourly averages
    expect(page.locator("#signals-status")).to_contain_text("Not a telemetry signal: age.")
    page.screenshot(path=str(screenshot_dir / "predictions.png"), full_page=True)

    # A work order from the prediction.
    first.get_by_role("button", name="Create work order").click()
    expect(page.locator("#predictions-status")).to_contain_text(" created for ")
    [(order_id, status)] = open_orders(console, scores.top)
    assert status == "open"
    expect(page.locator("#predictions-status")).to_contain_text(f"Work order {order_id} created for ")
    link = first.get_by_role("link", name=f"No. {order_id}, open")
    expect(link).to_be_focused()

    # Closed as repaired, with the failure the technician found.
    link.click()
    page.wait_for_url(f"**/work-orders?id={order_id}")
    panel = page.locator("#order-panel")
    expect(panel.locator("#order-title")).to_contain_text(f"Work order {order_id}")
    expect(panel.locator("li.reason").first).to_have_text(PF["text"])
    expect(page.locator(f'#orders-table tr[data-id="{order_id}"]')).to_contain_text("Open")
    panel.get_by_text("Repaired", exact=True).click()
    panel.get_by_label("The lamp was failing when I came").check()
    panel.get_by_label("What was found (optional)").fill("driver replaced")
    panel.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#order-status")).to_have_text("Closed: Repaired.")
    expect(panel).to_have_attribute("data-status", "done")
    expect(panel.locator("#close-form")).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "work-orders.png"), full_page=True)

    # It leaves the list of work orders not closed, and the lamp is back in service with the events recorded.
    expect(page.locator(f'#orders-table tr[data-id="{order_id}"]')).to_have_count(0)
    assert open_orders(console, scores.top) == []
    with psycopg.connect(console.database_url) as conn:
        events = conn.execute(
            "SELECT type, detail, source FROM events WHERE lamp_id = %s AND source = 'technician' ORDER BY ts",
            (scores.top,),
        ).fetchall()
        (state,) = conn.execute("SELECT state FROM lamps WHERE lamp_id = %s", (scores.top,)).fetchone()
    assert events == [
        ("lamp_failure", {"work_order": order_id}, "technician"),
        ("repaired", {"work_order": order_id, "outcome": "repaired", "notes": "driver replaced"}, "technician"),
    ]
    assert state == "in_service"
    page.get_by_label("Status", exact=True).select_option("done")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(f'#orders-table tr[data-id="{order_id}"]')).to_contain_text("Done")

    # Back on the predictions, the lamp may get a new work order.
    page.goto("/predictions")
    expect(ranking_rows(page).first.get_by_role("button", name="Create work order")).to_be_visible()
    no_page_errors(page)


def test_filters_narrow_the_list_and_the_map(page: Page, console: Console, scores: Scores):
    sign_in(page, "tech", start="/login?next=/predictions")
    expect(ranking_rows(page)).to_have_count(len(scores.lamps))
    page.get_by_label("Risk", exact=True).select_option(label="25 % or more")
    page.get_by_role("button", name="Apply").click()
    expect(ranking_rows(page)).to_have_count(2)
    expect(page.locator("#map path.lamp-marker")).to_have_count(2)
    assert "min_probability=0.25" in page.url
    page.get_by_label("Street", exact=True).fill(scores.street[scores.second])
    page.get_by_role("button", name="Apply").click()
    expect(ranking_rows(page)).to_have_count(1 if scores.street[scores.top] != scores.street[scores.second] else 2)
    expect(page.locator(f'#ranking tr[data-lamp-id="{scores.second}"]')).to_have_count(1)
    # The filters are in the address: a reload keeps them.
    page.reload()
    expect(page.get_by_label("Street", exact=True)).to_have_value(scores.street[scores.second])
    page.get_by_role("button", name="Clear").click()
    expect(ranking_rows(page)).to_have_count(len(scores.lamps))

    # A circuit's warning shows its lamps in the list, from the keyboard too.
    page.get_by_role("link", name=f"Show the lamps of circuit {scores.circuit} in the list").focus()
    page.keyboard.press("Enter")
    expect(ranking_rows(page)).to_have_count(len(scores.on_circuit))
    expect(page.locator("#ranking-count")).to_be_focused()
    expect(page.get_by_label("Circuit", exact=True)).to_have_value(scores.circuit)
    assert f"circuit={scores.circuit}" in page.url
    no_page_errors(page)


def test_without_a_circuit_at_the_threshold_the_warnings_say_so(page: Page, console: Console, scores: Scores):
    settings = console.app.state.settings
    console.app.state.settings = settings.model_copy(update={"circuit_round_min_probability": 0.9})
    try:
        sign_in(page, "tech", start="/login?next=/predictions")
        expect(page.locator("#circuits-empty")).to_have_text("No circuit is at 90 % risk of a supply loss or more.")
        expect(page.locator("#circuit-warnings")).to_be_hidden()
        expect(ranking_rows(page)).to_have_count(len(scores.lamps))
    finally:
        console.app.state.settings = settings
    no_page_errors(page)


def test_a_work_order_is_scheduled_and_the_round_printed_and_downloaded(
    page: Page, console: Console, scores: Scores, screenshot_dir
):
    sign_in(page, "tech", start="/login?next=/predictions")
    row = page.locator(f'#ranking tr[data-lamp-id="{scores.second}"]')
    row.get_by_role("button", name="Create work order").click()
    expect(page.locator("#predictions-status")).to_contain_text(" created for ")
    [(order_id, _)] = open_orders(console, scores.second)
    row.get_by_role("link", name=f"No. {order_id}, open").click()
    page.wait_for_url(f"**/work-orders?id={order_id}")
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    page.get_by_label("Day of the visit").fill(today.isoformat())
    page.get_by_label("Notes", exact=True).fill("bring a 54 W driver")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#order-status")).to_have_text("Saved.")
    expect(page.locator(f'#orders-table tr[data-id="{order_id}"]')).to_contain_text("Scheduled")

    page.locator("#main").get_by_role("link", name="Daily round").click()
    page.wait_for_url("**/round")
    expect(page.locator("#round-day")).to_have_value(today.isoformat())
    street = page.locator(f'.round-street[data-street="{scores.street[scores.second]}"]')
    expect(street.locator(f'tr[data-lamp-id="{scores.second}"]')).to_contain_text(TEMP["text"])
    expect(street.locator(f'tr[data-lamp-id="{scores.second}"]')).to_contain_text("41\u202f%")
    expect(page.locator("#round-summary")).to_contain_text("of which 1 scheduled for the day")
    expect(page.locator("#round-summary")).to_contain_text("Circuits to check at the cabinet: 1.")
    total = int(page.locator("#round-streets").get_attribute("data-total"))
    expect(page.locator(".round-street tbody tr")).to_have_count(total)
    # The circuit at risk: one stop, under the street with most of its lamps.
    stop = page.locator(f'.round-street[data-street="{scores.circuit_street}"] tr.circuit-stop')
    expect(stop).to_have_count(1)
    expect(stop.locator("th a")).to_have_text(f"Circuit {scores.circuit} ({scores.circuit_lamps} lamps)")
    expect(stop).to_contain_text(SAG["text"])
    expect(stop).to_contain_text("62\u202f%")

    # On paper: the list only.
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#round-print")).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "round-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # The CSV, as the link downloads it (with the session's cookie).
    href = page.locator("#round-csv").get_attribute("href")
    assert href == f"/api/v1/round.csv?day={today.isoformat()}&lang=en"
    response = page.request.get(href)
    assert response.status == 200
    lines = list(csv.reader(io.StringIO(response.text())))
    assert lines[0] == [
        "street",
        "lamp",
        "name",
        "address",
        "reason",
        "work_order",
        "probability",
        "lat",
        "lon",
        "circuit",
    ]
    assert len(lines) == total + 1
    [mine] = [line for line in lines if line[1] == scores.second]
    assert (mine[0], mine[4], mine[5], mine[6], mine[9]) == (
        scores.street[scores.second],
        TEMP["text"],
        str(order_id),
        "0.41",
        scores.circuit_of[scores.second],
    )
    [circuit_line] = [line for line in lines if line[1] == ""]
    assert (circuit_line[0], circuit_line[2], circuit_line[4], circuit_line[5], circuit_line[6], circuit_line[9]) == (
        scores.circuit_street,
        f"Circuit {scores.circuit} ({scores.circuit_lamps} lamps)",
        SAG["text"],
        "",
        "0.62",
        scores.circuit,
    )
    no_page_errors(page)


# --- language, keyboard, roles, tablets -------------------------------------------------------------------
def test_in_french_with_the_keyboard(page: Page, console: Console, scores: Scores):
    sign_in(page, "technicien", start="/login?next=/predictions")
    expect(page.locator("h1")).to_have_text("Pannes prévues")
    expect(page.locator("#circuits-title")).to_have_text("Alertes d'alimentation par circuit")
    expect(page.locator(f'#circuit-warnings tr[data-circuit="{scores.circuit}"] td.circuit-reason')).to_have_text(
        SAG["text_fr"]
    )
    row = page.locator(f'#ranking tr[data-lamp-id="{scores.third}"]')
    expect(row.locator("li.reason")).to_have_text([AGE["text_fr"]])
    expect(row).to_contain_text("12\u202f%")
    button = row.get_by_role("button", name="Créer un bon d'intervention")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#predictions-status")).to_contain_text(" créé pour ")
    [(order_id, _)] = open_orders(console, scores.third)
    expect(row.get_by_role("link", name=f"N° {order_id}, ouvert")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/work-orders?id={order_id}")
    expect(page.locator("#order-title")).to_have_text(re.compile(rf"^Bon d'intervention {order_id} : "))
    # The outcome is a radio group: arrow keys choose, the box and the button follow with Tab.
    page.locator("#outcome-repaired").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#outcome-replaced")).to_be_checked()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#outcome-false_alarm")).to_be_checked()
    expect(page.get_by_label("La lampe était en panne à mon arrivée")).to_be_disabled()
    page.get_by_role("button", name="Clôturer", exact=True).press("Enter")
    expect(page.locator("#order-status")).to_have_text("Clôturé : Fausse alerte.")
    with psycopg.connect(console.database_url) as conn:
        assert conn.execute("SELECT outcome FROM work_orders WHERE id = %s", (order_id,)).fetchone() == ("false_alarm",)
    no_page_errors(page)


def test_the_energy_manager_is_refused_the_maintenance_pages(page: Page, console: Console):
    sign_in(page, "energy")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Predicted failures", include_hidden=True)).to_have_count(0)
    for path in ("/predictions", "/work-orders", "/round"):
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.locator("h1")).to_have_text("Access refused")


@pytest.mark.parametrize("viewport", [{"width": 800, "height": 1280}, {"width": 1180, "height": 820}])
def test_tablets_get_no_sideways_scrolling_and_large_touch_targets(
    page: Page, console: Console, scores: Scores, viewport
):
    page.set_viewport_size(viewport)
    sign_in(page, "tech")
    for path in ("/predictions", "/work-orders", "/round"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)
        for target in page.locator("main .btn:not(.btn-small), main select, main input:not([type=checkbox])").all():
            if target.is_visible():
                box = target.bounding_box()
                assert box["height"] >= 40, (path, target.inner_text(), box)
    no_page_errors(page)
