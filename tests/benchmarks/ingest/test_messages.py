"""What the load generators publish: readings the service accepts, the same bytes from both publishers."""

from __future__ import annotations

import json
import re

from benchmarks.ingest import wire
from benchmarks.ingest.messages import STAMP_PLACEHOLDER, LoadSpec, Stamper, reading_json
from benchmarks.ingest.raw_publisher import STAMP_LENGTH, prepared_packets
from core.contract import TelemetryReading, Topics

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def spec(messages: int, readings_per_message: int = 1) -> LoadSpec:
    return LoadSpec("mqtt://127.0.0.1:1883", "pub", "bench/x", ("L1", "L2"), messages, readings_per_message)


def topic_and_payload(packet: bytearray) -> tuple[str, bytes]:
    [(kind, body)] = wire.split_packets(bytearray(packet))
    assert kind == 0x32
    topic_length = int.from_bytes(body[:2], "big")
    return body[2 : 2 + topic_length].decode(), body[2 + topic_length + 2 :]


def stamp_all(packet: bytearray, stamp_offsets: tuple[int, ...]) -> None:
    for at in stamp_offsets:
        assert packet[at : at + STAMP_LENGTH] == STAMP_PLACEHOLDER[:-1].encode()
        packet[at : at + STAMP_LENGTH] = b"2026-11-25T17:00:00.000001"


def test_a_reading_is_what_a_controller_sends() -> None:
    text = reading_json("2026-11-25T17:00:00.000001Z", 7)
    reading = TelemetryReading.model_validate_json(text)
    assert reading.seq == 7
    assert 150 <= len(text) <= 230  # "about 190 bytes", as the report says
    assert len(json.loads(text)) == 10


def test_stamps_are_rfc3339_and_strictly_increasing() -> None:
    stamper = Stamper()
    stamps = [stamper.stamp() for _ in range(1000)]
    assert all(STAMP.match(s) for s in stamps)
    assert all(len(s) == len(STAMP_PLACEHOLDER) for s in stamps)
    assert stamps == sorted(set(stamps))


def test_prepared_packets_are_the_paho_publishers_payloads_once_stamped() -> None:
    topics = [Topics("bench/x").telemetry(lamp) for lamp in ("L1", "L2")]
    prepared = prepared_packets(spec(4), topics)
    assert len(prepared.packets) == 4
    for i, (packet, stamp_offsets) in enumerate(zip(prepared.packets, prepared.stamp_offsets, strict=True)):
        stamp_all(packet, stamp_offsets)
        assert topic_and_payload(packet) == (
            topics[i % 2],
            reading_json("2026-11-25T17:00:00.000001Z", i // 2).encode(),
        )


def test_prepared_packets_with_several_readings_stamp_each() -> None:
    prepared = prepared_packets(spec(2, readings_per_message=3), ["t"])
    packet = prepared.packets[1]
    assert len(prepared.stamp_offsets[1]) == 3
    stamp_all(packet, prepared.stamp_offsets[1])
    _, payload = topic_and_payload(packet)
    readings = [TelemetryReading.model_validate_json(json.dumps(r)) for r in json.loads(payload)]
    assert [r.seq for r in readings] == [3, 4, 5]  # the lamp's second message, its readings numbered on
