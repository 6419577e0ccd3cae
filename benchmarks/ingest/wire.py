"""MQTT 3.1.1 packets, just what a QoS 1 publisher needs, for the raw-socket load generator.

CONNECT/CONNACK, PUBLISH/PUBACK, PINGREQ/PINGRESP and DISCONNECT, laid out as the
OASIS MQTT 3.1.1 standard says (section 3). Pure: no sockets here.
"""

from __future__ import annotations

from benchmarks.common import BenchmarkError

CONNACK = 0x20
PUBACK = 0x40
PINGRESP = 0xD0
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
MAX_REMAINING_LENGTH = 268_435_455


def remaining_length(n: int) -> bytes:
    """The variable-length 'remaining length' of a fixed header (1 to 4 bytes)."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(f"MQTT remaining length {n} out of range")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


def utf8_string(text: str | bytes) -> bytes:
    """A length-prefixed MQTT string."""
    data = text.encode() if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise ValueError("MQTT string longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, keepalive_s: int, username: str | None = None, password: str | None = None) -> bytes:
    """CONNECT with a clean session (a load generator keeps no session)."""
    flags = 0x02
    payload = utf8_string(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8_string(username)
        if password is not None:
            flags |= 0x40
            payload += utf8_string(password)
    body = utf8_string("MQTT") + bytes([4, flags]) + keepalive_s.to_bytes(2, "big") + payload
    return b"\x10" + remaining_length(len(body)) + body


def publish_qos1_packet(topic: str, payload: bytes) -> tuple[bytearray, int]:
    """A QoS 1 PUBLISH with packet id 0, and the offset of the id to fill in before sending."""
    head = utf8_string(topic)
    remaining = len(head) + 2 + len(payload)
    fixed = b"\x32" + remaining_length(remaining)
    return bytearray(fixed + head + b"\x00\x00" + payload), len(fixed) + len(head)


def split_packets(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take every complete packet off the front of `buffer`: (first header byte, body) each."""
    packets: list[tuple[int, bytes]] = []
    start, size = 0, len(buffer)
    while size - start >= 2:
        length, shift, pos = 0, 0, start + 1
        while pos < size and buffer[pos] & 0x80:
            length |= (buffer[pos] & 0x7F) << shift
            pos += 1
            shift += 7
            if shift > 21:
                raise BenchmarkError("malformed packet from the broker (remaining length)")
        if pos >= size:
            break  # the length itself is incomplete
        length |= buffer[pos] << shift
        pos += 1
        if size - pos < length:
            break  # wait for the rest of the body
        packets.append((buffer[start], bytes(buffer[pos : pos + length])))
        start = pos + length
    del buffer[:start]
    return packets
