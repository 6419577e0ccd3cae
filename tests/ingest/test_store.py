"""The ingester's storage step against every storage backend (TimescaleDB, PostgreSQL, embedded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.contract import TelemetryReading, Topics
from ingest.decode import READING_COLUMNS, REAL_FIELDS, TopicCache, decode_message
from ingest.fast_decode import decode_fast
from ingest.store import READING_COPY_TYPES, LampDirectory, Message, write_batch

TOPICS = Topics("streetlight/v1")
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def message(lamp_id: str, kind: str, body: bytes | str | dict | list) -> Message:
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    topic = f"streetlight/v1/lamps/{lamp_id}/{kind}"
    return Message(topic, body, NOW, decode_message(topic, body, TOPICS, NOW))


def reading(minute: int, **values) -> dict:
    return {"ts": (NOW - timedelta(hours=1) + timedelta(minutes=minute)).isoformat(), "power_w": 40.0, **values}


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO lamps (lamp_id, name, rated_power_w) VALUES ('L1', 'one', 50), ('L2', 'two', 50)"
        )
        yield connection


def count(conn: psycopg.Connection, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def test_readings_are_stored_once_even_when_redelivered(conn):
    batch = [message("L1", "telemetry", reading(i)) for i in range(10)]
    batch.append(message("L2", "telemetry", [reading(i) for i in range(5)]))
    first = write_batch(conn, batch, LampDirectory())
    assert (first.readings_offered, first.readings_inserted) == (15, 15)

    again = write_batch(conn, batch + batch[:3], LampDirectory())
    assert again.readings_inserted == 0
    assert again.readings_duplicate == 18
    assert count(conn, "SELECT count(*) FROM readings") == 15


def test_values_and_extra_fields_are_kept(conn):
    body = reading(0, power_factor=0.93, dim_level=60, switch_cycles=12, vendor_code="X7", flags={"door": True})
    write_batch(conn, [message("L1", "telemetry", body)], LampDirectory())
    row = conn.execute(
        "SELECT ts, power_w, power_factor, dim_level, switch_cycles, extra FROM readings WHERE lamp_id = 'L1'"
    ).fetchone()
    assert row[0] == datetime.fromisoformat(body["ts"])
    assert row[1:5] == (40.0, pytest.approx(0.93), 60.0, 12)
    assert row[5] == {"vendor_code": "X7", "flags": {"door": True}}


def test_bad_messages_become_dead_letters_with_their_bytes(conn):
    bad = [
        message("L1", "telemetry", b"\xff\xfe not utf-8"),
        message("L1", "telemetry", "{not json"),
        message("L1", "telemetry", reading(1, power_factor=1.2)),
        message("L1", "telemetry", reading(2, power_w="forty")),
        message("L1", "telemetry", {"ts": (NOW + timedelta(minutes=6)).isoformat(), "power_w": 1.0}),
    ]
    good = message("L1", "telemetry", reading(3))
    result = write_batch(conn, [*bad, good], LampDirectory())
    assert result.readings_inserted == 1
    assert dict(result.dead_letters) == {
        "invalid_utf8": 1,
        "invalid_json": 1,
        "out_of_range": 1,
        "wrong_type": 1,
        "future_timestamp": 1,
    }
    stored = conn.execute("SELECT reason, payload FROM dead_letters ORDER BY id").fetchall()
    assert [bytes(p) for _, p in stored] == [m.payload for m in bad]


def test_unknown_lamps_are_dead_lettered_and_listed_for_commissioning(conn):
    batch = [message("NEW-7", "telemetry", reading(i)) for i in range(3)] + [message("NEW-7", "status", "online")]
    result = write_batch(conn, batch, LampDirectory())
    assert result.readings_inserted == 0
    assert dict(result.dead_letters) == {"unknown_lamp": 4}
    listed = conn.execute("SELECT lamp_id, message_count, status FROM unknown_lamps").fetchall()
    assert listed == [("NEW-7", 4, "pending")]
    write_batch(conn, batch[:1], LampDirectory())
    assert count(conn, "SELECT message_count FROM unknown_lamps WHERE lamp_id = 'NEW-7'") == 5


def test_a_lamp_added_to_the_inventory_is_picked_up(conn):
    directory = LampDirectory()
    write_batch(conn, [message("L9", "telemetry", reading(0))], directory)
    conn.execute("INSERT INTO lamps (lamp_id) VALUES ('L9')")
    directory.forget()
    result = write_batch(conn, [message("L9", "telemetry", reading(1))], directory)
    assert result.readings_inserted == 1


def test_failure_and_repair_events_drive_the_lamp_state(conn):
    failure = {"ts": reading(5)["ts"], "type": "lamp_failure", "detail": "no current"}
    write_batch(conn, [message("L1", "event", failure)], LampDirectory())
    assert count(conn, "SELECT count(*) FROM lamps WHERE state = 'faulty'") == 1
    # Redelivery stores nothing new.
    again = write_batch(conn, [message("L1", "event", failure)], LampDirectory())
    assert again.events_inserted == 0
    repaired = {"ts": reading(50)["ts"], "type": "repaired", "detail": {"by": "crew 2"}}
    write_batch(conn, [message("L1", "event", repaired)], LampDirectory())
    assert conn.execute("SELECT state FROM lamps WHERE lamp_id = 'L1'").fetchone()[0] == "in_service"
    assert count(conn, "SELECT count(*) FROM events") == 2


def test_status_changes_are_recorded_and_replays_do_not_move_the_time(conn):
    write_batch(conn, [message("L1", "status", "offline")], LampDirectory())
    first = conn.execute("SELECT online, changed_at FROM lamp_status WHERE lamp_id = 'L1'").fetchone()
    assert first[0] is False
    later = Message(
        "streetlight/v1/lamps/L1/status",
        b"offline",
        NOW + timedelta(hours=1),
        decode_message("streetlight/v1/lamps/L1/status", b"offline", TOPICS, NOW + timedelta(hours=1)),
    )
    write_batch(conn, [later], LampDirectory())
    assert conn.execute("SELECT online, changed_at FROM lamp_status WHERE lamp_id = 'L1'").fetchone() == first
    assert conn.execute("SELECT online FROM lamps WHERE lamp_id = 'L1'").fetchone()[0] is False
    write_batch(conn, [message("L1", "status", "online")], LampDirectory())
    assert conn.execute("SELECT online FROM lamp_status WHERE lamp_id = 'L1'").fetchone()[0] is True
    assert conn.execute("SELECT online FROM lamps WHERE lamp_id = 'L1'").fetchone()[0] is True  # the inventory's copy


def test_plan_acks_update_the_push_record_once(conn):
    conn.execute("INSERT INTO plan_pushes (lamp_id, version, plan) VALUES ('L1', 3, '{}')")
    ack = message("L1", "plan/ack", {"version": 3, "status": "applied"})
    write_batch(conn, [ack, ack], LampDirectory())
    assert count(conn, "SELECT count(*) FROM plan_acks") == 1
    assert conn.execute("SELECT ack_status FROM plan_pushes").fetchone()[0] == "applied"


def test_copy_types_match_the_readings_table(conn):
    # Binary COPY sends each value in its column's own format: the types must be the table's.
    rows = conn.execute(
        """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
           WHERE attrelid = 'readings'::regclass AND attnum > 0 AND NOT attisdropped"""
    ).fetchall()
    names = {"bigint": "int8", "real": "float4", "double precision": "float8"} | {
        "timestamp with time zone": "timestamptz"
    }
    table = {column: names.get(kind, kind) for column, kind in rows}
    assert tuple(table[column] for column in READING_COLUMNS) == READING_COPY_TYPES


def test_the_fast_path_stores_the_same_row_as_the_full_path(conn):
    body = reading(7, seq=12, voltage_v=231.4, power_factor=0.93, dim_level=60, energy_wh=10**20, switch_cycles=3)
    body |= {"rssi_dbm": -81, "vendor": {"code": "X7", "flags": [1, None, "é"]}}
    payload = json.dumps(body).encode()
    fast = decode_fast("streetlight/v1/lamps/L1/telemetry", payload, TopicCache(TOPICS), NOW)
    assert fast.readings[0].reading is None  # taken by the fast path
    full = decode_message("streetlight/v1/lamps/L2/telemetry", payload, TOPICS, NOW)
    write_batch(conn, [Message("streetlight/v1/lamps/L1/telemetry", payload, NOW, fast)], LampDirectory())
    write_batch(conn, [Message("streetlight/v1/lamps/L2/telemetry", payload, NOW, full)], LampDirectory())
    columns = ", ".join(READING_COLUMNS[1:])
    stored = conn.execute(f"SELECT lamp_id, {columns} FROM readings ORDER BY lamp_id").fetchall()
    assert [row[0] for row in stored] == ["L1", "L2"]
    assert stored[0][1:] == stored[1][1:]
    assert stored[0][READING_COLUMNS.index("extra")] == {"vendor": {"code": "X7", "flags": [1, None, "é"]}}
    assert stored[0][READING_COLUMNS.index("energy_wh")] == 1e20


def test_every_real_column_is_bounded_within_float4_by_the_contract():
    # A value outside float4's range cannot be sent in binary; the contract's bounds keep them inside.
    schema = TelemetryReading.model_json_schema()["properties"]
    for column, kind in zip(READING_COLUMNS, READING_COPY_TYPES):
        if kind == "float4":
            number = next(option for option in schema[column]["anyOf"] if option["type"] == "number")
            assert -3.4e38 < number["minimum"] and number["maximum"] < 3.4e38, column


def test_the_real_fields_refused_when_too_small_are_the_float4_columns():
    float4 = tuple(column for column, kind in zip(READING_COLUMNS, READING_COPY_TYPES) if kind == "float4")
    assert REAL_FIELDS == float4


def test_values_their_columns_cannot_hold_never_reach_the_database(conn):
    stored_before = write_batch(conn, [message("L1", "telemetry", reading(0))], LampDirectory())
    assert stored_before.readings_inserted == 1
    nul = "\x00"
    bad = [
        message("L1", "telemetry", reading(1, voltage_v=1e-300)),
        message("L1", "telemetry", reading(2, note=f"a{nul}b")),
        message("L1", "telemetry", b'{"ts": "' + reading(3)["ts"].encode() + b'", "power_w": 1, "tilt": 1e999}'),
        message("L1", "event", {"ts": reading(4)["ts"], "type": "repaired", "detail": {"by": f"crew{nul}"}}),
        message("L1", "plan/ack", {"version": 3, "status": "rejected", "reason": f"full{nul}"}),
        Message(
            f"streetlight/v1/lamps/L{nul}1/status",
            b"online",
            NOW,
            decode_message(f"streetlight/v1/lamps/L{nul}1/status", b"online", TOPICS, NOW),
        ),
    ]
    good = message("L2", "telemetry", reading(5))
    # One transaction for the whole batch: a value the database refused would have failed it all.
    result = write_batch(conn, [*bad, good], LampDirectory())
    assert (result.readings_inserted, result.events_inserted, result.acks) == (1, 0, 0)
    assert dict(result.dead_letters) == {"out_of_range": 2, "invalid_value": 3, "unknown_topic": 1}
    assert count(conn, "SELECT count(*) FROM readings") == 2
    assert count(conn, "SELECT count(*) FROM events") + count(conn, "SELECT count(*) FROM plan_acks") == 0
    stored = conn.execute("SELECT reason, detail, payload FROM dead_letters ORDER BY id").fetchall()
    assert [(reason, bytes(payload)) for reason, _, payload in stored] == [
        (d.reason.value, d.payload) for m in bad for d in m.decoded.dead_letters
    ]
    assert stored[0][1].startswith("voltage_v: Input should be zero, or a magnitude from 1.4e-45")
