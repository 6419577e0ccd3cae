"""The ingest lag (`streetlight_ingest_lag_seconds`): read from the last day's chunks first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.rows import dict_row

from api.fleet.queries import NEWEST_READING_LAG_RECENT, ingest_lag_s
from tests.api.fleet_factories import add_reading, make_lamp


@pytest.fixture
def dict_db(db):
    db.row_factory = dict_row
    return db


def test_the_lag_comes_from_the_newest_reading_of_the_last_day(dict_db):
    make_lamp(dict_db, "A")
    now = datetime.now(UTC)
    add_reading(dict_db, "A", now - timedelta(days=5), power_w=1.0, received_at=now)  # late, but not the newest
    add_reading(dict_db, "A", now - timedelta(minutes=3), power_w=1.0, received_at=now - timedelta(minutes=2))
    assert 110 <= ingest_lag_s(dict_db) < 180


def test_after_a_silent_day_the_lag_is_still_measured(dict_db):
    make_lamp(dict_db, "A")
    now = datetime.now(UTC)
    add_reading(dict_db, "A", now - timedelta(days=3), power_w=1.0, received_at=now - timedelta(days=3))
    add_reading(dict_db, "A", now - timedelta(days=9), power_w=1.0, received_at=now - timedelta(days=1))
    lag_s = ingest_lag_s(dict_db)
    assert 3 * 86400 <= lag_s < 3 * 86400 + 60


def test_without_readings_there_is_no_lag(dict_db):
    assert ingest_lag_s(dict_db) is None


def test_the_scrapes_statement_is_planned_over_the_last_days_chunks_alone(dict_db):
    hypertable = dict_db.execute(
        "SELECT count(*) AS n FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
    ).fetchone()
    if not hypertable["n"]:
        pytest.skip("readings is a plain table here")
    make_lamp(dict_db, "A")
    now = datetime.now(UTC)
    for days_ago in (0, 3, 6, 9, 12):
        add_reading(dict_db, "A", now - timedelta(days=days_ago, minutes=5), power_w=1.0)
    chunks = dict_db.execute(
        "SELECT count(*) AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
    ).fetchone()["n"]
    assert chunks >= 5  # one chunk per reading at least: the plan has chunks to leave out
    plan = "\n".join(row["QUERY PLAN"] for row in dict_db.execute("EXPLAIN " + NEWEST_READING_LAG_RECENT))
    planned = set(re.findall(r"_hyper_\d+_\d+_chunk", plan))
    assert 1 <= len(planned) <= 2, plan  # the chunk of the last day (two if it straddles a chunk boundary)
