"""The default load generator: MQTT 3.1.1 written straight to a socket, packets built before the run.

The send loop only writes the stamps and the packet id into each prepared packet, so
that the load generator takes little of the processors it shares with what it measures.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.common import BenchmarkError
from benchmarks.ingest import wire
from benchmarks.ingest.messages import STALL_S, STAMP_PLACEHOLDER, LoadSpec, reading_json
from core.contract import Topics
from core.mqtt import BrokerConfig

STAMP_LENGTH = len(STAMP_PLACEHOLDER) - 1  # the stamp without its final "Z", rewritten in place
SENT = bytearray()  # stands in for a packet once sent, so that its memory goes


@dataclass
class PreparedPackets:
    """Every PUBLISH of a run: the packet, where its stamps go, where its packet id goes."""

    packets: list[bytearray]  # each replaced by SENT once sent
    stamp_offsets: list[tuple[int, ...]]
    id_offsets: list[int]


def prepared_packets(spec: LoadSpec, topics: list[str]) -> PreparedPackets:
    """Every PUBLISH of the run, built before it starts, round-robin over `topics`.

    The content is the paho publisher's, byte for byte, once the stamps are written in.
    """
    prepared = PreparedPackets([], [], [])
    per_message = spec.readings_per_message
    n_lamps = len(topics)
    ts_at = len('{"ts":"')
    for i in range(spec.messages):
        seq = i // n_lamps
        if per_message == 1:
            readings = [reading_json(STAMP_PLACEHOLDER, seq)]
            payload = readings[0]
            offsets = [ts_at]
        else:
            readings = [reading_json(STAMP_PLACEHOLDER, seq * per_message + k) for k in range(per_message)]
            payload = "[" + ",".join(readings) + "]"
            offsets, at = [], 1
            for reading in readings:
                offsets.append(at + ts_at)
                at += len(reading) + 1
        body = payload.encode()
        packet, id_offset = wire.publish_qos1_packet(topics[i % n_lamps], body)
        payload_at = len(packet) - len(body)
        prepared.packets.append(packet)
        prepared.stamp_offsets.append(tuple(payload_at + o for o in offsets))
        prepared.id_offsets.append(id_offset)
    return prepared


class RawConnection:
    """One MQTT 3.1.1 connection on a plain (or TLS) socket, for a QoS 1 publisher."""

    KEEPALIVE_S = 60

    def __init__(self, spec: LoadSpec, timeout_s: float = 15.0) -> None:
        broker = BrokerConfig.from_url(spec.mqtt_url)
        self.address = broker
        try:
            sock = socket.create_connection((broker.host, broker.port), timeout=timeout_s)
        except OSError as exc:
            raise BenchmarkError(f"publisher {spec.client_id} could not connect to {broker}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if broker.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=broker.host)
        self.sock = sock
        self.inbox = bytearray()
        self.last_send = time.monotonic()
        password = broker.password.get_secret_value() if broker.password else None
        self.send(wire.connect_packet(spec.client_id, self.KEEPALIVE_S, broker.username, password))
        self._await_connack(timeout_s)
        sock.settimeout(None)

    def _await_connack(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            for kind, body in wire.split_packets(self.inbox):
                if kind != wire.CONNACK or len(body) != 2:
                    raise BenchmarkError(f"broker {self.address} answered CONNECT with packet type {kind >> 4}")
                if body[1] != 0:
                    reason = wire.CONNACK_REFUSALS.get(body[1], f"code {body[1]}")
                    raise BenchmarkError(f"broker {self.address} refused the connection: {reason}")
                return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"broker {self.address} did not answer CONNECT within {timeout_s:.0f} s")
            self.receive(deadline - time.monotonic())

    def send(self, data: bytes | bytearray) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise BenchmarkError(f"the broker {self.address} closed the connection: {exc}") from exc
        self.last_send = time.monotonic()

    def receive(self, timeout_s: float) -> bool:
        """Append what the broker sent to `inbox`, waiting up to `timeout_s`; False if nothing came."""
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        if not pending and not select.select([self.sock], [], [], max(timeout_s, 0.0))[0]:
            return False
        try:
            data = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return False
        except OSError as exc:
            raise BenchmarkError(f"the broker {self.address} closed the connection: {exc}") from exc
        if not data:
            raise BenchmarkError(f"the broker {self.address} closed the connection")
        self.inbox += data
        return True

    def ping_if_idle(self) -> None:
        if time.monotonic() - self.last_send > self.KEEPALIVE_S / 2:
            self.send(wire.PINGREQ_PACKET)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(wire.DISCONNECT_PACKET)
        self.sock.close()


class Acks:
    """Which packet ids await their PUBACK, and how many have been acknowledged."""

    def __init__(self, connection: RawConnection) -> None:
        self.connection = connection
        self.outstanding = bytearray(65536)  # 1 = this packet id awaits its PUBACK
        self.acked = 0

    def take(self) -> None:
        """Count the PUBACKs in the connection's inbox; anything but those and PINGRESP is an error."""
        unexpected: list[str] = []
        for kind, body in wire.split_packets(self.connection.inbox):
            if kind == wire.PUBACK and len(body) == 2:
                packet_id = (body[0] << 8) | body[1]
                if self.outstanding[packet_id]:
                    self.outstanding[packet_id] = 0
                    self.acked += 1
            elif kind != wire.PINGRESP:
                unexpected.append(f"packet type {kind >> 4}")
        if unexpected:
            raise BenchmarkError(f"unexpected {unexpected[0]} from the broker")

    def wait(self, timeout_s: float) -> None:
        if self.connection.receive(timeout_s):
            self.take()
        self.connection.ping_if_idle()


def send_all(
    spec: LoadSpec, connection: RawConnection, prepared: PreparedPackets, acks: Acks, published: Any, acked_counter: Any
) -> None:
    """The send loop: stamps and packet id written in, sent in chunks of 64, at most `window` unacknowledged."""
    packets, stamp_offsets, id_offsets = prepared.packets, prepared.stamp_offsets, prepared.id_offsets
    outstanding = acks.outstanding
    time_ns, last_us, second = time.time_ns, 0, -1
    prefix = b""
    chunk = bytearray()
    window, rate = spec.window, spec.messages_per_s
    started = time.monotonic()
    last_ack_progress = (0, started)
    for i in range(spec.messages):
        if rate and i >= (time.monotonic() - started) * rate:
            if chunk:
                connection.send(chunk)
                chunk = bytearray()
            while i >= (time.monotonic() - started) * rate:
                acks.wait(0.001)
        packet_id = i % 65535 + 1
        while i - acks.acked >= window or outstanding[packet_id]:
            if chunk:
                connection.send(chunk)
                chunk = bytearray()
            acks.wait(0.005)
            if acks.acked != last_ack_progress[0]:
                last_ack_progress = (acks.acked, time.monotonic())
            elif time.monotonic() - last_ack_progress[1] > STALL_S:
                raise BenchmarkError(f"the broker stopped acknowledging ({acks.acked} of {i} acknowledged)")
        packet = packets[i]
        packets[i] = SENT
        for at in stamp_offsets[i]:
            now_us = time_ns() // 1000
            if now_us <= last_us:
                now_us = last_us + 1
            last_us = now_us
            if now_us // 1_000_000 != second:
                second = now_us // 1_000_000
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)).encode()
            packet[at : at + STAMP_LENGTH] = prefix + b"%06d" % (now_us % 1_000_000)
        at = id_offsets[i]
        packet[at] = packet_id >> 8
        packet[at + 1] = packet_id & 0xFF
        outstanding[packet_id] = 1
        chunk += packet
        if i % 64 == 63:
            connection.send(chunk)
            chunk = bytearray()
            if connection.receive(0):
                acks.take()
            if i % 1024 == 1023:
                published.value = i + 1
                acked_counter.value = acks.acked
                connection.ping_if_idle()
    if chunk:
        connection.send(chunk)


def publish_raw(spec: LoadSpec, ready: Any, go: Any, results: Any, published: Any, acked_counter: Any) -> None:
    """The same load as the paho publisher, written straight to a socket: MQTT 3.1.1, QoS 1.

    A message counts as published once sent and as acknowledged once its PUBACK
    arrives. A refused or closed connection ends the run with an error (no
    reconnecting: the counts stay exact).
    """
    report: dict[str, Any] = {"client_id": spec.client_id, "error": None, "reconnects": 0}
    connection: RawConnection | None = None
    try:
        topics = Topics(spec.topic_prefix)
        prepared = prepared_packets(spec, [topics.telemetry(lamp_id) for lamp_id in spec.lamp_ids])
        connection = RawConnection(spec)
        ready.set()
        if not go.wait(120):
            raise BenchmarkError("never told to start")
        acks = Acks(connection)
        report["first_publish"] = time.time()
        send_all(spec, connection, prepared, acks, published, acked_counter)
        report["last_publish"] = time.time()
        published.value = spec.messages
        deadline = time.monotonic() + STALL_S
        while acks.acked < spec.messages and time.monotonic() < deadline:
            acks.wait(0.01)
        acked_counter.value = acks.acked
        report["all_acked"] = time.time() if acks.acked >= spec.messages else None
        report["acked"] = acks.acked
    except Exception as exc:  # reported to the parent, which prints it
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if connection is not None:
            connection.close()
        results.put(report)
