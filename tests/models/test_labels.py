"""Prediction labels from failure, supply-loss, day-burning and repair events, retired lamps and false alarms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from models.labels import build_labels
from tests.models.conftest import insert_event, insert_lamp, local

ZONE = "Europe/Paris"
FIRST = date(2026, 2, 1)


def day(n: int) -> date:
    """Day n of the test month (day 1 is 1 February 2026)."""
    return FIRST + timedelta(days=n - 1)


def index(lamp_ids: str, days: range) -> pd.MultiIndex:
    days_index = pd.to_datetime([day(n) for n in days])
    return pd.MultiIndex.from_product([list(lamp_ids), days_index], names=["lamp_id", "day"])


def close_work_order(conn: psycopg.Connection, lamp_id: str, at: datetime, outcome: str) -> None:
    conn.execute(
        """INSERT INTO work_orders (lamp_id, source, status, outcome, created_by, created_at, closed_at, closed_by)
           VALUES (%s, 'manual', 'done', %s, 'tech', %s, %s, 'tech')""",
        (lamp_id, outcome, at - timedelta(days=1), at),
    )


def days_where(labels: pd.DataFrame, lamp_id: str, column: str) -> list[int]:
    lamp = labels.xs(lamp_id, level="lamp_id")
    return [(d.date() - FIRST).days + 1 for d in lamp.index[lamp[column].astype(bool)]]


@pytest.fixture
def fleet(conn: psycopg.Connection) -> psycopg.Connection:
    for lamp_id in "ABCDE":
        insert_lamp(conn, lamp_id)
    conn.execute("UPDATE lamps SET state = 'retired' WHERE lamp_id = 'C'")
    # A: the controller reports a failure on day 5 at 03:00; a crew repairs it on day 8.
    insert_event(conn, "A", local(day(5), 3), "lamp_failure")
    insert_event(conn, "A", local(day(8), 10), "repaired", "technician")
    # B: a technician finds it failed on day 6 and repairs it at once (failure one second before).
    repaired_at = local(day(6), 11)
    insert_event(conn, "B", repaired_at - timedelta(seconds=1), "lamp_failure", "technician")
    insert_event(conn, "B", repaired_at, "repaired", "technician")
    insert_event(conn, "B", local(day(2), 9), "cycling")  # a warning, not a failure
    # C is retired; its old failure does not matter.
    insert_event(conn, "C", local(day(4), 1), "lamp_failure")
    # D: a visit on day 10 finds nothing; another visit repairs something on day 2.
    close_work_order(conn, "D", local(day(10), 15), "false_alarm")
    close_work_order(conn, "D", local(day(2), 15), "repaired")
    # E: its supply is lost on day 3 in the evening and restored the next morning.
    insert_event(conn, "E", local(day(3), 20), "supply_loss", "controller")
    insert_event(conn, "E", local(day(4), 8), "repaired", "technician")
    # E again: its photocell fails and it burns all day on day 9, until a crew comes on day 10.
    insert_event(conn, "E", local(day(9), 12), "day_burning", "controller")
    insert_event(conn, "E", local(day(10), 9), "repaired", "technician")
    return conn


def test_a_failure_labels_the_days_of_the_horizon_before_it(fleet):
    labels = build_labels(fleet, index("ABCDE", range(1, 13)), 3, time_zone=ZONE)
    assert list(labels.columns) == ["label", "failure_ts", "usable", "false_alarm"]
    assert str(labels["failure_ts"].dtype) == "datetime64[us, UTC]"
    assert days_where(labels, "A", "label") == [2, 3, 4]
    assert days_where(labels, "B", "label") == [3, 4, 5]
    # A lost supply leaves the street dark, a lamp burning by day needs a crew: both are failures.
    assert days_where(labels, "E", "label") == [1, 2, 6, 7, 8]
    assert days_where(labels, "D", "label") == []
    assert labels["label"].sum() == 3 + 3 + 3 + 5  # C's failure counts too: usable says the rest
    failure = labels.loc[("A", pd.Timestamp(day(3)))]["failure_ts"]
    assert failure == pd.Timestamp(local(day(5), 3)).tz_convert("UTC")
    assert labels.loc[("A", pd.Timestamp(day(1)))]["failure_ts"] is pd.NaT


def test_days_when_the_lamp_is_out_or_retired_are_not_usable(fleet):
    labels = build_labels(fleet, index("ABCDE", range(1, 13)), 3, time_zone=ZONE)
    everyday = list(range(1, 13))
    assert days_where(labels, "A", "usable") == [n for n in everyday if not 5 <= n <= 7]
    assert days_where(labels, "B", "usable") == everyday  # repaired the moment the failure was found
    assert days_where(labels, "C", "usable") == []
    assert days_where(labels, "E", "usable") == [n for n in everyday if n not in (3, 9)]


def test_a_false_alarm_within_the_horizon_is_kept(fleet):
    labels = build_labels(fleet, index("ABCDE", range(1, 13)), 3, time_zone=ZONE)
    assert days_where(labels, "D", "false_alarm") == [7, 8, 9]  # the repaired visit is no false alarm
    assert days_where(labels, "A", "false_alarm") == []
    assert days_where(labels, "D", "label") == []


def test_labels_follow_the_index_order_and_the_horizon(fleet):
    mixed = pd.MultiIndex.from_tuples(
        [("B", pd.Timestamp(day(5))), ("A", pd.Timestamp(day(1))), ("A", pd.Timestamp(day(4)))],
        names=["lamp_id", "day"],
    )
    labels = build_labels(fleet, mixed, 1, time_zone=ZONE)
    assert labels.index.equals(mixed)
    assert labels["label"].tolist() == [1, 0, 1]
    assert build_labels(fleet, mixed, 4, time_zone=ZONE)["label"].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="horizon_days"):
        build_labels(fleet, mixed, 0, time_zone=ZONE)


def test_days_end_at_local_midnight_across_the_clock_change(conn):
    insert_lamp(conn, "F")
    # 00:30 on 30 March in Paris (summer time) is 22:30 UTC on 29 March.
    insert_event(conn, "F", datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "lamp_failure")
    days = pd.to_datetime([date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)])
    labels = build_labels(conn, pd.MultiIndex.from_product([["F"], days], names=["lamp_id", "day"]), 1, time_zone=ZONE)
    assert labels["label"].tolist() == [0, 1, 0]
    assert labels["usable"].tolist() == [True, True, False]
