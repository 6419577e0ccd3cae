"""Every list's statement carries its page's bounds as numbers, not as parameters (see core.paging).

Each statement is prepared on first use here, so that `pg_prepared_statements` shows the
text the database planned: a parameter would appear there as $n.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from accounts import list_audit_entries
from api.lamps.queries import LampFilter, lamp_page_json, open_events
from api.maintenance.commissioning.queries import DeadLetterFilter, list_dead_letters, list_unknown_lamps
from api.maintenance.events.queries import EventFilter, list_events
from api.maintenance.work_orders.queries import WorkOrderFilter, list_work_orders
from api.predictions.queries import (
    CircuitFilter,
    PredictionFilter,
    history_for_lamp,
    list_latest,
    list_latest_circuits,
)
from dimming import list_overrides, push_status

LISTS: dict[str, tuple[Callable[[Any], object], str]] = {
    "lamps": (lambda c: lamp_page_json(c, LampFilter(states=["faulty"]), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "a lamp's open events": (lambda c: open_events(c, "L1", limit=7), "LIMIT 7 OFFSET 0"),
    "events": (lambda c: list_events(c, EventFilter(lamp_id="L1"), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "work orders": (lambda c: list_work_orders(c, WorkOrderFilter(), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "dead letters": (lambda c: list_dead_letters(c, DeadLetterFilter(), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "unknown lamps": (lambda c: list_unknown_lamps(c, "pending", limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "predictions": (lambda c: list_latest(c, PredictionFilter(), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "circuit predictions": (
        lambda c: list_latest_circuits(c, CircuitFilter(), limit=7, offset=3),
        "LIMIT 7 OFFSET 3",
    ),
    "a lamp's predictions": (lambda c: history_for_lamp(c, "L1", since=None, limit=7), "LIMIT 7 OFFSET 0"),
    "audit": (lambda c: list_audit_entries(c, actor="someone", limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "push status": (lambda c: push_status(c, datetime.now(UTC), limit=7, offset=3), "LIMIT 7 OFFSET 3"),
    "overrides": (lambda c: list_overrides(c, limit=7), "LIMIT 7 OFFSET 0"),
}


@pytest.fixture
def preparing(timescale_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(timescale_url, row_factory=dict_row) as conn:
        conn.prepare_threshold = 0  # every statement is prepared at once
        yield conn


def prepared_statements(conn: psycopg.Connection[dict[str, Any]]) -> list[str]:
    return [row["statement"] for row in conn.execute("SELECT statement FROM pg_prepared_statements", prepare=False)]


@pytest.mark.parametrize("name", sorted(LISTS))
def test_the_page_bounds_are_in_the_statement(preparing, name):
    call, bounds = LISTS[name]
    call(preparing)
    statements = prepared_statements(preparing)
    paged = [s for s in statements if re.search(r"\bLIMIT\b", s) and "pg_prepared_statements" not in s]
    assert any(bounds in s for s in paged), (name, paged)
    assert not any(re.search(r"\b(LIMIT|OFFSET) \$\d+", s) for s in paged), (name, paged)


NOT_WHOLE_NUMBERS: dict[str, Callable[[Any], object]] = {
    "lamps": lambda c: lamp_page_json(c, LampFilter(), limit=True, offset=0),
    "events": lambda c: list_events(c, EventFilter(), limit=10, offset=-1),
    "predictions": lambda c: list_latest(c, PredictionFilter(), limit="10", offset=0),  # type: ignore[arg-type]
    "audit": lambda c: list_audit_entries(c, limit=10, offset=1.5),  # type: ignore[arg-type]
    "push status": lambda c: push_status(c, datetime.now(UTC), limit=-1, offset=0),
}


@pytest.mark.parametrize("name", sorted(NOT_WHOLE_NUMBERS))
def test_a_bound_that_is_not_a_whole_number_never_reaches_the_database(preparing, name):
    with pytest.raises(ValueError, match="a page's (limit|offset) is a whole number from 0"):
        NOT_WHOLE_NUMBERS[name](preparing)
    assert not [s for s in prepared_statements(preparing) if re.search(r"\bLIMIT\b", s)]  # no page asked for
