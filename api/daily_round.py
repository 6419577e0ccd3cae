"""The daily round, from the candidate work orders to the visits grouped by street and the CSV. Pure.

The visits scheduled for the day are always in the round (someone planned them); the other
work orders not closed fill the remaining places, up to what the crews can visit in a day,
most urgent first. Streets come in the order of their most urgent visit, so that a crew
short of time still does the urgent streets first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from api.console.i18n import Translator

CSV_COLUMNS = ("street", "lamp", "name", "address", "reason", "work_order", "probability", "lat", "lon")


def select_visits(candidates: Sequence[Mapping[str, Any]], capacity: int) -> list[Mapping[str, Any]]:
    """`candidates` most urgent first, those due that day (`due`) before the others."""
    due = [row for row in candidates if row["due"]]
    others = [row for row in candidates if not row["due"]]
    return due + others[: max(capacity - len(due), 0)]


def reason_text(row: Mapping[str, Any], lang: str) -> str:
    """Why the lamp is visited, in `lang`: the strongest reason of its prediction, the fault, or the notes."""
    if row["source"] == "prediction" and row["reasons"]:
        strongest = row["reasons"][0]
        return (strongest.get("text_fr") if lang == "fr" else None) or strongest.get("text", "")
    if row["source"] == "fault" and row["fault_event_type"]:
        key = f"event.{row['fault_event_type']}"
        label = Translator(lang)(key)
        return row["fault_event_type"] if label == key else label
    return row["notes"].strip().splitlines()[0] if row["notes"].strip() else ""


def group_by_street(visits: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """(street, its visits), streets in the order they first appear; visits keep their order."""
    streets: dict[str, list[Mapping[str, Any]]] = {}
    for visit in visits:
        streets.setdefault(visit["street"], []).append(visit)
    return list(streets.items())


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else repr(round(float(value), digits))


def csv_text(streets: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> str:
    """One line per visit, street by street, with a header line of CSV_COLUMNS."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for street, visits in streets:
        for visit in visits:
            writer.writerow(
                (
                    street,
                    visit["lamp_id"],
                    visit["name"],
                    visit["address"],
                    visit["reason"],
                    visit["work_order_id"],
                    _number(visit["probability"], 2),
                    _number(visit["lat"], 6),
                    _number(visit["lon"], 6),
                )
            )
    return out.getvalue()
