"""The wire contract: topics and payload models, as a controller's bytes meet them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from core.contract import (
    DEFAULT_TOPIC_PREFIX,
    MAX_FUTURE_SKEW,
    MEASUREMENT_FIELDS,
    EventType,
    LampEvent,
    ParsedTopic,
    Plan,
    PlanAck,
    PlanPoint,
    TelemetryReading,
    TopicKind,
    Topics,
    is_too_far_in_future,
    telemetry_batch_adapter,
    to_json_bytes,
)

TS = "2026-11-25T18:00:00+01:00"
UTC = UTC


def reading_json(**fields: Any) -> str:
    body = {"ts": TS, "power_w": 52.1} | fields
    return json.dumps({k: v for k, v in body.items() if v is not ...})


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e["type"] for e in exc.value.errors()]


# --- topics ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(TopicKind))
@pytest.mark.parametrize("lamp_id", ["L-0001", "a", "rue_de.la-gare.12", "x" * 64])
def test_topic_round_trip(kind: TopicKind, lamp_id: str) -> None:
    topics = Topics()
    topic = topics.lamp(lamp_id, kind)
    assert topic == f"{DEFAULT_TOPIC_PREFIX}/lamps/{lamp_id}/{kind.value}"
    assert topics.parse(topic) == ParsedTopic(lamp_id, kind)


def test_named_topic_builders() -> None:
    topics = Topics("town/v1")
    assert topics.telemetry("L1") == "town/v1/lamps/L1/telemetry"
    assert topics.event("L1") == "town/v1/lamps/L1/event"
    assert topics.status("L1") == "town/v1/lamps/L1/status"
    assert topics.plan("L1") == "town/v1/lamps/L1/plan"
    assert topics.plan_ack("L1") == "town/v1/lamps/L1/plan/ack"


@pytest.mark.parametrize(
    "lamp_id",
    ["", "x" * 65, "L 1", "L+1", "L#1", "lampe-é", "L1\x00", "$SYS", "L1\n", "L1\r\n"],
)
def test_parse_rejects_invalid_lamp_ids(lamp_id: str) -> None:
    assert Topics().parse(f"{DEFAULT_TOPIC_PREFIX}/lamps/{lamp_id}/telemetry") is None


@pytest.mark.parametrize(
    "topic",
    [
        "streetlight/v1/lamps/L1/unknown",
        "streetlight/v1/lamps/L1/Telemetry",
        "streetlight/v1/lamps/L1/telemetry/extra",
        "streetlight/v1/lamps/L1/plan/",
        "streetlight/v1/lamps/L1/ack",
        "streetlight/v1/lamps/L1/",
        "streetlight/v1/lamps/L1",
        "streetlight/v1/lamps/",
        "streetlight/v1/lamps/+/telemetry",
    ],
)
def test_parse_rejects_unknown_kinds_and_shapes(topic: str) -> None:
    assert Topics().parse(topic) is None


@pytest.mark.parametrize(
    "topic",
    [
        "streetlight/v2/lamps/L1/telemetry",
        "streetlight/v10/lamps/L1/telemetry",
        "other/v1/lamps/L1/telemetry",
        "/streetlight/v1/lamps/L1/telemetry",
        "streetlight/v1/lamp/L1/telemetry",
        "$share/g/streetlight/v1/lamps/L1/telemetry",
        "",
    ],
)
def test_parse_rejects_other_prefixes(topic: str) -> None:
    assert Topics().parse(topic) is None


@pytest.mark.parametrize("prefix", ["", "/streetlight", "streetlight/", "street/+/v1", "street/#", "a\x00b"])
def test_invalid_prefix_rejected(prefix: str) -> None:
    with pytest.raises(ValueError):
        Topics(prefix)


def test_subscription_filters() -> None:
    topics = Topics()
    assert topics.subscription(TopicKind.TELEMETRY) == "streetlight/v1/lamps/+/telemetry"
    assert topics.subscription(TopicKind.PLAN_ACK) == "streetlight/v1/lamps/+/plan/ack"
    assert topics.subscription(TopicKind.TELEMETRY, "ingest") == "$share/ingest/streetlight/v1/lamps/+/telemetry"
    assert topics.subscription(TopicKind.STATUS, "ingest") == "$share/ingest/streetlight/v1/lamps/+/status"
    # No group (or an empty one) means a plain subscription.
    assert topics.subscription(TopicKind.TELEMETRY, "") == "streetlight/v1/lamps/+/telemetry"


# --- telemetry readings ---------------------------------------------------------


def test_full_reading_accepted() -> None:
    example = TelemetryReading.model_config["json_schema_extra"]["examples"][0]
    reading = TelemetryReading.model_validate_json(json.dumps(example))
    assert reading.ts == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert reading.ts.utcoffset() == timedelta(hours=1)
    assert reading.power_w == 52.1 and reading.seq == 1842 and reading.switch_cycles == 2871
    assert reading.extra == {}


@pytest.mark.parametrize("field", MEASUREMENT_FIELDS)
def test_any_single_measurement_is_enough(field: str) -> None:
    value = 2 if field in ("switch_cycles",) else (-80.0 if field == "rssi_dbm" else 1.0)
    reading = TelemetryReading.model_validate_json(json.dumps({"ts": TS, field: value}))
    assert getattr(reading, field) == value


@pytest.mark.parametrize("ts", ["2026-11-25T17:00:00Z", "2026-11-25T17:00:00.250+00:00", "2026-11-25 18:00:00+01:00"])
def test_timestamp_forms_accepted(ts: str) -> None:
    reading = TelemetryReading.model_validate_json(reading_json(ts=ts))
    assert reading.ts.tzinfo is not None


def test_integers_accepted_for_float_fields() -> None:
    reading = TelemetryReading.model_validate_json(reading_json(power_w=52, dim_level=100))
    assert reading.power_w == 52.0 and reading.dim_level == 100.0


def test_extra_fields_kept() -> None:
    reading = TelemetryReading.model_validate_json(reading_json(tilt_deg=1.5, firmware="4.2.1", flags={"door": True}))
    assert reading.extra == {"tilt_deg": 1.5, "firmware": "4.2.1", "flags": {"door": True}}
    # A copy: changing it does not change the reading.
    reading.extra["tilt_deg"] = 99
    assert reading.extra["tilt_deg"] == 1.5


def test_explicit_nulls_are_absent_values() -> None:
    reading = TelemetryReading.model_validate_json(reading_json(voltage_v=None, seq=None))
    assert reading.voltage_v is None and reading.seq is None


def test_reading_is_frozen() -> None:
    reading = TelemetryReading.model_validate_json(reading_json())
    with pytest.raises(ValidationError):
        reading.power_w = 1.0  # type: ignore[misc]


def test_serialized_reading_round_trips() -> None:
    reading = TelemetryReading.model_validate_json(reading_json(tilt_deg=2))
    again = TelemetryReading.model_validate_json(to_json_bytes(reading))
    assert again == reading
    assert b"null" not in to_json_bytes(reading)


@pytest.mark.parametrize(
    ("payload", "expected_type"),
    [
        pytest.param(json.dumps({"power_w": 52.1}), "missing", id="missing ts"),
        pytest.param(reading_json(ts="2026-11-25T18:00:00"), "value_error", id="ts without offset"),
        pytest.param(reading_json(ts="2026-11-25T18:00:00.000"), "timezone_aware", id="ts with fraction, no offset"),
        pytest.param(reading_json(ts="2026-11-25"), "value_error", id="date only"),
        pytest.param(reading_json(ts=1764090000), "value_error", id="ts as seconds"),
        pytest.param(reading_json(ts=1764090000000), "value_error", id="ts as milliseconds"),
        pytest.param(reading_json(ts="yesterday evening"), "value_error", id="ts prose"),
        pytest.param(reading_json(power_w="52.1"), "float_type", id="string for a number"),
        pytest.param(reading_json(seq="7"), "int_type", id="string for an integer"),
        pytest.param(reading_json(power_w=True), "float_type", id="boolean for a number"),
        pytest.param(reading_json(switch_cycles=False), "int_type", id="boolean for an integer"),
        pytest.param(reading_json(switch_cycles=12.5), "int_type", id="fraction for an integer"),
        pytest.param(reading_json(power_factor=1.2), "less_than_equal", id="power factor 1.2"),
        pytest.param(reading_json(power_factor=-0.1), "greater_than_equal", id="negative power factor"),
        pytest.param(reading_json(power_w=-1), "greater_than_equal", id="negative power"),
        pytest.param(reading_json(dim_level=101), "less_than_equal", id="dim level 101"),
        pytest.param(reading_json(dim_level=-1), "greater_than_equal", id="negative dim level"),
        pytest.param(reading_json(voltage_v=1001), "less_than_equal", id="voltage 1001"),
        pytest.param(reading_json(rssi_dbm=3), "less_than_equal", id="positive rssi"),
        pytest.param(reading_json(seq=-1), "greater_than_equal", id="negative seq"),
        pytest.param(reading_json(seq=2**63), "less_than_equal", id="seq beyond bigint"),
        pytest.param(json.dumps({"ts": TS}), "value_error", id="no measurement"),
        pytest.param(json.dumps({"ts": TS, "seq": 5}), "value_error", id="seq is not a measurement"),
        pytest.param(json.dumps({"ts": TS, "power_w": None}), "value_error", id="only nulls"),
        pytest.param(json.dumps({"ts": TS, "tilt_deg": 1}), "value_error", id="only unknown fields"),
    ],
)
def test_bad_readings_rejected(payload: str, expected_type: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TelemetryReading.model_validate_json(payload)
    assert error_types(exc)[0] == expected_type


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_rejected(literal: str) -> None:
    payload = f'{{"ts": "{TS}", "power_w": {literal}}}'
    with pytest.raises(ValidationError) as exc:
        TelemetryReading.model_validate_json(payload)
    assert error_types(exc) == ["finite_number"]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_floats_rejected_from_python(value: float) -> None:
    with pytest.raises(ValidationError):
        TelemetryReading.model_validate({"ts": TS, "power_w": value})


@pytest.mark.parametrize("payload", ["[]", '"reading"', "42", "null", "true"])
def test_non_object_reading_rejected(payload: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TelemetryReading.model_validate_json(payload)
    assert error_types(exc) == ["model_type"]


def test_batch_adapter() -> None:
    batch = telemetry_batch_adapter.validate_json(f"[{reading_json()}, {reading_json(ts='2026-11-25T18:15:00+01:00')}]")
    assert [r.ts.minute for r in batch] == [0, 15]
    with pytest.raises(ValidationError):
        telemetry_batch_adapter.validate_json(f"[{reading_json()}, {reading_json(power_factor=2)}]")


# --- events ----------------------------------------------------------------------


@pytest.mark.parametrize("event_type", [e.value for e in EventType])
def test_known_event_types_accepted(event_type: str) -> None:
    event = LampEvent.model_validate_json(json.dumps({"ts": TS, "type": event_type}))
    assert event.type == event_type and event.detail is None


@pytest.mark.parametrize("event_type", ["flicker_after_rain", "door_open", "x", "a" * 64, "relay2_stuck"])
def test_unknown_well_formed_event_type_accepted(event_type: str) -> None:
    assert LampEvent.model_validate_json(json.dumps({"ts": TS, "type": event_type})).type == event_type


@pytest.mark.parametrize(
    "event_type", ["", "Lamp_failure", "lamp failure", "lamp-failure", "1st_failure", "_x", "a" * 65, "lampé"]
)
def test_malformed_event_type_rejected(event_type: str) -> None:
    with pytest.raises(ValidationError) as exc:
        LampEvent.model_validate_json(json.dumps({"ts": TS, "type": event_type}))
    assert error_types(exc) == ["string_pattern_mismatch"]


@pytest.mark.parametrize("detail", ["no current at 100 %", {"ambient_lux": 8200, "power_w": 51.0}, None])
def test_event_detail_text_or_object(detail: Any) -> None:
    event = LampEvent.model_validate_json(json.dumps({"ts": TS, "type": "day_burning", "detail": detail}))
    assert event.detail == detail


@pytest.mark.parametrize(
    ("body", "expected_type"),
    [
        ({"ts": TS, "type": "lamp_failure", "detail": ["a", "b"]}, "string_type"),
        ({"ts": TS, "type": "lamp_failure", "detail": 5}, "string_type"),
        ({"type": "lamp_failure"}, "missing"),
        ({"ts": TS}, "missing"),
        ({"ts": "2026-11-25T18:00:00", "type": "lamp_failure"}, "value_error"),
        ({"ts": TS, "type": 3}, "string_type"),
    ],
)
def test_bad_events_rejected(body: dict[str, Any], expected_type: str) -> None:
    with pytest.raises(ValidationError) as exc:
        LampEvent.model_validate_json(json.dumps(body))
    assert error_types(exc)[0] == expected_type


def test_event_fields_beyond_the_contract_are_dropped() -> None:
    # Unlike a reading, an event keeps nothing outside ts, type and detail (docs/mqtt.md says so).
    event = LampEvent.model_validate_json(json.dumps({"ts": TS, "type": "repaired", "by": "crew 3"}))
    assert "by" not in event.model_dump()


# --- plans -----------------------------------------------------------------------


def plan_json(points: list[tuple[str, Any]], version: int = 1, generated_at: str = "2026-11-25T12:00:00Z") -> str:
    return json.dumps(
        {"version": version, "generated_at": generated_at, "points": [{"at": at, "level": lv} for at, lv in points]}
    )


NIGHT = [
    ("2026-11-25T16:12:00Z", 100),
    ("2026-11-25T21:00:00Z", 60),
    ("2026-11-26T05:00:00Z", 100),
    ("2026-11-26T07:31:00Z", 0),
]


def test_plan_accepted() -> None:
    plan = Plan.model_validate_json(plan_json(NIGHT, version=7))
    assert plan.version == 7
    assert [p.level for p in plan.points] == [100, 60, 100, 0]
    assert plan.covers_until() == datetime(2026, 11, 26, 7, 31, tzinfo=UTC)


def test_plan_model_example_accepted() -> None:
    Plan.model_validate_json(json.dumps(Plan.model_config["json_schema_extra"]["examples"][0]))


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([("2026-11-25T21:00:00Z", 60), ("2026-11-25T16:12:00Z", 100)], id="decreasing"),
        pytest.param([("2026-11-25T21:00:00Z", 60), ("2026-11-25T21:00:00Z", 30)], id="equal times"),
        pytest.param(NIGHT[:2] + [("2026-11-25T20:59:59Z", 30)] + NIGHT[2:], id="one step back"),
    ],
)
def test_plan_points_must_strictly_increase(points: list[tuple[str, int]]) -> None:
    with pytest.raises(ValidationError, match="strictly increasing"):
        Plan.model_validate_json(plan_json(points))


@pytest.mark.parametrize("at", ["2026-11-25T16:12:00Z", "2026-11-25T16:12:00+00:00", "2026-11-25T16:12:00z"])
def test_plan_utc_forms_accepted(at: str) -> None:
    assert PlanPoint.model_validate_json(json.dumps({"at": at, "level": 50})).at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("at", ["2026-11-25T17:12:00+01:00", "2026-11-25T11:12:00-05:00", "2026-11-25T16:12:00"])
def test_plan_times_must_be_utc(at: str) -> None:
    with pytest.raises(ValidationError):
        PlanPoint.model_validate_json(json.dumps({"at": at, "level": 50}))


@pytest.mark.parametrize("level", [0, 1, 50, 100])
def test_plan_levels_in_range_accepted(level: int) -> None:
    assert PlanPoint.model_validate_json(json.dumps({"at": "2026-11-25T16:12:00Z", "level": level})).level == level


@pytest.mark.parametrize("level", [-1, 101, 50.0, 49.5, "50", True, None])
def test_plan_levels_out_of_range_or_wrong_type_rejected(level: Any) -> None:
    with pytest.raises(ValidationError):
        PlanPoint.model_validate_json(json.dumps({"at": "2026-11-25T16:12:00Z", "level": level}))


@pytest.mark.parametrize(
    "body",
    [
        {"version": 1, "generated_at": "2026-11-25T12:00:00Z", "points": []},
        {"version": 0, "generated_at": "2026-11-25T12:00:00Z", "points": [{"at": "2026-11-25T16:12:00Z", "level": 1}]},
        {"version": 1, "generated_at": "2026-11-25T12:00:00", "points": [{"at": "2026-11-25T16:12:00Z", "level": 1}]},
        {"version": 1, "points": [{"at": "2026-11-25T16:12:00Z", "level": 1}]},
    ],
    ids=["no points", "version 0", "naive generated_at", "no generated_at"],
)
def test_bad_plans_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Plan.model_validate_json(json.dumps(body))


def test_plan_has_at_most_2000_points() -> None:
    start = datetime(2026, 11, 25, tzinfo=UTC)
    points = [((start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), i % 101) for i in range(2001)]
    with pytest.raises(ValidationError):
        Plan.model_validate_json(plan_json(points))
    assert len(Plan.model_validate_json(plan_json(points[:2000])).points) == 2000


def test_level_at_before_first_point_is_none() -> None:
    plan = Plan.model_validate_json(plan_json(NIGHT))
    assert plan.level_at(datetime(2026, 11, 25, 16, 11, 59, tzinfo=UTC)) is None
    assert plan.level_at(datetime(2026, 11, 24, tzinfo=UTC)) is None


def test_level_at_holds_between_points() -> None:
    plan = Plan.model_validate_json(plan_json(NIGHT))
    at = lambda *args: plan.level_at(datetime(*args, tzinfo=UTC))  # noqa: E731
    assert at(2026, 11, 25, 16, 12) == 100  # from the point's own time on
    assert at(2026, 11, 25, 20, 59, 59) == 100
    assert at(2026, 11, 25, 21, 0) == 60
    assert at(2026, 11, 26, 0, 0) == 60
    assert at(2026, 11, 26, 4, 59) == 60
    assert at(2026, 11, 26, 5, 0) == 100
    assert at(2026, 11, 26, 7, 31) == 0


def test_level_at_compares_instants_not_wall_clocks() -> None:
    plan = Plan.model_validate_json(plan_json(NIGHT))
    paris = timezone(timedelta(hours=1))
    # 22:00 in Paris is 21:00 UTC: the 60 % step has begun.
    assert plan.level_at(datetime(2026, 11, 25, 22, 0, tzinfo=paris)) == 60
    assert plan.level_at(datetime(2026, 11, 25, 21, 59, tzinfo=paris)) == 100


# --- acknowledgements -----------------------------------------------------------


@pytest.mark.parametrize("status", ["applied", "rejected"])
def test_ack_status_values(status: str) -> None:
    ack = PlanAck.model_validate_json(json.dumps({"version": 7, "status": status, "reason": "too many points"}))
    assert ack.status == status and ack.version == 7


def test_ack_reason_optional() -> None:
    assert PlanAck.model_validate_json('{"version": 7, "status": "applied"}').reason is None


@pytest.mark.parametrize("status", ["ok", "Applied", "APPLIED", "accepted", "", None, 1])
def test_ack_other_status_rejected(status: Any) -> None:
    with pytest.raises(ValidationError):
        PlanAck.model_validate_json(json.dumps({"version": 7, "status": status}))


@pytest.mark.parametrize(
    "body",
    [
        {"status": "applied"},
        {"version": "7", "status": "applied"},
        {"version": -1, "status": "applied"},
        {"version": 7.0, "status": "applied"},
        {"version": 7, "status": "rejected", "reason": "x" * 1001},
    ],
    ids=["no version", "version as string", "negative version", "version as float", "reason too long"],
)
def test_bad_acks_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PlanAck.model_validate_json(json.dumps(body))


# --- clock skew ------------------------------------------------------------------


def test_future_skew_limit() -> None:
    now = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert not is_too_far_in_future(now + timedelta(minutes=4), now)
    assert not is_too_far_in_future(now + MAX_FUTURE_SKEW, now)
    assert is_too_far_in_future(now + MAX_FUTURE_SKEW + timedelta(seconds=1), now)
    assert not is_too_far_in_future(now - timedelta(days=30), now)
