"""The daily round, from the candidate work orders and circuits to the visits grouped by street and the CSV.
Pure.

The visits scheduled for the day are always in the round (someone planned them); the other
work orders not closed, and the circuits at risk of a supply loss, fill the remaining places,
up to what the crews can visit in a day, most urgent first: faults (the lamp is out), then by
probability. A circuit is one stop, checked at its cabinet, however many lamps it feeds.
Streets come in the order of their most urgent visit, so that a crew short of time still does
the urgent streets first.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from api.console.i18n import Translator

CSV_COLUMNS = ("street", "lamp", "name", "address", "reason", "work_order", "probability", "lat", "lon", "circuit")
LAMP = "lamp"
CIRCUIT = "circuit"


def with_circuit_stops(
    candidates: Sequence[Mapping[str, Any]], circuits: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The work-order `candidates` (most urgent first, those due that day first) with the `circuits` (highest
    probability first) among those not due: after the faults, by probability; a circuit goes before the
    lamps of the same probability, as it stands for several. Each row gets its `kind`."""
    lamps = [{**row, "kind": LAMP} for row in candidates]
    stops = [{**row, "kind": CIRCUIT, "due": False} for row in circuits]
    due = [row for row in lamps if row["due"]]
    others = sorted([*stops, *(row for row in lamps if not row["due"])], key=_urgency)  # stable: keeps ties' order
    return due + others


def _urgency(row: Mapping[str, Any]) -> tuple[bool, float]:
    """Faults first, then the highest probability; a lamp never scored last."""
    is_fault = row["kind"] == LAMP and row["source"] == "fault"
    probability = row["probability"] if row["kind"] == CIRCUIT else row["latest_probability"]
    return (not is_fault, math.inf if probability is None else -probability)


def select_visits(candidates: Sequence[Mapping[str, Any]], capacity: int) -> list[Mapping[str, Any]]:
    """`candidates` most urgent first, those due that day (`due`) before the others."""
    due = [row for row in candidates if row["due"]]
    others = [row for row in candidates if not row["due"]]
    return due + others[: max(capacity - len(due), 0)]


def _in_language(reason: Mapping[str, Any], lang: str) -> str:
    return (reason.get("text_fr") if lang == "fr" else None) or reason.get("text", "")


def reason_text(row: Mapping[str, Any], lang: str) -> str:
    """Why the lamp is visited, in `lang`: the strongest reason of its prediction, the fault, or the notes."""
    if row["source"] == "prediction" and row["reasons"]:
        return _in_language(row["reasons"][0], lang)
    if row["source"] == "fault" and row["fault_event_type"]:
        key = f"event.{row['fault_event_type']}"
        label = Translator(lang)(key)
        return row["fault_event_type"] if label == key else label
    return row["notes"].strip().splitlines()[0] if row["notes"].strip() else ""


def circuit_reason_text(row: Mapping[str, Any], lang: str) -> str:
    """Why the circuit is visited, in `lang`: the strongest reason of its score, else its risk of a supply loss."""
    if row["reasons"]:
        return _in_language(row["reasons"][0], lang)
    return Translator(lang)("round.circuit_reason")


def circuit_name(circuit: str, lamps: int, lang: str) -> str:
    """'Circuit C-03 (27 lamps)', in `lang`."""
    key = "round.circuit_stop_one" if lamps == 1 else "round.circuit_stop"
    return Translator(lang)(key, circuit=circuit, count=lamps)


def visit(position: int, row: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The round's stop at `position`, from a row of `with_circuit_stops`."""
    if row["kind"] == CIRCUIT:
        return _circuit_visit(position, row, lang)
    return {
        "position": position,
        "kind": LAMP,
        "work_order_id": row["id"],
        "status": row["status"],
        "scheduled_for": row["scheduled_for"],
        "source": row["source"],
        "lamp_id": row["lamp_id"],
        "circuit": row["circuit"],
        "lamps": None,
        "streets": [],
        "name": row["lamp_name"],
        "street": row["street"],
        "address": row["address"],
        "lat": row["lat"],
        "lon": row["lon"],
        "probability": row["latest_probability"],
        "reason": reason_text(row, lang),
        "notes": row["notes"],
    }


def _circuit_visit(position: int, row: Mapping[str, Any], lang: str) -> dict[str, Any]:
    streets = list(row["streets"])
    return {
        "position": position,
        "kind": CIRCUIT,
        "work_order_id": None,
        "status": None,
        "scheduled_for": None,
        "source": None,
        "lamp_id": None,
        "circuit": row["circuit"],
        "lamps": row["lamps"],
        "streets": streets,
        "name": circuit_name(row["circuit"], row["lamps"], lang),
        "street": streets[0] if streets else "",  # listed under its main street
        "address": "",
        "lat": row["lat"],
        "lon": row["lon"],
        "probability": row["probability"],
        "reason": circuit_reason_text(row, lang),
        "notes": "",
    }


def group_by_street(visits: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """(street, its visits), streets in the order they first appear; visits keep their order."""
    streets: dict[str, list[Mapping[str, Any]]] = {}
    for stop in visits:
        streets.setdefault(stop["street"], []).append(stop)
    return list(streets.items())


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else repr(round(float(value), digits))


def csv_text(streets: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> str:
    """One line per visit, street by street, with a header line of CSV_COLUMNS; what is unknown is left
    empty. A circuit's line has no lamp and no work order; a lamp's names the lamp's circuit."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for street, visits in streets:
        for stop in visits:
            writer.writerow(
                (
                    street,
                    stop["lamp_id"],
                    stop["name"],
                    stop["address"],
                    stop["reason"],
                    stop["work_order_id"],
                    _number(stop["probability"], 2),
                    _number(stop["lat"], 6),
                    _number(stop["lon"], 6),
                    stop["circuit"],
                )
            )
    return out.getvalue()
