"""The raw load generator's MQTT 3.1.1 packets: lengths, CONNECT, PUBLISH, and splitting what the broker sends."""

from __future__ import annotations

import pytest

from benchmarks.common import BenchmarkError
from benchmarks.ingest import wire


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (wire.MAX_REMAINING_LENGTH, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_is_the_standards_variable_length(n: int, encoded: bytes) -> None:
    assert wire.remaining_length(n) == encoded


@pytest.mark.parametrize("n", [-1, wire.MAX_REMAINING_LENGTH + 1])
def test_remaining_length_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        wire.remaining_length(n)


def test_strings_are_length_prefixed_and_bounded() -> None:
    assert wire.utf8_string("MQTT") == b"\x00\x04MQTT"
    assert wire.utf8_string("é") == b"\x00\x02\xc3\xa9"
    with pytest.raises(ValueError):
        wire.utf8_string(b"x" * 0x10000)


def test_connect_without_credentials() -> None:
    packet = wire.connect_packet("pub-1", 60)
    body = b"\x00\x04MQTT" + bytes([4, 0x02]) + b"\x00\x3c" + b"\x00\x05pub-1"
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_connect_with_user_and_password_sets_both_flags() -> None:
    packet = wire.connect_packet("c", 30, "user", "secret")
    assert packet[9] == 0x02 | 0x80 | 0x40  # clean session, user name, password
    assert packet.endswith(b"\x00\x04user\x00\x06secret")
    assert wire.connect_packet("c", 30, "user")[9] == 0x02 | 0x80


def test_publish_leaves_room_for_the_packet_id() -> None:
    packet, id_offset = wire.publish_qos1_packet("t/1", b"payload")
    assert packet[0] == 0x32  # PUBLISH, QoS 1
    assert packet[id_offset : id_offset + 2] == b"\x00\x00"
    assert packet[id_offset + 2 :] == b"payload"
    assert bytes(packet[2:id_offset]) == b"\x00\x03t/1"


def test_split_takes_complete_packets_and_keeps_the_rest() -> None:
    publish, _ = wire.publish_qos1_packet("t", b"x" * 200)  # a two-byte remaining length
    buffer = bytearray(b"\x40\x02\x00\x07" + wire.PINGREQ_PACKET + bytes(publish) + b"\x40\x02\x00")
    packets = wire.split_packets(buffer)
    assert [kind for kind, _ in packets] == [wire.PUBACK, 0xC0, 0x32]
    assert packets[0][1] == b"\x00\x07"
    assert packets[2][1] == bytes(publish[3:])
    assert buffer == bytearray(b"\x40\x02\x00")  # the last PUBACK is not complete yet
    buffer += b"\x08"
    assert wire.split_packets(buffer) == [(wire.PUBACK, b"\x00\x08")]
    assert buffer == bytearray()


def test_split_waits_for_an_incomplete_length() -> None:
    buffer = bytearray(b"\x30\x80")
    assert wire.split_packets(buffer) == []
    assert buffer == bytearray(b"\x30\x80")


def test_split_refuses_a_length_of_more_than_four_bytes() -> None:
    with pytest.raises(BenchmarkError):
        wire.split_packets(bytearray(b"\x30\xff\xff\xff\xff\x01"))
