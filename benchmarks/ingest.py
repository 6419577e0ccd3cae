"""Ingest benchmark: lamp telemetry over MQTT into TimescaleDB, end to end, nothing lost.

What it measures, each run in a fresh database under its own topic prefix:

- sustained readings/s with one reading per message (the hard case), for 1, 2, ...
  ``streetlight ingest`` processes sharing one shared subscription, and with
  messages carrying a JSON array of readings; every run ends with a count of the
  stored rows (OK / LOST n / DOUBLED n);
- ingest lag (row ``received_at`` minus reading ``ts``, p50/p99, in SQL) for a
  paced run at a fixed rate, and for the saturated runs;
- two references: a naive ingester (one INSERT and one commit per message) and
  the broker's own delivery rate to ``mosquitto_sub``, a subscriber that stores
  nothing (the ceiling).

The load comes from separate publisher processes (QoS 1, as fast as the broker
acknowledges) over lamps registered in the inventory first. By default they write
MQTT 3.1.1 straight to a socket from packets built before the run, so that the load
generator takes little of the processors it shares with what it measures
(``--publisher paho`` uses paho-mqtt instead). The rate is
readings stored / (commit time of the last row - time of the first publish).

    scripts/timescaledb start && scripts/mosquitto start && .venv/bin/python benchmarks/ingest.py
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import multiprocessing
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as paho
import psycopg
from pydantic import ValidationError

from benchmarks.common import (
    CONNACK_REFUSALS,
    DEFAULT_MQTT_URL,
    MQTT_DISCONNECT_PACKET,
    MQTT_PINGREQ_PACKET,
    MQTT_PINGRESP,
    MQTT_PUBACK,
    BenchmarkError,
    CpuMeter,
    Progress,
    ServiceProcess,
    Watcher,
    background_load,
    clear_mqtt_session,
    database_server_pids,
    default_timescale_url,
    describe_machine,
    format_rate,
    format_seconds,
    format_table,
    fresh_database,
    listening_pids,
    mqtt_connect_packet,
    mqtt_publish_qos1,
    mqtt_split_packets,
    register_lamps,
    run_id,
    say,
    service_env,
    start_service,
    wait_until,
)
from core.contract import MEASUREMENT_FIELDS, TelemetryReading, TopicKind, Topics
from core.mqtt import make_client, parse_broker_url

# Targets (docs/performance.md): sustained one-reading messages, nothing lost, and
# a clear margin over the obvious one-commit-per-message design.
TARGET_READINGS_PER_S = 20_000
TARGET_NAIVE_RATIO = 8.0

PROBE_LAMP = "bench-probe"
PROBE_MESSAGES = 20
# A run is abandoned when the stored count has not moved for this long.
STALL_S = 60.0
# Before each run, wait for other work on the machine to fall below this share.
QUIET_BELOW = 0.10
# An attempt during which other processes used more than this many cores counts as disturbed.
DISTURBED_ABOVE = 0.15


# --- load generation (runs in publisher processes) -----------------------------------
@dataclass(frozen=True, slots=True)
class LoadSpec:
    mqtt_url: str
    client_id: str
    topic_prefix: str
    lamp_ids: tuple[str, ...]  # lamps of this publisher only: stamps stay unique per lamp
    messages: int
    readings_per_message: int = 1
    messages_per_s: float | None = None  # None: as fast as the broker acknowledges
    window: int = 1000  # most messages published and not yet acknowledged
    publisher: str = "raw"  # a key of PUBLISHERS


class _Stamper:
    """RFC 3339 stamps of the current time, strictly increasing (by 1 µs at least)."""

    def __init__(self) -> None:
        self._last_us = 0
        self._second = -1
        self._prefix = ""

    def stamp(self) -> str:
        now_us = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = now_us
        second, micro = divmod(now_us, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{micro:06d}Z"


def reading_json(stamp: str, seq: int) -> str:
    """One reading as a controller sends it: ten fields, about 190 bytes."""
    return (
        f'{{"ts":"{stamp}","seq":{seq},"voltage_v":{228 + seq % 7 * 0.5:.1f},"current_a":{0.21 + seq % 5 * 0.01:.3f},'
        f'"power_w":{48 + seq % 9 * 0.5:.1f},"power_factor":0.96,"energy_wh":{1_500_000 + seq * 0.9:.1f},'
        f'"dim_level":100,"driver_temp_c":{35 + seq % 11 * 0.3:.1f},"rssi_dbm":{-70 - seq % 20}}}'
    )


def _publisher_main(spec: LoadSpec, ready, go, results, published, acked_counter) -> None:
    """Publish `spec.messages` at QoS 1 with paho and report first publish, last publish and last ack times."""
    report: dict = {"client_id": spec.client_id, "error": None}
    try:
        client, address = make_client(spec.mqtt_url, client_id=spec.client_id)
        client.max_inflight_messages_set(spec.window + 100)
        acked = 0

        def on_publish(client, userdata, mid, reason_code, properties) -> None:
            nonlocal acked
            acked += 1

        client.on_publish = on_publish
        # No network thread: publish() writes to the socket at once and this loop
        # reads the acknowledgements itself, the cheapest way to drive paho.
        client.connect(address.host, address.port, keepalive=60)
        deadline = time.monotonic() + 15
        while not client.is_connected():
            if time.monotonic() > deadline:
                raise BenchmarkError(f"publisher {spec.client_id} could not connect to {address}")
            client.loop(0.05)
        topics = Topics(spec.topic_prefix)
        lamp_topics = [topics.telemetry(lamp_id) for lamp_id in spec.lamp_ids]
        stamper = _Stamper()
        ready.set()
        if not go.wait(120):
            raise BenchmarkError("never told to start")

        report["reconnects"] = 0

        def reconnect() -> None:
            # The broker may be restarted under us (it is shared): paho re-sends what
            # was not acknowledged once the connection is back (duplicates are harmless).
            deadline = time.monotonic() + STALL_S
            while not client.is_connected():
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"lost the broker and could not reconnect within {STALL_S:.0f} s")
                with contextlib.suppress(OSError):
                    client.reconnect()
                    connect_deadline = time.monotonic() + 5
                    while not client.is_connected() and time.monotonic() < connect_deadline:
                        if client.loop(0.05) != paho.MQTT_ERR_SUCCESS:
                            break
                if not client.is_connected():
                    time.sleep(0.5)
            report["reconnects"] += 1

        def service_network(timeout_s: float = 0.0) -> None:
            if timeout_s > 0:
                rc = client.loop(timeout_s)
            else:
                rc = client.loop_read()
                if rc == paho.MQTT_ERR_SUCCESS and client.want_write():
                    rc = client.loop_write()
            if rc == paho.MQTT_ERR_SUCCESS:
                rc = client.loop_misc()
            if rc != paho.MQTT_ERR_SUCCESS or not client.is_connected():
                reconnect()

        per_message = spec.readings_per_message
        n_lamps = len(lamp_topics)
        report["first_publish"] = time.time()
        started = time.monotonic()
        last_ack_progress = (0, started)
        for i in range(spec.messages):
            if spec.messages_per_s:
                while i >= (time.monotonic() - started) * spec.messages_per_s:
                    service_network(0.001)
            while i - acked >= spec.window:
                service_network(0.005)
                if acked != last_ack_progress[0]:
                    last_ack_progress = (acked, time.monotonic())
                elif time.monotonic() - last_ack_progress[1] > STALL_S:
                    raise BenchmarkError(f"the broker stopped acknowledging ({acked} of {i} acknowledged)")
            seq = i // n_lamps  # this lamp's message counter
            if per_message == 1:
                payload = reading_json(stamper.stamp(), seq)
            else:
                payload = (
                    "["
                    + ",".join(reading_json(stamper.stamp(), seq * per_message + k) for k in range(per_message))
                    + "]"
                )
            client.publish(lamp_topics[i % n_lamps], payload.encode(), qos=1)
            if i % 64 == 63:
                service_network()
                if i % 1024 == 1023:
                    published.value = i + 1
                    acked_counter.value = acked
        report["last_publish"] = time.time()
        published.value = spec.messages
        deadline = time.monotonic() + STALL_S
        while acked < spec.messages and time.monotonic() < deadline:
            service_network(0.01)
        acked_counter.value = acked
        report["all_acked"] = time.time() if acked >= spec.messages else None
        report["acked"] = acked
        client.disconnect()
    except Exception as exc:  # reported to the parent, which prints it
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        results.put(report)



STAMP_PLACEHOLDER = "0000-00-00T00:00:00.000000Z"  # same length as every stamp


def _prepared_packets(spec: LoadSpec, topics: list[str]) -> tuple[list[bytearray], list[tuple[int, ...]], list[int]]:
    """Every PUBLISH of the run, built before it starts: the packet, where its stamps go, where its id goes.

    The content is the paho publisher's, byte for byte, once the stamps are written in.
    """
    packets: list[bytearray] = []
    stamp_offsets: list[tuple[int, ...]] = []
    id_offsets: list[int] = []
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
        packet, id_offset = mqtt_publish_qos1(topics[i % n_lamps], body)
        payload_at = len(packet) - len(body)
        packets.append(packet)
        stamp_offsets.append(tuple(payload_at + o for o in offsets))
        id_offsets.append(id_offset)
    return packets, stamp_offsets, id_offsets


class _RawConnection:
    """One MQTT 3.1.1 connection on a plain (or TLS) socket, for a QoS 1 publisher."""

    KEEPALIVE_S = 60

    def __init__(self, spec: LoadSpec, timeout_s: float = 15.0) -> None:
        address = parse_broker_url(spec.mqtt_url)
        self.address = address
        try:
            sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
        except OSError as exc:
            raise BenchmarkError(f"publisher {spec.client_id} could not connect to {address}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if address.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=address.host)
        self.sock = sock
        self.inbox = bytearray()
        self.last_send = time.monotonic()
        self.send(mqtt_connect_packet(spec.client_id, self.KEEPALIVE_S, address.username, address.password))
        deadline = time.monotonic() + timeout_s
        while True:
            for kind, body in mqtt_split_packets(self.inbox):
                if kind != 0x20 or len(body) != 2:
                    raise BenchmarkError(f"broker {address} answered CONNECT with packet type {kind >> 4}")
                if body[1] != 0:
                    reason = CONNACK_REFUSALS.get(body[1], f"code {body[1]}")
                    raise BenchmarkError(f"broker {address} refused the connection: {reason}")
                sock.settimeout(None)
                return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"broker {address} did not answer CONNECT within {timeout_s:.0f} s")
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
            self.send(MQTT_PINGREQ_PACKET)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(MQTT_DISCONNECT_PACKET)
        self.sock.close()


def _raw_publisher_main(spec: LoadSpec, ready, go, results, published, acked_counter) -> None:
    """The same load as `_publisher_main`, written straight to a socket: MQTT 3.1.1, QoS 1.

    Every packet is built before the run; the loop only writes the stamps (the clock
    at send time, strictly increasing) and the packet id into it, and sends in
    chunks. A message counts as published once sent and as acknowledged once its
    PUBACK arrives; at most `spec.window` are unacknowledged. A refused or closed
    connection ends the run with an error (no reconnecting: the counts stay exact).
    """
    report: dict = {"client_id": spec.client_id, "error": None, "reconnects": 0}
    connection: _RawConnection | None = None
    try:
        topics = Topics(spec.topic_prefix)
        packets, stamp_offsets, id_offsets = _prepared_packets(
            spec, [topics.telemetry(lamp_id) for lamp_id in spec.lamp_ids]
        )
        connection = _RawConnection(spec)
        ready.set()
        if not go.wait(120):
            raise BenchmarkError("never told to start")

        outstanding = bytearray(65536)  # 1 = this packet id awaits its PUBACK
        acked = 0
        unexpected: list[str] = []

        def take_acks() -> None:
            nonlocal acked
            for kind, body in mqtt_split_packets(connection.inbox):
                if kind == MQTT_PUBACK and len(body) == 2:
                    packet_id = (body[0] << 8) | body[1]
                    if outstanding[packet_id]:
                        outstanding[packet_id] = 0
                        acked += 1
                elif kind != MQTT_PINGRESP:
                    unexpected.append(f"packet type {kind >> 4}")
            if unexpected:
                raise BenchmarkError(f"unexpected {unexpected[0]} from the broker")

        def wait_acks(timeout_s: float) -> None:
            if connection.receive(timeout_s):
                take_acks()
            connection.ping_if_idle()

        time_ns, last_us, second = time.time_ns, 0, -1
        prefix = b""
        chunk = bytearray()
        window, rate = spec.window, spec.messages_per_s
        report["first_publish"] = time.time()
        started = time.monotonic()
        last_ack_progress = (0, started)
        for i in range(spec.messages):
            if rate and i >= (time.monotonic() - started) * rate:
                if chunk:
                    connection.send(chunk)
                    chunk = bytearray()
                while i >= (time.monotonic() - started) * rate:
                    wait_acks(0.001)
            packet_id = i % 65535 + 1
            while i - acked >= window or outstanding[packet_id]:
                if chunk:
                    connection.send(chunk)
                    chunk = bytearray()
                wait_acks(0.005)
                if acked != last_ack_progress[0]:
                    last_ack_progress = (acked, time.monotonic())
                elif time.monotonic() - last_ack_progress[1] > STALL_S:
                    raise BenchmarkError(f"the broker stopped acknowledging ({acked} of {i} acknowledged)")
            packet = packets[i]
            packets[i] = None  # type: ignore[call-overload]  # sent once; let it go
            for at in stamp_offsets[i]:
                now_us = time_ns() // 1000
                if now_us <= last_us:
                    now_us = last_us + 1
                last_us = now_us
                if now_us // 1_000_000 != second:
                    second = now_us // 1_000_000
                    prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)).encode()
                packet[at : at + 26] = prefix + b"%06d" % (now_us % 1_000_000)
            at = id_offsets[i]
            packet[at] = packet_id >> 8
            packet[at + 1] = packet_id & 0xFF
            outstanding[packet_id] = 1
            chunk += packet
            if i % 64 == 63:
                connection.send(chunk)
                chunk = bytearray()
                if connection.receive(0):
                    take_acks()
                if i % 1024 == 1023:
                    published.value = i + 1
                    acked_counter.value = acked
                    connection.ping_if_idle()
        if chunk:
            connection.send(chunk)
        report["last_publish"] = time.time()
        published.value = spec.messages
        deadline = time.monotonic() + STALL_S
        while acked < spec.messages and time.monotonic() < deadline:
            wait_acks(0.01)
        acked_counter.value = acked
        report["all_acked"] = time.time() if acked >= spec.messages else None
        report["acked"] = acked
    except Exception as exc:  # reported to the parent, which prints it
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if connection is not None:
            connection.close()
        results.put(report)


PUBLISHERS = {"raw": _raw_publisher_main, "paho": _publisher_main}
PUBLISHER_NAMES = {"raw": "MQTT 3.1.1 on a plain socket, packets built before the run", "paho": "paho-mqtt"}


@dataclass
class LoadResult:
    first_publish: float
    last_publish: float
    all_acked: float | None
    messages: int

    @property
    def published_per_s(self) -> float | None:
        if self.all_acked is None or self.all_acked <= self.first_publish:
            return None
        return self.messages / (self.all_acked - self.first_publish)


class Load:
    """Publisher processes sharing the lamps between them; started together."""

    def __init__(self, specs: Sequence[LoadSpec]) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self.specs = list(specs)
        self._go = self._ctx.Event()
        self._results = self._ctx.Queue()
        self._ready = [self._ctx.Event() for _ in specs]
        self._published = [self._ctx.Value("q", 0, lock=False) for _ in specs]
        self._acked = [self._ctx.Value("q", 0, lock=False) for _ in specs]
        self._processes = [
            self._ctx.Process(
                target=PUBLISHERS[spec.publisher],
                args=(spec, ready, self._go, self._results, published, acked),
                name=spec.client_id,
                daemon=True,
            )
            for spec, ready, published, acked in zip(specs, self._ready, self._published, self._acked)
        ]
        self._reports: list[dict] = []

    def start(self, timeout_s: float = 60.0) -> None:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + timeout_s
        for ready, process in zip(self._ready, self._processes):
            while not ready.wait(0.2):
                self._collect()
                if self._reports and self._reports[-1]["error"]:
                    raise BenchmarkError(f"publisher failed: {self._reports[-1]['error']}")
                if not process.is_alive() or time.monotonic() > deadline:
                    raise BenchmarkError(f"publisher {process.name} did not get ready")
        self._go.set()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    @property
    def published(self) -> int:
        return sum(v.value for v in self._published)

    @property
    def acked(self) -> int:
        return sum(v.value for v in self._acked)

    def _collect(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                self._reports.append(self._results.get_nowait())

    def finished(self) -> bool:
        self._collect()
        return len(self._reports) == len(self._processes)

    def check(self) -> None:
        """Raise at once if a publisher has already failed."""
        self._collect()
        errors = [r["error"] for r in self._reports if r["error"]]
        if errors:
            raise BenchmarkError("publisher failed: " + "; ".join(errors))

    def result(self, timeout_s: float = 120.0) -> LoadResult:
        deadline = time.monotonic() + timeout_s
        while not self.finished():
            if time.monotonic() > deadline:
                raise BenchmarkError("publishers did not finish")
            time.sleep(0.1)
        errors = [r["error"] for r in self._reports if r["error"]]
        if errors:
            raise BenchmarkError("publisher failed: " + "; ".join(errors))
        acked = [r["all_acked"] for r in self._reports]
        return LoadResult(
            first_publish=min(r["first_publish"] for r in self._reports),
            last_publish=max(r["last_publish"] for r in self._reports),
            all_acked=None if None in acked else max(acked),
            messages=sum(s.messages for s in self.specs),
        )

    def close(self) -> None:
        for process in self._processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def make_load(
    mqtt_url: str,
    name: str,
    prefix: str,
    lamp_ids: Sequence[str],
    messages: int,
    publishers: int,
    readings_per_message: int = 1,
    readings_per_s: float | None = None,
    publisher: str = "raw",
) -> Load:
    """Split the messages and the lamps evenly between `publishers` processes."""
    specs = []
    for k in range(publishers):
        share = messages // publishers + (1 if k < messages % publishers else 0)
        specs.append(
            LoadSpec(
                mqtt_url=mqtt_url,
                client_id=f"{name}-pub{k + 1}",
                topic_prefix=prefix,
                lamp_ids=tuple(lamp_ids[k::publishers]),
                messages=share,
                readings_per_message=readings_per_message,
                messages_per_s=readings_per_s / readings_per_message / publishers if readings_per_s else None,
                publisher=publisher,
            )
        )
    return Load(specs)


# --- the naive reference ingester (runs in its own process) ---------------------------
_NAIVE_COLUMNS = ("lamp_id", "ts", "seq", *MEASUREMENT_FIELDS)
_NAIVE_INSERT = (
    f"INSERT INTO readings ({', '.join(_NAIVE_COLUMNS)}, received_at)"
    f" VALUES ({', '.join(['%s'] * len(_NAIVE_COLUMNS))}, clock_timestamp())"
    " ON CONFLICT (lamp_id, ts) DO NOTHING"
)


def _naive_ingester_main(database_url: str, mqtt_url: str, prefix: str, client_id: str, ready, stop) -> None:
    """The obvious design: decode in the MQTT callback, INSERT, commit; paho acknowledges on return."""
    topics = Topics(prefix)
    conn = psycopg.connect(database_url, connect_timeout=5)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(topics.subscription(TopicKind.TELEMETRY), qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        ready.set()

    def on_message(client, userdata, msg) -> None:
        parsed = topics.parse(msg.topic)
        if parsed is None:
            return
        try:
            reading = TelemetryReading.model_validate_json(msg.payload)
        except ValidationError:
            return
        conn.execute(_NAIVE_INSERT, (parsed.lamp_id, *(getattr(reading, name) for name in _NAIVE_COLUMNS[1:])))
        conn.commit()

    client, address = make_client(mqtt_url, client_id=client_id, clean_session=False)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    try:
        stop.wait(3600)
    finally:
        client.disconnect()
        client.loop_stop()
        conn.close()


class NaiveIngester:
    def __init__(self, database_url: str, mqtt_url: str, prefix: str, client_id: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.client_id = client_id
        self._ready = ctx.Event()
        self._stop = ctx.Event()
        self.process = ctx.Process(
            target=_naive_ingester_main,
            args=(database_url, mqtt_url, prefix, client_id, self._ready, self._stop),
            name="naive-ingester",
            daemon=True,
        )

    def start(self, timeout_s: float = 60.0) -> None:
        self.process.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                raise BenchmarkError("the naive ingester did not subscribe")

    def stop(self) -> None:
        self._stop.set()
        self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# --- one run ----------------------------------------------------------------------------
def ingester_stats(log_text: str) -> dict:
    """The counters an ingester logs when it stops ("ingester stopped: {...}"), or {}."""
    for line in reversed(log_text.splitlines()):
        head, sep, counters = line.partition("ingester stopped: ")
        if sep:
            with contextlib.suppress(ValueError, SyntaxError):
                return ast.literal_eval(counters)
    return {}


@dataclass
class RunResult:
    name: str
    consumer: str
    readings_per_message: int
    messages: int
    readings: int
    published_per_s: float | None = None
    stored_per_s: float | None = None
    stored: int | None = None
    lag_p50_s: float | None = None
    lag_p99_s: float | None = None
    lag_max_s: float | None = None
    dead_letters: int = 0
    machine_busy: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)  # by group: consumer, load, broker, database
    consumer_cpu_s: float | None = None  # processor seconds the consumer used over the run
    warnings: int = 0
    note: str = ""
    other_load: float = 0.0  # share of the machine busy with other work just before the run
    untracked: float = 0.0  # cores busy during the run outside the processes measured (others' work)
    iowait: float = 0.0  # share of the machine idle while waiting for the disk during the run
    duplicates: int = 0  # redelivered readings the ingesters absorbed (ON CONFLICT DO NOTHING)
    error: str | None = None  # why the attempt could not be completed
    restarted: list[str] = field(default_factory=list)  # servers restarted by someone else during the run
    attempts: list[RunResult] = field(default_factory=list)  # every attempt when repeated, this one included
    ingesters: int = 0

    @property
    def check(self) -> str:
        """OK, or what went wrong in the worst attempt."""
        for attempt in self.attempts:
            if attempt is not self and attempt.own_check.startswith(("LOST", "DOUBLED")):
                return attempt.own_check
        return self.own_check

    @property
    def own_check(self) -> str:
        if self.error is not None:
            return "FAILED"
        if self.stored is None:
            return "-"
        if self.stored == self.readings:
            return "OK"
        if self.stored < self.readings:
            return f"LOST {self.readings - self.stored:,}"
        return f"DOUBLED {self.stored - self.readings:,}"


@dataclass
class Options:
    timescale_url: str
    mqtt_url: str
    messages: int
    lamps: int
    publishers: int
    publisher: str
    ingesters: list[int]
    backlog_ingesters: list[int]
    batch_readings: int
    batched_ingesters: int
    lag_rate: int
    lag_seconds: float
    lag_ingesters: int
    naive_messages: int
    batch_size: int | None
    flush_interval_s: float | None
    py_spy_dir: Path | None
    quiet_wait_s: float
    repeat: int
    skip: set[str] = field(default_factory=set)


class Bench:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.rid = run_id()
        self.lamp_ids = [f"L{n:06d}" for n in range(options.lamps)]
        self.log_dir = Path(tempfile.mkdtemp(prefix="streetlight-bench-"))
        self.keep_logs = False
        self.attempt = 1

    @property
    def tag(self) -> str:
        """Names this attempt's databases, topic prefixes and client ids."""
        return f"{self.rid}r{self.attempt}"

    def name(self, what: str) -> str:
        return f"bench_ingest_{self.tag}_{what.replace('-', '_')}"

    def prefix(self, what: str) -> str:
        return f"bench/{self.tag}/{what}"

    # --- pieces shared by the runs ---------------------------------------
    def probe(self, prefix: str, watcher: Watcher) -> None:
        """Send a few readings end to end and delete them: everything is connected and warm."""
        client, address = make_client(self.o.mqtt_url, client_id=f"{self.tag}-probe")
        client.connect(address.host, address.port, keepalive=30)
        client.loop_start()
        try:
            topic = Topics(prefix).telemetry(PROBE_LAMP)
            stamper = _Stamper()
            for n in range(PROBE_MESSAGES):
                client.publish(topic, reading_json(stamper.stamp(), n).encode(), qos=1)
            wait_until(
                lambda: (
                    watcher.value("SELECT count(*) FROM readings WHERE lamp_id = %s", (PROBE_LAMP,)) >= PROBE_MESSAGES
                ),
                60,
                "the probe readings to be stored",
                0.05,
            )
        finally:
            client.disconnect()
            client.loop_stop()
        watcher.one("DELETE FROM readings WHERE lamp_id = %s", (PROBE_LAMP,))

    @staticmethod
    def publish_all(label: str, load: Load, alive=lambda: None) -> LoadResult:
        """Publish the whole load with nobody consuming it (it queues in the broker)."""
        progress = Progress()
        load.start()
        started = time.monotonic()
        while not load.finished():
            alive()
            progress.update(
                f"  {label}: {time.monotonic() - started:5.1f} s  queueing in the broker:"
                f" published {load.published:>9,}  acked {load.acked:>9,}"
            )
            time.sleep(0.5)
        progress.done(
            f"  {label}: {load.specs and sum(s.messages for s in load.specs):,} messages queued"
            f" in {time.monotonic() - started:.1f} s"
        )
        return load.result()

    @staticmethod
    def wait_stored(label: str, load: Load, watcher: Watcher, expected: int, alive=lambda: None) -> None:
        """Wait until `expected` rows are stored, or nothing has moved for STALL_S."""
        progress = Progress()
        started = time.monotonic()
        last_count, last_change = 0, started
        last_rate_at, last_rate_count, rate = started, 0, 0.0
        while True:
            alive()
            count = watcher.value("SELECT count(*) FROM readings")
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            if now - last_rate_at >= 1.0:
                rate = (count - last_rate_count) / (now - last_rate_at)
                last_rate_at, last_rate_count = now, count
            progress.update(
                f"  {label}: {now - started:5.1f} s  published {load.published:>9,}  acked {load.acked:>9,}"
                f"  stored {count:>9,} / {expected:,}  ({rate:,.0f}/s)"
            )
            if count >= expected:
                break
            if now - last_change > STALL_S and load.finished():
                progress.done(f"  {label}: no progress for {STALL_S:.0f} s, giving up at {count:,} of {expected:,}")
                return
            time.sleep(0.5)
        progress.done(f"  {label}: stored {last_count:,} in {time.monotonic() - started:.1f} s")

    @staticmethod
    def measure(result: RunResult, watcher: Watcher, since: float, quiet_s: float = 1.5) -> None:
        """Stored count, rate since `since` (epoch seconds) and lag of a finished run."""
        time.sleep(quiet_s)  # long enough for a double to show up in the count
        stored, last_commit, p50, p99, lag_max = watcher.one(
            """SELECT count(*), extract(epoch FROM max(received_at))::float8,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)::float8),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)::float8),
                      extract(epoch FROM max(received_at - ts))::float8
               FROM readings"""
        )
        result.stored = stored
        result.lag_p50_s, result.lag_p99_s, result.lag_max_s = p50, p99, lag_max
        result.dead_letters = watcher.value("SELECT count(*) FROM dead_letters")
        if stored and last_commit and last_commit > since:
            result.stored_per_s = stored / (last_commit - since)

    def wait_for_quiet(self) -> float:
        """Wait (up to --quiet-wait-s) until the machine is not busy with other work; return the last reading."""
        deadline = time.monotonic() + self.o.quiet_wait_s
        other = background_load()
        if other > QUIET_BELOW:
            say(f"\nthe machine is {other:.0%} busy with other work; waiting up to {self.o.quiet_wait_s:.0f} s for it")
            while other > QUIET_BELOW and time.monotonic() < deadline:
                time.sleep(2)
                other = background_load()
        return other

    def ingester_settings(self) -> dict[str, str]:
        settings = {}
        if self.o.batch_size:
            settings["STREETLIGHT_INGEST_BATCH_SIZE"] = str(self.o.batch_size)
        if self.o.flush_interval_s:
            settings["STREETLIGHT_INGEST_FLUSH_INTERVAL_S"] = str(self.o.flush_interval_s)
        return settings

    # --- the runs -----------------------------------------------------------
    def run_ingesters(
        self,
        what: str,
        processes: int,
        readings: int,
        readings_per_message: int = 1,
        readings_per_s: float | None = None,
        backlog: bool = False,
    ) -> RunResult:
        """`processes` × `streetlight ingest`, a shared subscription when more than one.

        backlog: the ingesters are paused (SIGSTOP) while the whole load is published
        and queued by the broker, then resumed: their own capacity, with the load
        generator out of the way. The rate then counts from the resume.
        """
        messages = readings // readings_per_message
        readings = messages * readings_per_message
        label = f"{what} ({processes} ingester{'s' if processes > 1 else ''})"
        how = (
            f"paced at {readings_per_s:,.0f} readings/s"
            if readings_per_s
            else "queued first, then drained"
            if backlog
            else "as fast as possible"
        )
        say(f"\n{label}: {messages:,} messages of {readings_per_message} reading(s), {how}")
        result = RunResult(
            what,
            f"{processes} ingester process{'es' if processes > 1 else ''}",
            readings_per_message,
            messages,
            readings,
            ingesters=processes,
        )
        prefix = self.prefix(what)
        client_ids = [f"bench-{self.tag}-{what}-{k + 1}" for k in range(processes)]
        settings = self.ingester_settings()
        if processes > 1:
            settings["STREETLIGHT_INGEST_SHARE_GROUP"] = f"bench{self.tag}"
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(fresh_database(self.o.timescale_url, self.name(what)))
            register_lamps(url, [*self.lamp_ids, PROBE_LAMP])
            services: list[ServiceProcess] = []

            def stop_services() -> None:  # also the exit callback: a second call finds nothing to do
                for service in services:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(service.process.pid, signal.SIGCONT)
                    service.stop()
                for client_id in client_ids:
                    clear_mqtt_session(self.o.mqtt_url, client_id)
                client_ids.clear()

            stack.callback(stop_services)
            for client_id in client_ids:
                env = service_env(
                    STREETLIGHT_DATABASE_URL=url,
                    STREETLIGHT_MQTT_URL=self.o.mqtt_url,
                    STREETLIGHT_TOPIC_PREFIX=prefix,
                    STREETLIGHT_INGEST_CLIENT_ID=client_id,
                    **settings,
                )
                services.append(start_service(client_id, ["ingest"], env, self.log_dir / f"{client_id}.log"))
            for service in services:
                wait_until(
                    lambda s=service: s.check_alive() or "subscribed to" in s.log_text(),
                    90,
                    f"{service.name} to subscribe",
                )
            watcher = stack.enter_context(Watcher(url))
            self.probe(prefix, watcher)
            load = make_load(
                self.o.mqtt_url,
                f"{self.tag}-{what}",
                prefix,
                self.lamp_ids,
                messages,
                self.o.publishers,
                readings_per_message,
                readings_per_s,
                publisher=self.o.publisher,
            )
            stack.callback(load.close)

            def alive() -> None:
                for service in services:
                    service.check_alive()

            if backlog:
                for service in services:
                    os.kill(service.process.pid, signal.SIGSTOP)
                load_result = self.publish_all(label, load)
                # Metered from before the resume, so that the ingesters' processor time covers all their work.
                meter = self.cpu_meter(url, [s.process.pid for s in services], load)
                since = time.time()
                for service in services:
                    os.kill(service.process.pid, signal.SIGCONT)
            else:
                load.start()
                meter = self.cpu_meter(url, [s.process.pid for s in services], load)
            spies = self.start_py_spy(what, services)
            self.wait_stored(label, load, watcher, readings, alive)
            meter.stop()
            result.restarted = self.restarted(meter, url)
            self.stop_py_spy(spies)
            if not backlog:
                load_result = load.result()
                since = load_result.first_publish
            self.measure(result, watcher, since)
            result.published_per_s = load_result.published_per_s
            if backlog:  # the lag is the time spent queued: not informative
                result.lag_p50_s = result.lag_p99_s = result.lag_max_s = None
            result.machine_busy, result.cores, result.untracked = meter.machine_busy, meter.cores, meter.untracked
            result.consumer_cpu_s = meter.cpu_s.get("consumer")
            result.iowait = meter.iowait
            stop_services()
            result.duplicates = sum(ingester_stats(s.log_text()).get("readings_duplicate", 0) for s in services)
            result.warnings = sum(
                1
                for service in services
                for line in service.log_text().splitlines()
                if " WARNING " in line or " ERROR " in line
            )
            services.clear()
        return result

    def run_naive(self) -> RunResult:
        what = "naive"
        messages = self.o.naive_messages
        say(f"\nnaive ingester (one INSERT and one commit per message): {messages:,} messages")
        result = RunResult(what, "naive ingester, 1 process", 1, messages, messages)
        prefix = self.prefix(what)
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(fresh_database(self.o.timescale_url, self.name(what)))
            register_lamps(url, [*self.lamp_ids, PROBE_LAMP])
            naive = NaiveIngester(url, self.o.mqtt_url, prefix, f"bench-{self.tag}-naive")
            stack.callback(clear_mqtt_session, self.o.mqtt_url, naive.client_id)
            stack.callback(naive.stop)
            naive.start()
            watcher = stack.enter_context(Watcher(url))
            self.probe(prefix, watcher)
            load = make_load(
                self.o.mqtt_url,
                f"{self.tag}-{what}",
                prefix,
                self.lamp_ids,
                messages,
                self.o.publishers,
                publisher=self.o.publisher,
            )
            stack.callback(load.close)

            def alive() -> None:
                if not naive.process.is_alive():
                    raise BenchmarkError("the naive ingester died")

            load.start()
            meter = self.cpu_meter(url, [naive.process.pid], load)
            self.wait_stored("naive ingester", load, watcher, messages, alive)
            meter.stop()
            result.restarted = self.restarted(meter, url)
            load_result = load.result()
            self.measure(result, watcher, load_result.first_publish)
            result.published_per_s = load_result.published_per_s
            result.machine_busy, result.cores, result.untracked = meter.machine_busy, meter.cores, meter.untracked
            result.consumer_cpu_s = meter.cpu_s.get("consumer")
            result.iowait = meter.iowait
        return result

    def run_broker_ceiling(self, backlog: bool = False) -> RunResult:
        """mosquitto_sub at QoS 1 with a persistent session, counting N messages and storing nothing.

        backlog: the messages are published while the subscriber is away (queued in its
        session), then delivered in one go: the broker's own delivery rate, no publisher running.
        """
        what = "broker-backlog" if backlog else "broker"
        messages = self.o.messages
        how = "queued first, then delivered" if backlog else "delivered while published"
        say(f"\n{what} (mosquitto_sub -q 1 -C {messages}, output discarded): {messages:,} messages, {how}")
        result = RunResult(what, "mosquitto_sub, stores nothing", 1, messages, messages)
        if shutil.which("mosquitto_sub") is None:
            result.note = "mosquitto_sub not installed"
            return result
        address = parse_broker_url(self.o.mqtt_url)
        prefix = self.prefix(what)
        topic = Topics(prefix).subscription(TopicKind.TELEMETRY)
        client_id = f"bench-{self.tag}-sub"
        base = ["mosquitto_sub", "-h", address.host, "-p", str(address.port), "-q", "1", "-i", client_id, "-t", topic]
        with contextlib.ExitStack() as stack:
            stack.callback(clear_mqtt_session, self.o.mqtt_url, client_id)
            # Subscribe first (-c: a persistent session), so that nothing published is missed.
            subprocess.run([*base, "-c", "-E"], check=True, timeout=30, stdout=subprocess.DEVNULL)
            load = make_load(
                self.o.mqtt_url,
                f"{self.tag}-{what}",
                prefix,
                self.lamp_ids,
                messages,
                self.o.publishers,
                publisher=self.o.publisher,
            )
            stack.callback(load.close)
            if backlog:
                load_result = self.publish_all(what, load)
            started_wall = time.time()
            sub = subprocess.Popen(
                [*base, "-c", "-C", str(messages)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            exit_info: dict = {}

            def reap() -> None:  # wait4: the exit time and the processor time of the subscriber
                _, status, usage = os.wait4(sub.pid, 0)
                exit_info.update(
                    at=time.time(), code=os.waitstatus_to_exitcode(status), cpu_s=usage.ru_utime + usage.ru_stime
                )
                sub.returncode = exit_info["code"]

            reaper = threading.Thread(target=reap, daemon=True)
            reaper.start()

            def kill_sub() -> None:
                if not exit_info:
                    with contextlib.suppress(ProcessLookupError):
                        sub.kill()
                    reaper.join(5)

            stack.callback(kill_sub)
            progress = Progress()
            if not backlog:
                load.start()
            meter = self.cpu_meter(None, [], load)
            started = time.monotonic()
            while not exit_info and time.monotonic() - started < STALL_S * 5:
                load.check()
                progress.update(
                    f"  {what}: {time.monotonic() - started:5.1f} s"
                    f"  published {load.published:>9,}  acked {load.acked:>9,}"
                )
                time.sleep(0.1)
            meter.stop()
            result.restarted = self.restarted(meter, None)
            reaper.join(5)
            if not backlog:
                load_result = load.result()
            progress.done(f"  {what}: done in {time.monotonic() - started:.1f} s")
            since = started_wall if backlog else load_result.first_publish
            result.published_per_s = load_result.published_per_s
            result.machine_busy, result.cores, result.untracked = meter.machine_busy, meter.cores, meter.untracked
            result.iowait = meter.iowait
            if exit_info.get("code") == 0:
                result.stored_per_s = messages / (exit_info["at"] - since)
                result.cores["consumer"] = exit_info["cpu_s"] / (exit_info["at"] - started_wall)
                result.consumer_cpu_s = exit_info["cpu_s"]
                result.untracked = max(0.0, result.untracked - result.cores["consumer"])
                result.note = "delivered/s, nothing stored" + (", queued first" if backlog else "")
            else:
                result.note = f"mosquitto_sub did not receive all {messages:,} messages"
        return result

    def cpu_meter(self, url: str | None, consumer_pids: list[int], load: Load) -> CpuMeter:
        """Processor time of the consumer, the load generator, the broker and the database server."""
        return CpuMeter(
            {
                "consumer": consumer_pids,
                "load": load.pids,
                "broker": listening_pids(parse_broker_url(self.o.mqtt_url).port),
                "database": database_server_pids(url) if url else [],
            }
        )

    def restarted(self, meter: CpuMeter, url: str | None) -> list[str]:
        """Which shared server was restarted (or replaced) while `meter` ran: their processes changed."""
        found = []
        if set(meter.groups["broker"]) != set(listening_pids(parse_broker_url(self.o.mqtt_url).port)):
            found.append("broker")
        if url and meter.groups["database"][:1] != database_server_pids(url)[:1]:
            found.append("database")
        return found

    # --- profiling -------------------------------------------------------
    def start_py_spy(self, what: str, services: list[ServiceProcess]) -> list[subprocess.Popen]:
        """With --py-spy: sample every ingester of this run, two raw folded-stack files per process.

        <run>-<n>-cpu.txt holds the samples of threads on a processor, <run>-<n>-gil.txt
        those of the thread holding the GIL (the Python part of the work).
        """
        if not self.o.py_spy_dir:
            return []
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.o.py_spy_dir.mkdir(parents=True, exist_ok=True)
        spies = []
        for n, service in enumerate(services, 1):
            for view, extra in (("cpu", []), ("gil", ["--gil"])):
                out = self.o.py_spy_dir / f"{self.tag}-{what}-{n}-{view}.txt"
                command = [spy, "record", "--pid", str(service.process.pid), "--rate", "100", "--threads",
                           "--nonblocking", "--format", "raw", "--output", str(out), *extra]  # fmt: skip
                spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return spies

    @staticmethod
    def stop_py_spy(spies: list[subprocess.Popen]) -> None:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)

    def cleanup(self) -> None:
        if self.keep_logs:
            say(f"service logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


# --- report -------------------------------------------------------------------------
def _cores(r: RunResult) -> str:
    return "/".join(f"{r.cores[k]:.2f}" if k in r.cores else "-" for k in ("consumer", "load", "broker", "database"))


def _consumer_us_per_reading(r: RunResult) -> str:
    if r.consumer_cpu_s is None or not r.readings:
        return "-"
    return f"{r.consumer_cpu_s / r.readings * 1e6:.1f}"


def _spread(r: RunResult) -> str:
    rates = [a.stored_per_s for a in r.attempts if a.stored_per_s]
    if len(rates) < 2:
        return "-"
    return f"{min(rates) / 1000:.1f}k-{max(rates) / 1000:.1f}k"


# (header, right-aligned, value)
COLUMNS = (
    ("run", False, lambda r: r.name),
    ("consumer", False, lambda r: r.consumer),
    ("per msg", True, lambda r: r.readings_per_message),
    ("messages", True, lambda r: f"{r.messages:,}"),
    ("published/s", True, lambda r: format_rate(r.published_per_s)),
    ("readings/s", True, lambda r: format_rate(r.stored_per_s)),
    ("range", True, _spread),
    ("lag p50", True, lambda r: format_seconds(r.lag_p50_s)),
    ("lag p99", True, lambda r: format_seconds(r.lag_p99_s)),
    ("stored", True, lambda r: "-" if r.stored is None else f"{r.stored:,}"),
    ("check", False, lambda r: r.check),
    ("CPU busy", True, lambda r: f"{r.machine_busy:.0%}"),
    ("untracked", True, lambda r: f"{r.untracked:.2f}"),
    ("iowait", True, lambda r: f"{r.iowait:.0%}"),
    ("cores: consumer/load/broker/db", True, _cores),
    ("consumer µs/reading", True, _consumer_us_per_reading),
    ("note", False, lambda r: r.note),
)


def print_results(results: list[RunResult], machine: list[tuple[str, str]], o: Options) -> None:
    say("\n" + "=" * 100)
    say(f"Ingest benchmark: MQTT (QoS 1) -> ingester -> TimescaleDB, {o.lamps:,} lamps registered")
    say("=" * 100)
    settings = []
    if o.batch_size:
        settings.append(f"STREETLIGHT_INGEST_BATCH_SIZE={o.batch_size}")
    if o.flush_interval_s:
        settings.append(f"STREETLIGHT_INGEST_FLUSH_INTERVAL_S={o.flush_interval_s}")
    machine = [
        *machine,
        ("ingester", " ".join(settings) or "default settings (batch 5000 messages, flush 0.2 s)"),
        (
            "load",
            f"{o.publishers} publisher process(es): {PUBLISHER_NAMES[o.publisher]}, QoS 1, at most 1000"
            " unacknowledged, readings of ~190 bytes",
        ),
    ]
    width = max(len(k) for k, _ in machine)
    for key, value in machine:
        say(f"{key:>{width}}: {value}")
    say("")
    say(format_table([c[0] for c in COLUMNS], [[c[2](r) for c in COLUMNS] for r in results], [c[1] for c in COLUMNS]))
    say(
        "\nreadings/s: readings stored / (commit of the last row - first publish); backlog runs: from the resume."
        "\npublished/s: messages acknowledged by the broker / time from the first publish to the last acknowledgement."
        "\nlag: received_at (database clock at insert) - ts (publisher clock at send), percentile_cont over every row."
        "\nCPU busy: the whole machine over the run (100% = every processor)."
        "\ncores: processor time / wall time of the consumer (ingesters), the load generator, the broker and the"
        " database server;\nuntracked: cores busy with anything else (other people's work on a shared machine);"
        " iowait: the machine idle waiting for the disk."
        "\nconsumer µs/reading: processor time of the consumer over the run / readings: its cost, robust to other load."
        "\nrange: lowest and highest readings/s over the attempts (--repeat). The row shows the median of the"
        f" attempts\nthat other work did not disturb (untracked <= {DISTURBED_ABOVE} cores), of all when each was."
    )

    if any(len(r.attempts) > 1 for r in results):
        say("\nEvery attempt")
        rows = [
            (r.name, n, format_rate(a.stored_per_s), a.own_check if a.error is None else f"FAILED: {a.error}",
             f"{a.untracked:.2f}", f"{a.iowait:.0%}", _consumer_us_per_reading(a),
             "; ".join(filter(None, ("median" if a is r else "", *(f"{x} restarted" for x in a.restarted)))))
            for r in results
            for n, a in enumerate(r.attempts, 1)
        ]  # fmt: skip
        say(format_table(("run", "attempt", "readings/s", "check", "untracked", "iowait", "consumer µs/reading", ""),
                         rows, (False, True, True, False, True, True, True, False)))  # fmt: skip

    def best_of(prefix: str) -> RunResult | None:
        return max(
            (r for r in results if r.name.startswith(prefix) and r.stored_per_s and r.check == "OK"),
            key=lambda r: r.stored_per_s,
            default=None,
        )

    best = best_of("single")
    drained = best_of("backlog")
    naive = next((r for r in results if r.name == "naive" and r.stored_per_s), None)
    broker = next((r for r in results if r.name == "broker" and r.stored_per_s), None)
    broker_backlog = next((r for r in results if r.name == "broker-backlog" and r.stored_per_s), None)
    lines = []

    def verdict(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    if best:
        lines.append(
            ("ingester, nothing lost (best)", f"{best.stored_per_s:,.0f} readings/s", best.consumer,
             f">= {TARGET_READINGS_PER_S:,}/s", verdict(best.stored_per_s >= TARGET_READINGS_PER_S))
        )  # fmt: skip
    elif any(r.name.startswith("single") for r in results):
        lines.append(
            ("ingester, nothing lost (best)", "-", "no run stored every reading", f">= {TARGET_READINGS_PER_S:,}/s",
             "MISSED")
        )  # fmt: skip
    if best and naive:
        ratio = best.stored_per_s / naive.stored_per_s
        lines.append(
            ("ingester / naive", f"{ratio:.1f}x", f"{best.stored_per_s:,.0f} / {naive.stored_per_s:,.0f}",
             f">= {TARGET_NAIVE_RATIO:g}x", verdict(ratio >= TARGET_NAIVE_RATIO))
        )  # fmt: skip
    if best and broker:
        lines.append(
            ("ingester / broker ceiling", f"{best.stored_per_s / broker.stored_per_s:.0%}",
             f"{best.stored_per_s:,.0f} / {broker.stored_per_s:,.0f}", "", "")
        )  # fmt: skip
    if drained:
        lines.append(
            ("ingester draining a backlog (best)", f"{drained.stored_per_s:,.0f} readings/s", drained.consumer,
             "(no publisher running)", "")
        )  # fmt: skip
    if drained and broker_backlog:
        lines.append(
            ("  / broker draining a backlog", f"{drained.stored_per_s / broker_backlog.stored_per_s:.0%}",
             f"{drained.stored_per_s:,.0f} / {broker_backlog.stored_per_s:,.0f}", "", "")
        )  # fmt: skip
    if lines:
        say("\nComparison, one reading per message")
        say(format_table(("", "figure", "from", "target", ""), lines))
    failed = [r for r in results if r.check.startswith(("LOST", "DOUBLED"))]
    if failed:
        say("\nRuns that lost or doubled readings: " + ", ".join(f"{r.name} ({r.check})" for r in failed))
    broken = [(r.name, a.error) for r in results for a in r.attempts if a.error]
    if broken:
        say("Attempts that could not be completed (left out of the medians):")
        for name, error in broken:
            say(f"  {name}: {error}")
    absorbed = [r for r in results if r.duplicates]
    if absorbed:
        say(
            "Redelivered readings stored once (ON CONFLICT): "
            + ", ".join(f"{r.name}: {r.duplicates}" for r in absorbed)
        )
    dead = [r for r in results if r.dead_letters]
    if dead:
        say("Dead letters: " + ", ".join(f"{r.name}: {r.dead_letters}" for r in dead))
    warned = [r for r in results if r.warnings]
    if warned:
        say("Ingester warnings/errors logged: " + ", ".join(f"{r.name}: {r.warnings}" for r in warned))


# --- command line -------------------------------------------------------------------
RUNS = ("broker", "broker-backlog", "naive", "single", "batched", "backlog", "lag")
FULL = dict(
    messages=300_000,
    lamps=10_000,
    naive_messages=20_000,
    lag_rate=10_000,
    lag_seconds=20.0,
    repeat=3,
    quiet_wait_s=300.0,
)
QUICK = dict(
    messages=20_000, lamps=1_000, naive_messages=2_000, lag_rate=2_000, lag_seconds=5.0, repeat=1, quiet_wait_s=15.0
)


def _counts(parser: argparse.ArgumentParser, option: str, value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        counts = [0]
    if not counts or any(n < 1 for n in counts):
        parser.error(f"{option} takes a comma-separated list of process counts, e.g. 1,2,3")
    return counts


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="benchmarks/ingest.py",
        description="Measure end-to-end MQTT-to-TimescaleDB ingest: sustained readings/s with nothing lost, "
        "ingest lag, and two references (a naive ingester, the broker's own delivery rate).",
    )
    parser.add_argument(
        "--timescale-url",
        default=default_timescale_url(),
        help="admin URL of the TimescaleDB server; one database per run is created there and dropped "
        "(default: $STREETLIGHT_TEST_TIMESCALE_URL or %(default)s)",
    )
    parser.add_argument("--mqtt-url", default=DEFAULT_MQTT_URL, help="broker (default %(default)s)")
    parser.add_argument(
        "--messages",
        type=int,
        help="readings per saturated run, also the broker-ceiling message count (default 300000)",
    )
    parser.add_argument("--lamps", type=int, help="lamp ids registered and published to (default 10000)")
    parser.add_argument("--publishers", type=int, default=1, help="load-generator processes (default %(default)s)")
    parser.add_argument(
        "--publisher",
        choices=sorted(PUBLISHERS),
        default="raw",
        help="load generator: raw (MQTT 3.1.1 written straight to a socket, packets built before the run)"
        " or paho (paho-mqtt) (default %(default)s)",
    )
    parser.add_argument(
        "--ingesters",
        default="1,2",
        help="ingester process counts for the one-reading-per-message runs (default %(default)s)",
    )
    parser.add_argument(
        "--backlog-ingesters",
        default="1,2",
        help="ingester process counts for the backlog runs: load queued while the ingesters are "
        "paused, then drained (default %(default)s)",
    )
    parser.add_argument(
        "--batch-readings", type=int, default=60, help="readings per message in the batched run (default %(default)s)"
    )
    parser.add_argument(
        "--batched-ingesters", type=int, default=1, help="ingester processes in the batched run (default %(default)s)"
    )
    parser.add_argument("--lag-rate", type=int, help="readings/s of the paced lag run (default 10000)")
    parser.add_argument("--lag-seconds", type=float, help="length of the paced lag run (default 20)")
    parser.add_argument(
        "--lag-ingesters", type=int, default=1, help="ingester processes in the paced lag run (default %(default)s)"
    )
    parser.add_argument("--naive-messages", type=int, help="messages for the naive ingester (default 20000)")
    parser.add_argument("--batch-size", type=int, help="STREETLIGHT_INGEST_BATCH_SIZE for the ingesters")
    parser.add_argument("--flush-interval-s", type=float, help="STREETLIGHT_INGEST_FLUSH_INTERVAL_S for the ingesters")
    parser.add_argument(
        "--repeat",
        type=int,
        help="run each measurement this many times and report the median by readings/s, with the range"
        " (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        help="before each run, wait up to this long for other work to drop below"
        f" {QUIET_BELOW * 100:.0f}%% of the machine (default 300; 15 with --quick; the share is printed anyway)",
    )
    parser.add_argument("--skip", default="", help=f"comma-separated runs to leave out: {','.join(RUNS)}")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample every ingester with py-spy (installed separately) into DIR, raw folded stacks",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts for a smoke run under a minute: 20000 readings, 1000 lamps, 2000 naive "
        "messages, lag run at 2000/s for 5 s, no repeats (explicit options still win)",
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:  # explicit options win over --quick
            setattr(args, key, value)
    positive = (
        "messages",
        "lamps",
        "publishers",
        "batch_readings",
        "batched_ingesters",
        "lag_rate",
        "lag_seconds",
        "lag_ingesters",
        "naive_messages",
    )
    for key in positive:
        if getattr(args, key) <= 0:
            parser.error(f"--{key.replace('_', '-')} must be positive")
    skip = {v.strip() for v in args.skip.split(",") if v.strip()}
    if skip - set(RUNS):
        parser.error(f"--skip: unknown run(s) {', '.join(sorted(skip - set(RUNS)))}; choose from {', '.join(RUNS)}")
    return Options(
        timescale_url=args.timescale_url,
        mqtt_url=args.mqtt_url,
        messages=args.messages,
        lamps=args.lamps,
        publishers=args.publishers,
        publisher=args.publisher,
        ingesters=_counts(parser, "--ingesters", args.ingesters),
        backlog_ingesters=_counts(parser, "--backlog-ingesters", args.backlog_ingesters),
        batch_readings=args.batch_readings,
        batched_ingesters=args.batched_ingesters,
        lag_rate=args.lag_rate,
        lag_seconds=args.lag_seconds,
        lag_ingesters=args.lag_ingesters,
        naive_messages=args.naive_messages,
        batch_size=args.batch_size,
        flush_interval_s=args.flush_interval_s,
        py_spy_dir=args.py_spy,
        quiet_wait_s=args.quiet_wait_s,
        repeat=args.repeat,
        skip=skip,
    )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, too, stops what was started and drops the databases


def main(argv: Sequence[str] | None = None) -> int:
    o = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(o)
    say(f"ingest benchmark {bench.rid}: TimescaleDB {o.timescale_url}, broker {o.mqtt_url}")
    results: list[RunResult] = []
    machine: list[tuple[str, str]] = []
    try:
        with fresh_database(o.timescale_url, bench.name("info")) as url:
            machine = describe_machine(url, o.mqtt_url)

        def run(label: str, method, *args, note: str = "", **kwargs) -> None:
            """Run `o.repeat` times; keep the median by readings/s, with every attempt attached.

            An attempt that fails (a server restarted by someone else, a timeout) is
            reported and left out of the median; the others still count.
            """
            attempts = []
            for attempt in range(1, o.repeat + 1):
                bench.attempt = attempt
                other = bench.wait_for_quiet()
                try:
                    result = method(*args, **kwargs)
                except (BenchmarkError, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
                    say(f"  {label}: attempt {attempt} failed: {exc}")
                    bench.keep_logs = True
                    result = RunResult(label, "-", 0, 0, 0, error=str(exc).splitlines()[0][:120])
                result.other_load = other
                if other > QUIET_BELOW:
                    result.note = "; ".join(filter(None, (result.note, f"machine {other:.0%} busy before")))
                attempts.append(result)
            # Someone else's work slows an attempt down; such an attempt is not a measurement
            # of this system. The median is taken over the undisturbed attempts when there are any.
            succeeded = [r for r in attempts if r.error is None] or attempts
            undisturbed = [r for r in succeeded if r.untracked <= DISTURBED_ABOVE and not r.restarted] or succeeded
            ranked = sorted(undisturbed, key=lambda r: r.stored_per_s or 0.0)
            chosen = ranked[(len(ranked) - 1) // 2]
            chosen.attempts = attempts
            restarts = [
                f"attempt {n}: {' and '.join(r.restarted)} restarted by other work during the run"
                for n, r in enumerate(attempts, 1)
                if r.restarted
            ]
            chosen.note = "; ".join(filter(None, (note, chosen.note, *restarts)))
            results.append(chosen)

        if "broker" not in o.skip:
            run("broker", bench.run_broker_ceiling)
        if "broker-backlog" not in o.skip:
            run("broker-backlog", bench.run_broker_ceiling, backlog=True)
        if "naive" not in o.skip:
            run("naive", bench.run_naive)
        if "single" not in o.skip:
            for n in o.ingesters:
                run(f"single-x{n}", bench.run_ingesters, f"single-x{n}", n, o.messages)
        if "batched" not in o.skip:
            n = o.batched_ingesters
            run(
                f"batched{o.batch_readings}-x{n}",
                bench.run_ingesters,
                f"batched{o.batch_readings}-x{n}",
                n,
                o.messages,
                readings_per_message=o.batch_readings,
            )
        if "backlog" not in o.skip:
            for n in o.backlog_ingesters:
                run(
                    f"backlog-x{n}",
                    bench.run_ingesters,
                    f"backlog-x{n}",
                    n,
                    o.messages,
                    backlog=True,
                    note="queued first, then drained",
                )
        if "lag" not in o.skip:
            n = o.lag_ingesters
            run(
                f"paced-x{n}",
                bench.run_ingesters,
                f"paced-x{n}",
                n,
                int(o.lag_rate * o.lag_seconds),
                readings_per_s=o.lag_rate,
                note=f"paced at {o.lag_rate:,}/s for {o.lag_seconds:g} s",
            )
    except (BenchmarkError, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
        bench.keep_logs = True
        say(f"\nbenchmark aborted: {exc}")
        if results:
            print_results(results, machine, o)
        return 1
    except KeyboardInterrupt:
        bench.keep_logs = True
        say("\ninterrupted")
        return 130
    finally:
        bench.cleanup()
    print_results(results, machine, o)
    return 0 if all(r.check in ("OK", "-") for r in results) else 1  # a loss, a double or no result


if __name__ == "__main__":
    sys.exit(main())
