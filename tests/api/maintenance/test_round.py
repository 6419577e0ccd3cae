"""The daily round's pure part: which work orders and circuits make the round, why each lamp or circuit is
visited, streets, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from api.maintenance.round import plan as daily_round


def candidate(
    work_order_id: int,
    *,
    due: bool = False,
    source: str = "prediction",
    reasons=(),
    notes: str = "",
    fault_event_type: str | None = None,
    probability: float | None = None,
) -> dict:
    return {
        "id": work_order_id,
        "due": due,
        "source": source,
        "reasons": list(reasons),
        "notes": notes,
        "fault_event_type": fault_event_type,
        "latest_probability": probability,
    }


def circuit(name: str, probability: float, *, reasons=(), lamps: int = 12, streets=("Rue A",)) -> dict:
    return {
        "circuit": name,
        "probability": probability,
        "reasons": list(reasons),
        "lamps": lamps,
        "streets": list(streets),
        "lat": 48.85,
        "lon": 2.35,
    }


def stops(rows) -> list:
    """Work orders by number, circuits by name."""
    return [row["id"] if row["kind"] == "lamp" else row["circuit"] for row in rows]


def test_scheduled_visits_come_first_and_the_others_fill_the_day():
    rows = [candidate(1, due=True), candidate(2, due=True), candidate(3), candidate(4), candidate(5)]
    assert [row["id"] for row in daily_round.select_visits(rows, 4)] == [1, 2, 3, 4]


def test_scheduled_visits_are_kept_beyond_the_crews_capacity():
    rows = [candidate(1, due=True), candidate(2, due=True), candidate(3, due=True), candidate(4)]
    assert [row["id"] for row in daily_round.select_visits(rows, 2)] == [1, 2, 3]


def test_circuits_take_their_place_among_the_others_by_probability_after_the_faults():
    rows = [
        candidate(1, due=True, probability=0.1),
        candidate(2, source="fault", probability=0.01),
        candidate(3, probability=0.9),
        candidate(4, probability=0.5),
        candidate(5, source="manual"),
    ]
    circuits = [circuit("C-1", 0.6), circuit("C-2", 0.5), circuit("C-3", 0.05)]
    ranked = daily_round.with_circuit_stops(rows, circuits)
    # A circuit goes before a lamp of the same probability; a lamp never scored comes last.
    assert stops(ranked) == [1, 2, 3, "C-1", "C-2", 4, "C-3", 5]
    assert [row["due"] for row in ranked] == [True] + [False] * 7


def test_each_circuit_is_one_visit_of_the_crews_day():
    rows = [candidate(1, due=True), candidate(2, probability=0.4), candidate(3, probability=0.2)]
    circuits = [circuit("C-1", 0.8), circuit("C-2", 0.3)]
    assert stops(daily_round.select_visits(daily_round.with_circuit_stops(rows, circuits), 4)) == [1, "C-1", 2, "C-2"]


def test_scheduled_visits_leave_no_room_for_circuits_beyond_the_crews_capacity():
    rows = [candidate(1, due=True), candidate(2, due=True)]
    assert stops(daily_round.select_visits(daily_round.with_circuit_stops(rows, [circuit("C-1", 0.99)]), 2)) == [1, 2]


def test_without_circuits_the_work_orders_keep_their_order():
    rows = [
        candidate(1, due=True),
        candidate(2, source="fault"),
        candidate(3, probability=0.7),
        candidate(4, probability=0.7),
        candidate(5, source="manual"),
    ]
    assert stops(daily_round.with_circuit_stops(rows, [])) == [1, 2, 3, 4, 5]


REASON = {"text": "power factor fell", "text_fr": "le facteur de puissance a baissé", "signal": "power_factor"}


@pytest.mark.parametrize(
    ("row", "lang", "expected"),
    [
        (candidate(1, reasons=[REASON]), "en", "power factor fell"),
        (candidate(1, reasons=[REASON]), "fr", "le facteur de puissance a baissé"),
        (candidate(1, reasons=[REASON | {"text_fr": ""}]), "fr", "power factor fell"),  # no French: English
        (candidate(1, notes="check it"), "en", "check it"),  # a prediction without reasons: the notes
        (candidate(1, source="fault", fault_event_type="lamp_failure"), "en", "Lamp failure"),
        (candidate(1, source="fault", fault_event_type="lamp_failure"), "fr", "Panne de lampe"),
        (candidate(1, source="fault", fault_event_type="flicker"), "en", "flicker"),  # a type without a label
        (candidate(1, source="manual", notes="  loose cover\nseen by a resident"), "en", "loose cover"),
        (candidate(1, source="manual"), "en", ""),
    ],
)
def test_why_a_lamp_is_visited(row, lang, expected):
    assert daily_round.reason_text(row, lang) == expected


SAG = {"text": "voltage sagged by 9 V", "text_fr": "la tension a baissé de 9 V", "signal": "voltage_v"}


@pytest.mark.parametrize(
    ("row", "lang", "expected"),
    [
        (circuit("C-1", 0.5, reasons=[SAG, REASON]), "en", "voltage sagged by 9 V"),
        (circuit("C-1", 0.5, reasons=[SAG, REASON]), "fr", "la tension a baissé de 9 V"),
        (circuit("C-1", 0.5, reasons=[SAG | {"text_fr": ""}]), "fr", "voltage sagged by 9 V"),
        (circuit("C-1", 0.5), "en", "risk of a supply loss on the circuit"),  # no reason given
        (circuit("C-1", 0.5), "fr", "risque de perte d'alimentation sur le circuit"),
    ],
)
def test_why_a_circuit_is_visited(row, lang, expected):
    assert daily_round.circuit_reason_text(row, lang) == expected


@pytest.mark.parametrize(
    ("lamps", "lang", "expected"),
    [
        (27, "en", "Circuit C-03 (27 lamps)"),
        (27, "fr", "Circuit C-03 (27 lampes)"),
        (1, "en", "Circuit C-03 (1 lamp)"),
        (1, "fr", "Circuit C-03 (1 lampe)"),
    ],
)
def test_a_circuit_stop_is_named_with_its_lamps(lamps, lang, expected):
    assert daily_round.circuit_name("C-03", lamps, lang) == expected


def test_a_circuit_stop_is_listed_under_its_main_street_without_a_work_order():
    [row] = daily_round.with_circuit_stops(
        [], [circuit("C-03", 0.64, reasons=[SAG], lamps=27, streets=["Rue Neuve", "Rue Haute"])]
    )
    assert daily_round.visit(3, row, "en") == {
        "position": 3,
        "kind": "circuit",
        "work_order_id": None,
        "status": None,
        "scheduled_for": None,
        "source": None,
        "lamp_id": None,
        "circuit": "C-03",
        "lamps": 27,
        "streets": ["Rue Neuve", "Rue Haute"],
        "name": "Circuit C-03 (27 lamps)",
        "street": "Rue Neuve",
        "address": "",
        "lat": 48.85,
        "lon": 2.35,
        "probability": 0.64,
        "reason": "voltage sagged by 9 V",
        "notes": "",
    }
    [lampless] = daily_round.with_circuit_stops([], [circuit("C-09", 0.5, lamps=0, streets=[])])
    assert daily_round.visit(1, lampless, "en")["street"] == ""


def test_a_lamp_stop_names_its_circuit():
    row = candidate(7, reasons=[REASON], probability=0.8) | {
        "status": "open",
        "scheduled_for": None,
        "lamp_id": "L1",
        "circuit": "C-01",
        "lamp_name": "Lamp 1",
        "street": "Rue A",
        "address": "1 rue A",
        "lat": None,
        "lon": None,
    }
    [ranked] = daily_round.with_circuit_stops([row], [])
    assert daily_round.visit(1, ranked, "fr") == {
        "position": 1,
        "kind": "lamp",
        "work_order_id": 7,
        "status": "open",
        "scheduled_for": None,
        "source": "prediction",
        "lamp_id": "L1",
        "circuit": "C-01",
        "lamps": None,
        "streets": [],
        "name": "Lamp 1",
        "street": "Rue A",
        "address": "1 rue A",
        "lat": None,
        "lon": None,
        "probability": 0.8,
        "reason": "le facteur de puissance a baissé",
        "notes": "",
    }


def test_streets_in_the_order_of_their_most_urgent_visit():
    visits = [{"street": "B", "n": 1}, {"street": "A", "n": 2}, {"street": "B", "n": 3}, {"street": "", "n": 4}]
    assert [(street, [v["n"] for v in group]) for street, group in daily_round.group_by_street(visits)] == [
        ("B", [1, 3]),
        ("A", [2]),
        ("", [4]),
    ]


def test_the_csv_quotes_what_needs_it_and_leaves_unknowns_empty():
    visit = {
        "lamp_id": "L1",
        "name": 'Lamp "one"',
        "address": "1, rue A",
        "reason": "driver hot",
        "work_order_id": 7,
        "probability": 0.8349,
        "lat": 48.1234567,
        "lon": None,
        "circuit": "C-01",
    }
    text = daily_round.csv_text([("Rue A, haut", [visit])])
    assert text == (
        "street,lamp,name,address,reason,work_order,probability,lat,lon,circuit\r\n"
        '"Rue A, haut",L1,"Lamp ""one""","1, rue A",driver hot,7,0.83,48.123457,,C-01\r\n'
    )
    assert list(csv.reader(io.StringIO(text)))[1] == [
        "Rue A, haut",
        "L1",
        'Lamp "one"',
        "1, rue A",
        "driver hot",
        "7",
        "0.83",
        "48.123457",
        "",
        "C-01",
    ]


def test_a_circuit_line_of_the_csv_has_no_lamp_and_no_work_order():
    [row] = daily_round.with_circuit_stops(
        [], [circuit("C-03", 0.64, reasons=[SAG], lamps=27, streets=["Rue Neuve", "Rue Haute"])]
    )
    stop = daily_round.visit(1, row, "fr")
    assert daily_round.csv_text([("Rue Neuve", [stop])]).splitlines()[1] == (
        "Rue Neuve,,Circuit C-03 (27 lampes),,la tension a baissé de 9 V,,0.64,48.85,2.35,C-03"
    )
