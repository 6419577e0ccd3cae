"""Each closed vocabulary equals the CHECK constraint the migrations put on its columns."""

from __future__ import annotations

import re

import psycopg
import pytest

from core import db, vocabulary
from core.contract import EventType

# Each column whose values the schema restricts to a list, and the vocabulary that lists them.
VOCABULARY_OF_COLUMN: dict[tuple[str, str], tuple[str, ...]] = {
    ("lamps", "state"): vocabulary.LAMP_STATES,
    ("lamps", "technology"): vocabulary.TECHNOLOGIES,
    ("events", "source"): vocabulary.EVENT_SOURCES,
    ("work_orders", "source"): vocabulary.WORK_ORDER_SOURCES,
    ("work_orders", "status"): vocabulary.WORK_ORDER_STATUSES,
    ("work_orders", "outcome"): vocabulary.WORK_ORDER_OUTCOMES,
    ("users", "role"): vocabulary.ROLES,
    ("users", "locale"): vocabulary.LOCALES,
    ("plan_pushes", "ack_status"): vocabulary.PLAN_ACK_STATUSES,
    ("plan_acks", "status"): vocabulary.PLAN_ACK_STATUSES,
    ("unknown_lamps", "status"): vocabulary.COMMISSIONING_STATUSES,
    ("dimming_profile_versions", "twilight"): vocabulary.TWILIGHTS,
    ("dimming_assignments", "target_kind"): vocabulary.DIMMING_TARGET_KINDS,
    ("dimming_calendar", "target_kind"): vocabulary.DIMMING_TARGET_KINDS,
    ("dimming_overrides", "target_kind"): vocabulary.DIMMING_TARGET_KINDS,
    ("dimming_calendar", "kind"): vocabulary.CALENDAR_EXCEPTION_KINDS,
}
# Lists the schema checks that no Python code repeats (the SQL is their only definition).
WITHOUT_PYTHON_COPY = {("model_versions", "status")}

_SINGLE_COLUMN_CHECKS = """
    SELECT rel.relname, att.attname, pg_get_constraintdef(con.oid)
    FROM pg_constraint AS con
    JOIN pg_class AS rel ON rel.oid = con.conrelid
    JOIN pg_namespace AS nsp ON nsp.oid = rel.relnamespace
    JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
    WHERE con.contype = 'c' AND cardinality(con.conkey) = 1 AND nsp.nspname = current_schema()
    ORDER BY 1, 2
"""
# PostgreSQL keeps `col IN ('a', 'b')` as `(col = ANY (ARRAY['a'::text, 'b'::text]))`.
_ANY_ARRAY = re.compile(r"= ANY \(ARRAY\[(.*)\]\)")
_TEXT_LITERAL = re.compile(r"'((?:[^']|'')*)'::text")

on_both_servers = pytest.mark.parametrize("storage_backend", ["timescale", "postgres"])


def closed_lists(conn: psycopg.Connection) -> dict[tuple[str, str], set[str]]:
    """(table, column) -> the values its CHECK constraint allows, for every list-valued check."""
    lists: dict[tuple[str, str], set[str]] = {}
    for table, column, definition in conn.execute(_SINGLE_COLUMN_CHECKS).fetchall():
        match = _ANY_ARRAY.search(definition)
        if match is None:
            continue  # a range or a pattern, not a list
        assert (table, column) not in lists, f"{table}.{column} has two list constraints"
        lists[(table, column)] = {value.replace("''", "'") for value in _TEXT_LITERAL.findall(match.group(1))}
    return lists


@pytest.fixture
def schema_lists(database_url: str) -> dict[tuple[str, str], set[str]]:
    with db.connect(database_url) as conn:
        return closed_lists(conn)


@on_both_servers
def test_each_vocabulary_equals_its_check_constraint(schema_lists: dict[tuple[str, str], set[str]]) -> None:
    found = {column: schema_lists.get(column) for column in VOCABULARY_OF_COLUMN}
    expected = {column: set(values) for column, values in VOCABULARY_OF_COLUMN.items()}
    assert found == expected


@on_both_servers
def test_every_list_the_schema_checks_has_a_vocabulary(schema_lists: dict[tuple[str, str], set[str]]) -> None:
    assert set(schema_lists) == set(VOCABULARY_OF_COLUMN) | WITHOUT_PYTHON_COPY


@on_both_servers
def test_column_defaults_are_the_vocabulary_defaults(database_url: str) -> None:
    with db.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT column_name, column_default FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'lamps' AND column_name IN ('state', 'technology')"
        ).fetchall()
    assert dict(rows) == {
        "state": f"'{vocabulary.DEFAULT_LAMP_STATE}'::text",
        "technology": f"'{vocabulary.DEFAULT_TECHNOLOGY}'::text",
    }


def test_failure_event_types_are_event_types_of_the_contract() -> None:
    assert set(vocabulary.FAILURE_EVENT_TYPES) <= {event_type.value for event_type in EventType}
