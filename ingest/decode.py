"""Turn one received MQTT message into what to store, or into dead letters. Pure.

Every message ends up somewhere: rows to store, or a dead letter naming the
reason. A batch (JSON array) of readings is split: good readings are stored,
each bad one becomes a dead letter of its own. A value the contract accepts but
its column cannot hold (`core.columns`) is refused here too, so that the database
never fails a batch on it: a measurement out of a `real` column's range and, in
what is stored as JSON (an event's detail, a reading's unknown fields), a number
that is not finite (both `out_of_range`); the NUL character in any text kept, such
as those or an ack's reason (`invalid_value`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from core.columns import NOT_FINITE_PROBLEM, NUL, REAL_RANGE_TEXT, dotted, fits_real, json_problems, shown
from core.contract import (
    MAX_PAYLOAD_BYTES,
    MEASUREMENT_FIELDS,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    LampEvent,
    ParsedTopic,
    PlanAck,
    TelemetryReading,
    TopicKind,
    Topics,
    is_too_far_in_future,
)

# A reading as the readings table stores it, in the order of its columns: `extra`
# holds the unknown fields (a dict), or None when there are none.
READING_COLUMNS = ("lamp_id", "ts", "seq", *MEASUREMENT_FIELDS, "extra")
_READING_FIELDS = READING_COLUMNS[1:-1]
# The measurements the readings table keeps in `real` (single precision) columns.
REAL_FIELDS = (
    "voltage_v",
    "current_a",
    "power_w",
    "power_factor",
    "dim_level",
    "driver_temp_c",
    "ambient_lux",
    "rssi_dbm",
)


class DeadLetterReason(StrEnum):
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_TOPIC = "unknown_topic"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    OUT_OF_RANGE = "out_of_range"
    INVALID_VALUE = "invalid_value"
    FUTURE_TIMESTAMP = "future_timestamp"
    UNKNOWN_LAMP = "unknown_lamp"
    STORAGE_REJECTED = "storage_rejected"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    lamp_id: str | None
    reason: DeadLetterReason
    detail: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """One reading to store. `values` is its row (READING_COLUMNS); `reading` is the
    validated model, or None when the fast path (ingest/fast_decode.py) produced the row."""

    lamp_id: str
    reading: TelemetryReading | None
    values: tuple


def reading_values(lamp_id: str, reading: TelemetryReading) -> tuple:
    """The readings-table row of a validated reading."""
    extra = reading.__pydantic_extra__
    fields = reading.__dict__
    return (lamp_id, *[fields[name] for name in _READING_FIELDS], dict(extra) if extra else None)


@dataclass(frozen=True, slots=True)
class EventRow:
    lamp_id: str
    event: LampEvent


@dataclass(frozen=True, slots=True)
class StatusRow:
    lamp_id: str
    online: bool
    received_at: datetime


@dataclass(frozen=True, slots=True)
class AckRow:
    lamp_id: str
    ack: PlanAck


@dataclass(slots=True)
class Decoded:
    """What one message yields. `lamp_id` is set when the topic named a lamp."""

    lamp_id: str | None = None
    readings: list[ReadingRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    acks: list[AckRow] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def has_rows(self) -> bool:
        return bool(self.readings or self.events or self.statuses or self.acks)


_OUT_OF_RANGE_TYPES = frozenset(
    {
        "less_than",
        "less_than_equal",
        "greater_than",
        "greater_than_equal",
        "finite_number",
        "too_long",
        "too_short",
        "string_too_long",
        "string_too_short",
    }
)


def classify_validation_error(error: ValidationError) -> tuple[DeadLetterReason, str]:
    """Map pydantic's first error to a reason code, with every error as detail."""
    errors = error.errors(include_url=False)
    first = errors[0]["type"] if errors else ""
    if first == "missing":
        reason = DeadLetterReason.MISSING_FIELD
    elif first in _OUT_OF_RANGE_TYPES:
        reason = DeadLetterReason.OUT_OF_RANGE
    elif first.endswith("_type"):
        reason = DeadLetterReason.WRONG_TYPE
    elif first == "json_invalid":
        reason = DeadLetterReason.INVALID_JSON
    else:
        reason = DeadLetterReason.INVALID_VALUE
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg']}")
    return reason, "; ".join(parts)


def _json_problem(value: Any, prefix: tuple[str | int, ...]) -> tuple[DeadLetterReason, str] | None:
    """The first string or number of a value stored as JSON or text that its column cannot hold."""
    for path, problem in json_problems(value):
        reason = DeadLetterReason.OUT_OF_RANGE if problem == NOT_FINITE_PROBLEM else DeadLetterReason.INVALID_VALUE
        return reason, f"{dotted((*prefix, *path))}: {problem}"
    return None


def reading_column_problem(reading: TelemetryReading) -> tuple[DeadLetterReason, str] | None:
    """A value of a valid reading that its column cannot hold, with its reason."""
    fields = reading.__dict__
    for name in REAL_FIELDS:
        value = fields[name]
        if value is not None and not fits_real(value):
            return DeadLetterReason.OUT_OF_RANGE, f"{name}: Input should be {REAL_RANGE_TEXT}"
    extra = reading.__pydantic_extra__
    return _json_problem(extra, ()) if extra else None


class TopicCache:
    """`Topics.parse` remembered per topic name: a fleet publishes on the same few
    topics per lamp over and over. Bounded: emptied when it reaches `max_entries`."""

    def __init__(self, topics: Topics, max_entries: int = 1_000_000) -> None:
        self.topics = topics
        self._max_entries = max_entries
        self._parsed: dict[str, ParsedTopic | None] = {}

    def parse(self, topic: str) -> ParsedTopic | None:
        try:
            return self._parsed[topic]
        except KeyError:
            pass
        if len(self._parsed) >= self._max_entries:
            self._parsed.clear()
        parsed = self._parsed[topic] = self.topics.parse(topic)
        return parsed


def decode_message(topic: str, payload: bytes, topics: Topics | TopicCache, now: datetime) -> Decoded:
    """Decode one message received at `now` (UTC)."""
    parsed = topics.parse(topic)
    lamp_id = parsed.lamp_id if parsed else None
    out = Decoded(lamp_id=lamp_id)
    # Only a topic that is not ours can hold NUL (MQTT forbids it; a broker may not check).
    stored_topic = shown(topic) if parsed is None and NUL in topic else topic

    def reject(reason: DeadLetterReason, detail: str, body: bytes = payload) -> Decoded:
        out.dead_letters.append(DeadLetter(stored_topic, lamp_id, reason, detail, body))
        return out

    if len(payload) > MAX_PAYLOAD_BYTES:
        return reject(
            DeadLetterReason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes, more than the {MAX_PAYLOAD_BYTES} allowed"
        )
    if parsed is None or parsed.kind is TopicKind.PLAN:
        # The service publishes plans; it never stores what arrives on them.
        return reject(DeadLetterReason.UNKNOWN_TOPIC, "not a topic the service accepts")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return reject(DeadLetterReason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}")

    if parsed.kind is TopicKind.STATUS:
        value = text.strip()
        if value not in (STATUS_ONLINE, STATUS_OFFLINE):
            return reject(DeadLetterReason.INVALID_VALUE, f"status must be 'online' or 'offline', got {value[:40]!r}")
        out.statuses.append(StatusRow(parsed.lamp_id, value == STATUS_ONLINE, now))
        return out

    if parsed.kind is TopicKind.TELEMETRY:
        _decode_telemetry(parsed.lamp_id, topic, payload, now, out)
        return out

    model = LampEvent if parsed.kind is TopicKind.EVENT else PlanAck
    try:
        item = model.model_validate_json(payload)
    except ValidationError as exc:
        return reject(*classify_validation_error(exc))
    if isinstance(item, LampEvent):
        problem = _json_problem(item.detail, ("detail",))
    else:
        problem = _json_problem(item.reason, ("reason",))
    if problem is not None:
        return reject(*problem)
    if isinstance(item, LampEvent):
        if is_too_far_in_future(item.ts, now):
            return reject(DeadLetterReason.FUTURE_TIMESTAMP, f"ts {item.ts.isoformat()} is more than 5 minutes ahead")
        out.events.append(EventRow(parsed.lamp_id, item))
    else:
        out.acks.append(AckRow(parsed.lamp_id, item))
    return out


def _decode_telemetry(lamp_id: str, topic: str, payload: bytes, now: datetime, out: Decoded) -> None:
    stripped = payload.lstrip()
    if not stripped.startswith(b"["):
        try:
            reading = TelemetryReading.model_validate_json(payload)
        except ValidationError as exc:
            out.dead_letters.append(DeadLetter(topic, lamp_id, *classify_validation_error(exc), payload))
            return
        _accept(lamp_id, topic, reading, payload, now, out)
        return

    # A batch: validate element by element so one bad reading does not sink the rest.
    try:
        elements: Any = json.loads(payload)
    except ValueError as exc:
        out.dead_letters.append(DeadLetter(topic, lamp_id, DeadLetterReason.INVALID_JSON, str(exc), payload))
        return
    except RecursionError:  # Python's parser recurses once per level of nesting
        detail = "nested too deeply"
        out.dead_letters.append(DeadLetter(topic, lamp_id, DeadLetterReason.INVALID_JSON, detail, payload))
        return
    if not elements:
        out.dead_letters.append(
            DeadLetter(topic, lamp_id, DeadLetterReason.MISSING_FIELD, "empty batch: no readings", payload)
        )
        return
    total = len(elements)
    for index, element in enumerate(elements):
        body = json.dumps(element, separators=(",", ":")).encode()
        where = f"element {index + 1} of {total}"
        if not isinstance(element, dict):
            out.dead_letters.append(
                DeadLetter(topic, lamp_id, DeadLetterReason.WRONG_TYPE, f"{where}: not a JSON object", body)
            )
            continue
        try:
            reading = TelemetryReading.model_validate_json(body)
        except ValidationError as exc:
            reason, detail = classify_validation_error(exc)
            out.dead_letters.append(DeadLetter(topic, lamp_id, reason, f"{where}: {detail}", body))
            continue
        _accept(lamp_id, topic, reading, body, now, out, where=f"{where}: ")


def _accept(
    lamp_id: str,
    topic: str,
    reading: TelemetryReading,
    body: bytes,
    now: datetime,
    out: Decoded,
    where: str = "",
) -> None:
    if is_too_far_in_future(reading.ts, now):
        out.dead_letters.append(
            DeadLetter(
                topic,
                lamp_id,
                DeadLetterReason.FUTURE_TIMESTAMP,
                f"{where}ts {reading.ts.isoformat()} is more than 5 minutes ahead of {now.isoformat()}",
                body,
            )
        )
        return
    problem = reading_column_problem(reading)
    if problem is not None:
        reason, detail = problem
        out.dead_letters.append(DeadLetter(topic, lamp_id, reason, where + detail, body))
        return
    out.readings.append(ReadingRow(lamp_id, reading, reading_values(lamp_id, reading)))
