"""decode_message: every class of input, and where it ends up."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.contract import MAX_PAYLOAD_BYTES, MEASUREMENT_FIELDS, TelemetryReading, TopicKind, Topics
from ingest import fast_decode
from ingest.decode import READING_COLUMNS, REAL_FIELDS, DeadLetterReason, Decoded, TopicCache, decode_message
from ingest.fast_decode import decode_fast, single_reading_values

R = DeadLetterReason
TOPICS = Topics()
NOW = datetime(2026, 11, 25, 17, 10, tzinfo=UTC)
LAMP = "L-0001"
TS = "2026-11-25T18:00:00+01:00"  # 17:00 UTC, ten minutes before NOW


def topic(kind: TopicKind, lamp_id: str = LAMP) -> str:
    return TOPICS.lamp(lamp_id, kind)


def decode(kind: TopicKind | str, payload: bytes | str | Any) -> Decoded:
    """Decode on `kind`'s topic (or a raw topic name): bytes and str go as they are, anything else as JSON."""
    if not isinstance(payload, (bytes, str)):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    name = topic(kind) if isinstance(kind, TopicKind) else kind
    return decode_message(name, payload, TOPICS, NOW)


def reading(**fields: Any) -> dict[str, Any]:
    return {"ts": TS, "power_w": 52.1} | fields


def only_dead_letter(decoded: Decoded, reason: DeadLetterReason) -> str:
    assert not decoded.has_rows
    assert [d.reason for d in decoded.dead_letters] == [reason], decoded.dead_letters
    return decoded.dead_letters[0].detail


def iso(when: datetime) -> str:
    return when.isoformat()


# --- telemetry: single readings -------------------------------------------------


def test_valid_reading() -> None:
    decoded = decode(TopicKind.TELEMETRY, reading(dim_level=100, tilt_deg=1.5))
    assert decoded.lamp_id == LAMP
    assert decoded.dead_letters == []
    assert len(decoded.readings) == 1
    row = decoded.readings[0]
    assert row.lamp_id == LAMP
    assert row.reading.power_w == 52.1
    assert row.reading.ts == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert row.reading.extra == {"tilt_deg": 1.5}
    assert decoded.events == decoded.statuses == decoded.acks == []


def test_reading_with_surrounding_whitespace() -> None:
    assert len(decode(TopicKind.TELEMETRY, b"\n  " + json.dumps(reading()).encode() + b"\r\n").readings) == 1


def test_invalid_utf8() -> None:
    payload = b'{"ts": "' + TS.encode() + b'", "power_w": 5, "note": "\xff\xfe"}'
    detail = only_dead_letter(decode(TopicKind.TELEMETRY, payload), R.INVALID_UTF8)
    assert "byte" in detail
    dead = decode(TopicKind.TELEMETRY, payload).dead_letters[0]
    assert dead.payload == payload and dead.lamp_id == LAMP and dead.topic == topic(TopicKind.TELEMETRY)


@pytest.mark.parametrize("payload", [b"", b"{", b'{"ts": }', b"{'ts': 1}", b"ts=1", b'{"ts": "x",}'])
def test_invalid_json(payload: bytes) -> None:
    dead = decode(TopicKind.TELEMETRY, payload)
    only_dead_letter(dead, R.INVALID_JSON)
    assert dead.dead_letters[0].payload == payload


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(reading(power_w="52.1"), id="string for a number"),
        pytest.param(reading(power_w=True), id="boolean for a number"),
        pytest.param(reading(seq="1"), id="string for an integer"),
        pytest.param(reading(switch_cycles=2.5), id="fraction for an integer"),
        pytest.param(b'"a reading"', id="a JSON string"),
        pytest.param(42, id="a JSON number"),
        pytest.param(None, id="JSON null"),
    ],
)
def test_wrong_types(body: Any) -> None:
    only_dead_letter(decode(TopicKind.TELEMETRY, body), R.WRONG_TYPE)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(reading(power_factor=1.01), "power_factor", id="power factor above 1"),
        pytest.param(reading(power_w=-0.5), "power_w", id="negative power"),
        pytest.param(reading(dim_level=100.5), "dim_level", id="dim level above 100"),
        pytest.param(reading(voltage_v=5000), "voltage_v", id="voltage above 1000"),
        pytest.param(reading(rssi_dbm=10), "rssi_dbm", id="positive rssi"),
    ],
)
def test_out_of_range(body: dict[str, Any], field: str) -> None:
    assert only_dead_letter(decode(TopicKind.TELEMETRY, body), R.OUT_OF_RANGE).startswith(f"{field}:")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers(literal: bytes) -> None:
    payload = b'{"ts": "' + TS.encode() + b'", "power_w": ' + literal + b"}"
    only_dead_letter(decode(TopicKind.TELEMETRY, payload), R.OUT_OF_RANGE)


def test_missing_ts() -> None:
    detail = only_dead_letter(decode(TopicKind.TELEMETRY, {"power_w": 5}), R.MISSING_FIELD)
    assert detail.startswith("ts:")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(reading(ts="2026-11-25T18:00:00"), id="ts without offset"),
        pytest.param(reading(ts=1764090000), id="ts as a number"),
        pytest.param({"ts": TS}, id="no measurement"),
        pytest.param({"ts": TS, "seq": 3}, id="seq only"),
    ],
)
def test_invalid_values(body: dict[str, Any]) -> None:
    only_dead_letter(decode(TopicKind.TELEMETRY, body), R.INVALID_VALUE)


def test_detail_names_every_error() -> None:
    detail = only_dead_letter(decode(TopicKind.TELEMETRY, reading(power_factor=3, dim_level=300)), R.OUT_OF_RANGE)
    assert "power_factor" in detail and "dim_level" in detail


# --- telemetry: the clock -------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "accepted"),
    [
        (timedelta(minutes=4), True),
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(hours=1), False),
        (timedelta(days=-30), True),
    ],
)
def test_future_timestamp(ahead: timedelta, accepted: bool) -> None:
    decoded = decode(TopicKind.TELEMETRY, reading(ts=iso(NOW + ahead)))
    if accepted:
        assert len(decoded.readings) == 1 and decoded.dead_letters == []
    else:
        assert "ahead" in only_dead_letter(decoded, R.FUTURE_TIMESTAMP)


def test_future_is_judged_on_the_instant_not_the_wall_clock() -> None:
    # 18:14 in Paris is 17:14 UTC: four minutes ahead of NOW, accepted.
    assert len(decode(TopicKind.TELEMETRY, reading(ts="2026-11-25T18:14:00+01:00")).readings) == 1
    # 17:16 UTC written as UTC: six minutes ahead.
    only_dead_letter(decode(TopicKind.TELEMETRY, reading(ts="2026-11-25T17:16:00Z")), R.FUTURE_TIMESTAMP)


# --- telemetry: batches ---------------------------------------------------------


def test_valid_batch() -> None:
    batch = [reading(ts=f"2026-11-25T17:{m:02d}:00+01:00", seq=m) for m in (0, 15, 30, 45)]
    decoded = decode(TopicKind.TELEMETRY, batch)
    assert decoded.dead_letters == []
    assert [r.reading.seq for r in decoded.readings] == [0, 15, 30, 45]
    assert all(r.lamp_id == LAMP for r in decoded.readings)


def test_batch_with_one_bad_element_keeps_the_good_ones() -> None:
    batch = [
        reading(ts="2026-11-25T17:00:00+01:00", seq=1),
        reading(ts="2026-11-25T17:15:00+01:00", seq=2, power_factor=1.5),
        reading(ts="2026-11-25T17:30:00+01:00", seq=3),
    ]
    decoded = decode(TopicKind.TELEMETRY, batch)
    assert [r.reading.seq for r in decoded.readings] == [1, 3]
    assert len(decoded.dead_letters) == 1
    dead = decoded.dead_letters[0]
    assert dead.reason is R.OUT_OF_RANGE
    assert dead.detail.startswith("element 2 of 3: ")
    assert "power_factor" in dead.detail
    # The dead letter holds the bad element alone, not the whole batch.
    assert json.loads(dead.payload) == batch[1]
    assert dead.lamp_id == LAMP


def test_batch_elements_each_get_their_reason() -> None:
    batch = [
        reading(ts="2026-11-25T17:00:00+01:00"),
        "not an object",
        reading(power_w="high"),
        {"power_w": 5},
        reading(ts=iso(NOW + timedelta(hours=2))),
        reading(ts="2026-11-25T17:45:00+01:00"),
    ]
    decoded = decode(TopicKind.TELEMETRY, batch)
    assert len(decoded.readings) == 2
    reasons = [(d.reason, d.detail.split(":")[0]) for d in decoded.dead_letters]
    assert reasons == [
        (R.WRONG_TYPE, "element 2 of 6"),
        (R.WRONG_TYPE, "element 3 of 6"),
        (R.MISSING_FIELD, "element 4 of 6"),
        (R.FUTURE_TIMESTAMP, "element 5 of 6"),
    ]


def test_batch_element_with_non_finite_number() -> None:
    payload = b'[{"ts": "' + TS.encode() + b'", "power_w": NaN}, ' + json.dumps(reading()).encode() + b"]"
    decoded = decode(TopicKind.TELEMETRY, payload)
    assert len(decoded.readings) == 1
    assert [d.reason for d in decoded.dead_letters] == [R.OUT_OF_RANGE]


def test_empty_batch() -> None:
    assert "empty batch" in only_dead_letter(decode(TopicKind.TELEMETRY, b"[]"), R.MISSING_FIELD)
    only_dead_letter(decode(TopicKind.TELEMETRY, b"  [ ]  "), R.MISSING_FIELD)


def test_batch_with_invalid_json() -> None:
    only_dead_letter(decode(TopicKind.TELEMETRY, b'[{"ts": "' + TS.encode() + b'", '), R.INVALID_JSON)


def test_nested_batch_is_wrong_type() -> None:
    detail = only_dead_letter(decode(TopicKind.TELEMETRY, [[reading()]]), R.WRONG_TYPE)
    assert detail == "element 1 of 1: not a JSON object"


# --- size ------------------------------------------------------------------------


def padded_reading(total_bytes: int) -> bytes:
    """A valid reading padded with an extra field to exactly `total_bytes`."""
    skeleton = json.dumps(reading(pad="")).encode()
    payload = json.dumps(reading(pad="x" * (total_bytes - len(skeleton)))).encode()
    assert len(payload) == total_bytes
    return payload


def test_payload_over_64_kib() -> None:
    payload = padded_reading(MAX_PAYLOAD_BYTES + 1)
    decoded = decode(TopicKind.TELEMETRY, payload)
    assert str(MAX_PAYLOAD_BYTES + 1) in only_dead_letter(decoded, R.PAYLOAD_TOO_LARGE)
    assert decoded.dead_letters[0].payload == payload


def test_payload_of_exactly_64_kib_is_judged_on_content() -> None:
    assert MAX_PAYLOAD_BYTES == 64 * 1024
    decoded = decode(TopicKind.TELEMETRY, padded_reading(MAX_PAYLOAD_BYTES))
    assert decoded.dead_letters == [] and len(decoded.readings) == 1
    assert len(decoded.readings[0].reading.extra["pad"]) > 60_000
    # A bad payload of exactly the limit is refused for what it says, not for its size.
    bad = b"{" + b" " * (MAX_PAYLOAD_BYTES - 1)
    only_dead_letter(decode(TopicKind.TELEMETRY, bad), R.INVALID_JSON)


def test_size_is_checked_before_anything_else() -> None:
    huge_garbage = b"\xff" * (MAX_PAYLOAD_BYTES + 1)
    only_dead_letter(decode(TopicKind.TELEMETRY, huge_garbage), R.PAYLOAD_TOO_LARGE)
    only_dead_letter(decode("somewhere/else", huge_garbage), R.PAYLOAD_TOO_LARGE)


# --- topics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f"streetlight/v1/lamps/{LAMP}/unknown",
        f"streetlight/v1/lamps/{LAMP}/telemetry/extra",
        "streetlight/v1/lamps/bad id/telemetry",
        f"streetlight/v2/lamps/{LAMP}/telemetry",
        "elsewhere/entirely",
    ],
)
def test_unknown_topic(name: str) -> None:
    decoded = decode(name, reading())
    only_dead_letter(decoded, R.UNKNOWN_TOPIC)
    assert decoded.lamp_id is None and decoded.dead_letters[0].lamp_id is None
    assert decoded.dead_letters[0].topic == name


def test_plan_topic_is_never_ingested() -> None:
    point = {"at": "2026-11-25T16:12:00Z", "level": 1}
    plan = {"version": 7, "generated_at": "2026-11-25T12:00:00Z", "points": [point]}
    decoded = decode(TopicKind.PLAN, plan)
    only_dead_letter(decoded, R.UNKNOWN_TOPIC)
    # The topic names a lamp, so the dead letter says which.
    assert decoded.lamp_id == LAMP and decoded.dead_letters[0].lamp_id == LAMP


# --- status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "online"), [(b"online", True), (b"offline", False), (b" online\n", True), (b"offline\r\n", False)]
)
def test_status(payload: bytes, online: bool) -> None:
    decoded = decode(TopicKind.STATUS, payload)
    assert decoded.dead_letters == []
    assert [(s.lamp_id, s.online, s.received_at) for s in decoded.statuses] == [(LAMP, online, NOW)]


@pytest.mark.parametrize("payload", [b"", b"ONLINE", b"on", b"1", b'"online"', b'{"status": "online"}', b"online!"])
def test_bad_status(payload: bytes) -> None:
    only_dead_letter(decode(TopicKind.STATUS, payload), R.INVALID_VALUE)


def test_status_invalid_utf8() -> None:
    only_dead_letter(decode(TopicKind.STATUS, b"onl\xffine"), R.INVALID_UTF8)


# --- events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"ts": TS, "type": "lamp_failure", "detail": "no current at 100 %"},
        {"ts": TS, "type": "day_burning", "detail": {"ambient_lux": 8200}},
        {"ts": TS, "type": "flicker_after_rain"},
    ],
)
def test_good_event(body: dict[str, Any]) -> None:
    decoded = decode(TopicKind.EVENT, body)
    assert decoded.dead_letters == []
    assert [(e.lamp_id, e.event.type, e.event.detail) for e in decoded.events] == [
        (LAMP, body["type"], body.get("detail"))
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param({"ts": TS, "type": "Lamp Failure"}, R.INVALID_VALUE, id="malformed type"),
        pytest.param({"ts": TS}, R.MISSING_FIELD, id="no type"),
        pytest.param({"type": "lamp_failure"}, R.MISSING_FIELD, id="no ts"),
        pytest.param({"ts": TS, "type": 5}, R.WRONG_TYPE, id="type as a number"),
        pytest.param({"ts": "2026-11-25T18:00:00", "type": "repaired"}, R.INVALID_VALUE, id="naive ts"),
        pytest.param([{"ts": TS, "type": "repaired"}], R.WRONG_TYPE, id="events do not batch"),
        pytest.param(b"{nope", R.INVALID_JSON, id="invalid JSON"),
        pytest.param(b"\xc3\x28", R.INVALID_UTF8, id="invalid UTF-8"),
        pytest.param({"ts": "2026-11-25T17:20:00Z", "type": "repaired"}, R.FUTURE_TIMESTAMP, id="ten minutes ahead"),
    ],
)
def test_bad_event(payload: Any, reason: DeadLetterReason) -> None:
    only_dead_letter(decode(TopicKind.EVENT, payload), reason)


def test_event_four_minutes_ahead_accepted() -> None:
    assert len(decode(TopicKind.EVENT, {"ts": iso(NOW + timedelta(minutes=4)), "type": "repaired"}).events) == 1


# --- plan acknowledgements --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"version": 7, "status": "applied"},
        {"version": 7, "status": "applied", "reason": None},
        {"version": 7, "status": "rejected", "reason": "plan has 11 points; this controller stores at most 10"},
    ],
)
def test_good_ack(body: dict[str, Any]) -> None:
    decoded = decode(TopicKind.PLAN_ACK, body)
    assert decoded.dead_letters == []
    assert [(a.lamp_id, a.ack.version, a.ack.status) for a in decoded.acks] == [(LAMP, 7, body["status"])]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param({"version": 7, "status": "ok"}, R.INVALID_VALUE, id="unknown status"),
        pytest.param({"version": "7", "status": "applied"}, R.WRONG_TYPE, id="version as string"),
        pytest.param({"status": "applied"}, R.MISSING_FIELD, id="no version"),
        pytest.param({"version": -1, "status": "applied"}, R.OUT_OF_RANGE, id="negative version"),
        pytest.param({"version": 7, "status": "rejected", "reason": "x" * 1001}, R.OUT_OF_RANGE, id="long reason"),
        pytest.param(b"applied", R.INVALID_JSON, id="plain text"),
    ],
)
def test_bad_ack(payload: Any, reason: DeadLetterReason) -> None:
    only_dead_letter(decode(TopicKind.PLAN_ACK, payload), reason)


# --- values the contract takes but their column cannot hold ------------------------


@pytest.mark.parametrize("field", REAL_FIELDS)
def test_a_measurement_too_small_for_its_real_column_is_out_of_range(field: str) -> None:
    value = -1e-300 if field == "rssi_dbm" else 1e-300  # within the contract's bounds
    for decoded in fast_and_full(json.dumps(reading(**{field: value})).encode()):
        detail = only_dead_letter(decoded, R.OUT_OF_RANGE)
        assert detail.startswith(f"{field}: Input should be zero, or a magnitude from 1.4e-45"), detail


def test_the_smallest_real_and_tiny_doubles_are_kept() -> None:
    [row] = decode(TopicKind.TELEMETRY, reading(voltage_v=1.4e-45, energy_wh=1e-300)).readings
    values = dict(zip(READING_COLUMNS, row.values))
    assert (values["voltage_v"], values["energy_wh"]) == (1.4e-45, 1e-300)


@pytest.mark.parametrize(
    ("kind", "body", "detail"),
    [
        (TopicKind.TELEMETRY, reading(note="new\x00driver"), "note: contains a NUL character"),
        (
            TopicKind.TELEMETRY,
            reading(vendor={"co\x00de": "X7"}),
            "vendor.co\\u0000de: has a NUL character in its name",
        ),
        (
            TopicKind.TELEMETRY,
            [reading(), reading(minute="\x00")],
            "element 2 of 2: minute: contains a NUL character",
        ),
        (
            TopicKind.EVENT,
            {"ts": TS, "type": "repaired", "detail": "new\x00driver"},
            "detail: contains a NUL character",
        ),
        (
            TopicKind.EVENT,
            {"ts": TS, "type": "repaired", "detail": {"parts": ["driver", "\x00"]}},
            "detail.parts.1: contains a NUL character",
        ),
        (
            TopicKind.PLAN_ACK,
            {"version": 3, "status": "rejected", "reason": "full\x00"},
            "reason: contains a NUL character",
        ),
    ],
)
def test_nul_in_what_is_stored_as_text_or_json_is_an_invalid_value(kind: TopicKind, body: Any, detail: str) -> None:
    assert "\\u0000" in json.dumps(body)  # as a controller sends it
    decoded = decode(kind, body)
    assert [(d.reason, d.detail) for d in decoded.dead_letters] == [(R.INVALID_VALUE, detail)]
    assert len(decoded.readings) == (1 if isinstance(body, list) else 0)  # the good element of the batch stays


@pytest.mark.parametrize(
    ("kind", "payload", "detail"),
    [
        (TopicKind.TELEMETRY, b'{"ts": "' + TS.encode() + b'", "power_w": 5, "tilt": [1, -1e999]}', "tilt.1"),
        (
            TopicKind.EVENT,
            b'{"ts": "' + TS.encode() + b'", "type": "cycling", "detail": {"rate": 1e999}}',
            "detail.rate",
        ),
    ],
)
def test_a_number_that_is_not_finite_in_json_is_out_of_range(kind: TopicKind, payload: bytes, detail: str) -> None:
    assert only_dead_letter(decode(kind, payload), R.OUT_OF_RANGE) == f"{detail}: is not a finite number"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (TopicKind.EVENT, {"ts": TS, "type": "lamp\x00failure"}),
        (TopicKind.STATUS, "online\x00"),
        (TopicKind.PLAN_ACK, {"version": 3, "status": "applied\x00"}),
    ],
)
def test_nul_in_a_closed_value_is_an_invalid_value(kind: TopicKind, body: Any) -> None:
    only_dead_letter(decode(kind, body), R.INVALID_VALUE)


def test_a_topic_holding_nul_is_unknown_and_stored_without_it() -> None:
    name = f"{TOPICS.prefix}/lamps/L\x001/telemetry"
    for decoded in fast_and_full(json.dumps(reading()).encode(), name):
        only_dead_letter(decoded, R.UNKNOWN_TOPIC)
        assert decoded.dead_letters[0].topic == f"{TOPICS.prefix}/lamps/L\\u00001/telemetry"
        assert decoded.lamp_id is None


def test_a_batch_nested_too_deep_for_the_parser_is_invalid_json() -> None:
    payload = b"[" * MAX_PAYLOAD_BYTES
    for decoded in fast_and_full(payload):
        assert only_dead_letter(decoded, R.INVALID_JSON) == "nested too deeply"


# --- the shape of the result -----------------------------------------------------


def test_every_reason_but_storage_ones_is_produced_here() -> None:
    # unknown_lamp and storage_rejected need the database: ingest/store.py assigns them.
    produced = {
        R.PAYLOAD_TOO_LARGE,
        R.UNKNOWN_TOPIC,
        R.INVALID_UTF8,
        R.INVALID_JSON,
        R.WRONG_TYPE,
        R.MISSING_FIELD,
        R.OUT_OF_RANGE,
        R.INVALID_VALUE,
        R.FUTURE_TIMESTAMP,
    }
    assert set(R) - produced == {R.UNKNOWN_LAMP, R.STORAGE_REJECTED}


def test_decoding_is_pure() -> None:
    payload = json.dumps([reading(), reading(power_w=-1)]).encode()
    first = decode(TopicKind.TELEMETRY, payload)
    second = decode(TopicKind.TELEMETRY, payload)
    assert first.readings == second.readings and first.dead_letters == second.dead_letters


def test_every_reason_is_documented_for_integrators() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    missing = [reason.value for reason in R if f"| `{reason.value}` |" not in guide]
    assert not missing, f"docs/mqtt.md does not explain the dead-letter reasons {missing}"


# --- the fast path for single readings (ingest/fast_decode.py) ---------------------

# Per field: values the contract accepts, then values it refuses (the bounds and just past them).
FIELD_VALUES: dict[str, tuple[list[Any], list[Any]]] = {
    "ts": (
        [TS, "2026-11-25T17:00:00Z", "2026-11-25T17:00:00.5Z", "2026-11-25T17:00:00.123456-03:30",
         "2026-11-25T18:00:00+23:59", "2026-11-25T17:00:00-23:59", "2026-11-25T17:15:00.000000Z",
         "0001-01-01T00:00:00Z", "2026-11-25t17:00:00z", "2026-11-25 17:00:00Z", "2026-11-25T17:00:00.1234567Z",
         "2026-11-25T17:00:00+0100"],
        ["2026-11-25T17:15:00.000001Z", "2026-11-25T18:00:00+01:60", "2026-11-25T18:00:00+24:00",
         "2026-11-25T24:00:00Z", "2026-11-25T23:59:60Z", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z",
         "0000-01-01T00:00:00Z", "2026-11-25T17:00Z", "2026-11-25T17:00:00", "2026-11-25", "", "now", 1764090000,
         1764090000.5, None, True, ["2026-11-25T17:00:00Z"]],
    ),
    "seq": ([0, 1, 2**63 - 1, None], [2**63, -1, 2.0, 1.5, "1", True, 10**30]),
    "voltage_v": ([0, 0.0, 231.4, 1000, 1000.0, -0.0, 1.4e-45, None], [1000.0001, -1e-9, 2**53 + 1, "231", False, 1e-300]),
    "current_a": ([0.24, 100, None], [100.5, "0.2", 5e-324]),
    "power_w": ([52.1, 0, 100_000, None], [100_000.01, -0.5, 1e999, -1e999, True]),
    "power_factor": ([0.96, 1, 1.0, 0, None], [1.01, -0.01]),
    "energy_wh": ([1532200.0, 0, 10**20, 9007199254740993, 1.7e308, 1e-300, None], [-1, "1"]),
    "dim_level": ([100, 100.0, 60, 0, None], [100.5, -1]),
    "driver_temp_c": ([38.5, -60, 200, None], [-60.5, 200.1]),
    "ambient_lux": ([0, 200_000, 3.5, None], [200_001]),
    "burning_hours": ([12034.5, 0, 1e300, None], [-0.1]),
    "switch_cycles": ([2871, 0, 2**63 - 1, None], [-1, 2.5, 3.0, 2**63, "7"]),
    "rssi_dbm": ([-81, 0, -200, -81.5, None], [1, -200.5]),
}  # fmt: skip
EXTRA_FIELDS: list[dict[str, Any]] = [
    {}, {}, {}, {"tilt_deg": 1.5}, {"vendor": {"code": "X7", "flags": [1, 2, None]}}, {"note": "é \u00e9 ✓"},
    {"extra": True}, {"ts_local": "18:00"},
]  # fmt: skip


def random_reading(rng: random.Random) -> dict[str, Any]:
    """A reading with a random subset of fields, each with a random value: mostly valid, often not."""
    body: dict[str, Any] = {}
    for name, (good, bad) in FIELD_VALUES.items():
        if name == "ts" and rng.random() < 0.98 or rng.random() < 0.4:
            body[name] = rng.choice(bad if rng.random() < 0.04 else good)
    order = list(body.items()) + list(rng.choice(EXTRA_FIELDS).items())
    rng.shuffle(order)
    return dict(order)


def fast_and_full(payload: bytes, name: str = "") -> tuple[Decoded, Decoded]:
    name = name or topic(TopicKind.TELEMETRY)
    return decode_fast(name, payload, TopicCache(TOPICS), NOW), decode_message(name, payload, TOPICS, NOW)


def assert_same_outcome(fast: Decoded, full: Decoded) -> None:
    assert fast.lamp_id == full.lamp_id
    assert [r.values for r in fast.readings] == [r.values for r in full.readings]
    assert [r.lamp_id for r in fast.readings] == [r.lamp_id for r in full.readings]
    assert fast.dead_letters == full.dead_letters
    assert (fast.events, fast.statuses, fast.acks) == (full.events, full.statuses, full.acks)


def test_the_fast_path_agrees_with_the_contract_on_random_readings() -> None:
    rng = random.Random(20261125)
    taken = accepted = 0
    for _ in range(4000):
        body = random_reading(rng)
        payload = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()
        fast, full = fast_and_full(payload)
        assert_same_outcome(fast, full)
        took = bool(fast.readings) and fast.readings[0].reading is None
        if took:
            # The timestamp is the same instant, and the values the same numbers of the same types.
            assert [type(v) for v in fast.readings[0].values] == [type(v) for v in full.readings[0].values]
        elif full.readings:
            # Valid but declined: only for a timestamp of another shape.
            assert fast_decode._PLAIN_TS.fullmatch(body["ts"]) is None, body
        taken += took
        accepted += len(full.readings)
    # The corpus exercises both sides of the contract.
    assert 1000 < accepted < 3000 and taken > 1000


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(json.dumps(reading()).encode(), id="plain"),
        pytest.param(b"\n  " + json.dumps(reading()).encode() + b"\r\n", id="surrounding whitespace"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "power_w": 7}', id="a field given twice"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "x": 1, "x": [2]}', id="an extra field twice"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "x": "\\u00e9\\ud83d\\ude00"}', id="escapes"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "x": "\\ud800"}', id="lone surrogate"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": NaN}', id="NaN"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "energy_wh": Infinity}', id="Infinity"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "energy_wh": 1e999}', id="overflowing number"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5} trailing', id="trailing text"),
        pytest.param(b'\xef\xbb\xbf{"ts": "' + TS.encode() + b'", "power_w": 5}', id="byte order mark"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "note": "\xff"}', id="invalid UTF-8"),
        pytest.param(json.dumps(reading()).encode("utf-16"), id="UTF-16"),
        pytest.param(json.dumps([reading()]).encode(), id="a batch of one"),
        pytest.param(json.dumps(reading(voltage_v=1e-300)).encode(), id="too small for real"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 0.' + b"0" * 50 + b"1}", id="too small, no exponent"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 0.' + b"0" * 40 + b"1}", id="small, no exponent"),
        pytest.param(json.dumps(reading(rssi_dbm=-1.4e-45)).encode(), id="the smallest real"),
        pytest.param(json.dumps(reading(note="a\x00b")).encode(), id="NUL in an extra field"),
        pytest.param(json.dumps(reading(**{"no\x00te": 1})).encode(), id="NUL in an extra name"),
        pytest.param(b'{"ts": "' + TS.encode() + b'", "power_w": 5, "tilt": 1e999}', id="extra not finite"),
        pytest.param(b"{}", id="empty object"),
        pytest.param(b"", id="empty payload"),
        pytest.param(padded_reading(MAX_PAYLOAD_BYTES), id="exactly 64 KiB"),
        pytest.param(padded_reading(MAX_PAYLOAD_BYTES + 1), id="over 64 KiB"),
    ],
)
def test_the_fast_path_agrees_with_the_contract_on_edge_cases(payload: bytes) -> None:
    assert_same_outcome(*fast_and_full(payload))


@pytest.mark.parametrize("kind", list(TopicKind))
def test_the_fast_path_leaves_other_topics_to_the_full_path(kind: TopicKind) -> None:
    for body in (reading(), {"ts": TS, "type": "repaired"}, {"version": 3, "status": "applied"}, "online"):
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        fast, full = fast_and_full(payload, topic(kind))
        assert_same_outcome(fast, full)
        assert all(r.reading is not None for r in fast.readings) or kind is TopicKind.TELEMETRY
    assert_same_outcome(*fast_and_full(json.dumps(reading()).encode(), "elsewhere/entirely"))


def test_the_fast_path_takes_a_controllers_reading() -> None:
    body = TelemetryReading.model_json_schema()["examples"][0] | {"tilt_deg": 1.5}
    values = single_reading_values(LAMP, json.dumps(body).encode(), NOW + timedelta(days=365))
    assert values is not None
    assert dict(zip(READING_COLUMNS, values)) == {
        "lamp_id": LAMP,
        "ts": datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
        "seq": 1842,
        "voltage_v": 231.4,
        "current_a": 0.24,
        "power_w": 52.1,
        "power_factor": 0.96,
        "energy_wh": 1532200.0,
        "dim_level": 100.0,
        "driver_temp_c": 38.5,
        "ambient_lux": None,
        "burning_hours": 12034.5,
        "switch_cycles": 2871,
        "rssi_dbm": -81.0,
        "extra": {"tilt_deg": 1.5},
    }
    assert type(values[READING_COLUMNS.index("dim_level")]) is float  # stored as the contract's float


def test_the_fast_path_validates_with_the_contracts_own_fields() -> None:
    # The typed dict checks what the model checks, field for field (`ts`: a string, shaped here).
    schema = fast_decode._READING_DICT.json_schema()
    model = TelemetryReading.model_json_schema()
    assert list(schema["properties"]) == list(model["properties"])
    for name in MEASUREMENT_FIELDS + ("seq",):
        assert schema["properties"][name]["anyOf"] == model["properties"][name]["anyOf"], name
    assert schema["required"] == ["ts"]
    assert schema["additionalProperties"] is True


def test_topic_cache_answers_like_topics_and_stays_bounded() -> None:
    cache = TopicCache(TOPICS, max_entries=3)
    names = [topic(TopicKind.TELEMETRY), topic(TopicKind.EVENT, "L-2"), "elsewhere/entirely", topic(TopicKind.PLAN)]
    for name in names * 3:
        assert cache.parse(name) == TOPICS.parse(name)
    assert len(cache._parsed) <= 3
