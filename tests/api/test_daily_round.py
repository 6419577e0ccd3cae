"""The daily round's pure part: which work orders make the round, why each lamp is visited, streets, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from api import daily_round


def candidate(work_order_id: int, *, due: bool = False, source: str = "prediction", reasons=(), notes: str = "",
              fault_event_type: str | None = None) -> dict:
    return {"id": work_order_id, "due": due, "source": source, "reasons": list(reasons), "notes": notes,
            "fault_event_type": fault_event_type}


def test_scheduled_visits_come_first_and_the_others_fill_the_day():
    rows = [candidate(1, due=True), candidate(2, due=True), candidate(3), candidate(4), candidate(5)]
    assert [row["id"] for row in daily_round.select_visits(rows, 4)] == [1, 2, 3, 4]


def test_scheduled_visits_are_kept_beyond_the_crews_capacity():
    rows = [candidate(1, due=True), candidate(2, due=True), candidate(3, due=True), candidate(4)]
    assert [row["id"] for row in daily_round.select_visits(rows, 2)] == [1, 2, 3]


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


def test_streets_in_the_order_of_their_most_urgent_visit():
    visits = [{"street": "B", "n": 1}, {"street": "A", "n": 2}, {"street": "B", "n": 3}, {"street": "", "n": 4}]
    assert [(street, [v["n"] for v in group]) for street, group in daily_round.group_by_street(visits)] == [
        ("B", [1, 3]), ("A", [2]), ("", [4])
    ]


def test_the_csv_quotes_what_needs_it_and_leaves_unknowns_empty():
    visit = {"lamp_id": "L1", "name": 'Lamp "one"', "address": "1, rue A", "reason": "driver hot", "work_order_id": 7,
             "probability": 0.8349, "lat": 48.1234567, "lon": None}
    text = daily_round.csv_text([("Rue A, haut", [visit])])
    assert text == ("street,lamp,name,address,reason,work_order,probability,lat,lon\r\n"
                    '"Rue A, haut",L1,"Lamp ""one""","1, rue A",driver hot,7,0.83,48.123457,\r\n')
    assert list(csv.reader(io.StringIO(text)))[1] == [
        "Rue A, haut", "L1", 'Lamp "one"', "1, rue A", "driver hot", "7", "0.83", "48.123457", ""
    ]
