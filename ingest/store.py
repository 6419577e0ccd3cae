"""Write decoded messages to the database: one transaction per batch, COPY for bulk rows.

Idempotent: readings are keyed by (lamp_id, ts), events by (lamp_id, ts, type),
acks by (lamp_id, version, status); a redelivered message changes nothing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from ingest.decode import READING_COLUMNS, DeadLetter, DeadLetterReason, Decoded

_COLS = ", ".join(READING_COLUMNS)
# The readings table's column types, for binary COPY (a test compares them with the table).
READING_COPY_TYPES = (
    "text", "timestamptz", "int8",
    # voltage_v, current_a, power_w, power_factor, energy_wh, dim_level,
    "float4", "float4", "float4", "float4", "float8", "float4",
    # driver_temp_c, ambient_lux, burning_hours, switch_cycles, rssi_dbm
    "float4", "float4", "float8", "int8", "float4",
    "jsonb",
)  # fmt: skip

_STAGING_DDL = (
    f"""CREATE TEMP TABLE IF NOT EXISTS readings_in AS
        SELECT {_COLS} FROM readings WITH NO DATA""",
    "CREATE TEMP TABLE IF NOT EXISTS events_in (lamp_id text, ts timestamptz, type text, detail jsonb)",
)
# How long a lamp id found missing from the inventory is believed missing before
# the inventory is asked again (so that a freshly commissioned lamp is picked up).
UNKNOWN_RECHECK_S = 5.0


@dataclass(slots=True)
class Message:
    """One received message on its way to the database."""

    topic: str
    payload: bytes
    received_at: datetime
    decoded: Decoded
    mid: int = 0
    qos: int = 0
    generation: int = 0


@dataclass(slots=True)
class WriteResult:
    readings_offered: int = 0
    readings_inserted: int = 0
    events_inserted: int = 0
    statuses: int = 0
    acks: int = 0
    dead_letters: Counter = field(default_factory=Counter)

    @property
    def readings_duplicate(self) -> int:
        return self.readings_offered - self.readings_inserted

    def add(self, other: WriteResult) -> None:
        self.readings_offered += other.readings_offered
        self.readings_inserted += other.readings_inserted
        self.events_inserted += other.events_inserted
        self.statuses += other.statuses
        self.acks += other.acks
        self.dead_letters.update(other.dead_letters)


class LampDirectory:
    """Which lamp ids are in the inventory, cached; asks the database about new ids."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._missing_since: dict[str, float] = {}

    def resolve(self, conn: psycopg.Connection, lamp_ids: set[str]) -> set[str]:
        """Return the subset of `lamp_ids` that is NOT in the inventory."""
        now = time.monotonic()
        to_ask = [
            lid
            for lid in lamp_ids
            if lid not in self._known and now - self._missing_since.get(lid, -1e9) > UNKNOWN_RECHECK_S
        ]
        if to_ask:
            found = {row[0] for row in conn.execute("SELECT lamp_id FROM lamps WHERE lamp_id = ANY(%s)", (to_ask,))}
            self._known |= found
            for lid in to_ask:
                if lid in found:
                    self._missing_since.pop(lid, None)
                else:
                    self._missing_since[lid] = now
        return {lid for lid in lamp_ids if lid not in self._known}

    def forget(self) -> None:
        self._missing_since.clear()


# A controller's status (lamp id, online, when): its time moves only when the state changes.
STATUS_UPSERT = """INSERT INTO lamp_status (lamp_id, online, changed_at) VALUES (%s, %s, %s)
                   ON CONFLICT (lamp_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at
                   WHERE lamp_status.online IS DISTINCT FROM excluded.online"""


@dataclass(slots=True)
class _BatchRows:
    """A batch's messages sorted by destination table."""

    readings: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    latest_status: dict[str, tuple[bool, datetime]] = field(default_factory=dict)
    acks: list[tuple] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # lamp id -> (messages, last topic, first received)
    unknown_seen: dict[str, tuple[int, str, datetime]] = field(default_factory=dict)


def _sort_batch(messages: list[Message], unknown: set[str]) -> _BatchRows:
    rows = _BatchRows()
    for message in messages:
        decoded = message.decoded
        lamp_id = decoded.lamp_id
        too_large = any(d.reason is DeadLetterReason.PAYLOAD_TOO_LARGE for d in decoded.dead_letters)
        if lamp_id in unknown and not too_large:
            assert lamp_id is not None
            count, _, first = rows.unknown_seen.get(lamp_id, (0, "", message.received_at))
            rows.unknown_seen[lamp_id] = (count + 1, message.topic, first)
            rows.dead.append(
                DeadLetter(
                    message.topic,
                    lamp_id,
                    DeadLetterReason.UNKNOWN_LAMP,
                    f"lamp {lamp_id} is not in the inventory; listed for commissioning",
                    message.payload,
                )
            )
            continue
        if decoded.dead_letters:
            rows.dead.extend(decoded.dead_letters)
        for reading in decoded.readings:
            rows.readings.append(reading.values)
        for event_row in decoded.events:
            e = event_row.event
            detail = json.dumps(e.detail) if e.detail is not None else None
            rows.events.append((event_row.lamp_id, e.ts, e.type, detail))
        for status in decoded.statuses:
            rows.latest_status[status.lamp_id] = (status.online, status.received_at)
        for ack_row in decoded.acks:
            rows.acks.append((ack_row.lamp_id, ack_row.ack.version, ack_row.ack.status, ack_row.ack.reason))
    return rows


def write_batch(conn: psycopg.Connection, messages: list[Message], directory: LampDirectory) -> WriteResult:
    """Store a batch in one transaction and commit. Raises psycopg errors unchanged."""
    result = WriteResult()
    lamp_ids = {m.decoded.lamp_id for m in messages if m.decoded.lamp_id}
    unknown = directory.resolve(conn, lamp_ids) if lamp_ids else set()
    rows = _sort_batch(messages, unknown)

    with conn.transaction():
        for ddl in _STAGING_DDL:
            conn.execute(ddl)
        if rows.readings:
            result.readings_offered = len(rows.readings)
            result.readings_inserted = _insert_readings(conn, rows.readings)
        if rows.events:
            result.events_inserted = _insert_events(conn, rows.events)
        if rows.latest_status:
            conn.cursor().executemany(
                STATUS_UPSERT, [(lid, online, at) for lid, (online, at) in rows.latest_status.items()]
            )
            result.statuses = len(rows.latest_status)
        if rows.acks:
            _insert_acks(conn, rows.acks)
            result.acks = len(rows.acks)
        if rows.unknown_seen:
            _record_unknown_lamps(conn, rows.unknown_seen)
        if rows.dead:
            write_dead_letters(conn, rows.dead)
            result.dead_letters.update(d.reason.value for d in rows.dead)
    return result


def _insert_readings(conn: psycopg.Connection, reading_rows: list[tuple]) -> int:
    """COPY the rows into the staging table, then keep the new ones; returns how many were new."""
    conn.execute("TRUNCATE readings_in")
    with conn.cursor().copy(f"COPY readings_in ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(READING_COPY_TYPES)
        write_row = copy.write_row
        for values in reading_rows:
            write_row(values)
    cur = conn.execute(
        f"INSERT INTO readings ({_COLS}, received_at) SELECT {_COLS}, clock_timestamp() FROM readings_in"
        " ON CONFLICT (lamp_id, ts) DO NOTHING"
    )
    return cur.rowcount


def _insert_events(conn: psycopg.Connection, event_rows: list[tuple]) -> int:
    """Store the events not seen before and apply their lamp states; returns how many were new."""
    conn.execute("TRUNCATE events_in")
    with conn.cursor().copy("COPY events_in (lamp_id, ts, type, detail) FROM STDIN") as copy:
        for values in event_rows:
            copy.write_row(values)
    new_events = conn.execute(
        """INSERT INTO events (lamp_id, ts, type, detail)
           SELECT lamp_id, ts, type, detail FROM events_in
           ON CONFLICT (lamp_id, ts, type) DO NOTHING
           RETURNING lamp_id, ts, type"""
    ).fetchall()
    _apply_event_states(conn, new_events)
    return len(new_events)


def _insert_acks(conn: psycopg.Connection, ack_rows: list[tuple]) -> None:
    cur = conn.cursor()
    cur.executemany(
        """INSERT INTO plan_acks (lamp_id, version, status, reason) VALUES (%s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        ack_rows,
    )
    cur.executemany(
        """UPDATE plan_pushes SET ack_status = %s, ack_reason = %s, acked_at = now()
           WHERE lamp_id = %s AND version = %s""",
        [(status, reason, lid, version) for lid, version, status, reason in ack_rows],
    )


def _record_unknown_lamps(conn: psycopg.Connection, unknown_seen: dict[str, tuple[int, str, datetime]]) -> None:
    conn.cursor().executemany(
        """INSERT INTO unknown_lamps (lamp_id, first_seen_at, last_seen_at, message_count, last_topic)
           VALUES (%s, %s, now(), %s, %s)
           ON CONFLICT (lamp_id) DO UPDATE SET last_seen_at = now(),
               message_count = unknown_lamps.message_count + excluded.message_count,
               last_topic = excluded.last_topic""",
        [(lid, first, count, topic) for lid, (count, topic, first) in sorted(unknown_seen.items())],
    )


def write_dead_letters(conn: psycopg.Connection, dead: list[DeadLetter]) -> None:
    with conn.cursor().copy("COPY dead_letters (topic, lamp_id, reason, detail, payload) FROM STDIN") as copy:
        for d in dead:
            copy.write_row((d.topic, d.lamp_id, d.reason.value, d.detail, d.payload))


def _apply_event_states(conn: psycopg.Connection, new_events: list[tuple]) -> None:
    """A reported failure marks the lamp faulty; a reported repair puts it back in service."""
    failed = [lid for lid, _, kind in new_events if kind == "lamp_failure"]
    repaired = [lid for lid, _, kind in new_events if kind == "repaired"]
    if failed:
        conn.execute(
            "UPDATE lamps SET state = 'faulty', updated_at = now() WHERE lamp_id = ANY(%s) AND state = 'in_service'",
            (failed,),
        )
    if repaired:
        conn.execute(
            """UPDATE lamps SET state = 'in_service', updated_at = now()
               WHERE lamp_id = ANY(%s) AND state IN ('faulty', 'under_repair')""",
            (repaired,),
        )
