"""The paho-mqtt load generator (``--publisher paho``), run in a publisher process of its own."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import paho.mqtt.client as paho

from benchmarks.common import BenchmarkError, mqtt_client
from benchmarks.ingest.messages import STALL_S, LoadSpec, Stamper, reading_json
from core.contract import Topics


class PahoPublisher:
    """Publishes a spec's messages at QoS 1 through paho, driving its network loop itself."""

    def __init__(self, spec: LoadSpec, report: dict[str, Any]) -> None:
        self.spec = spec
        self.report = report
        self.client, self.broker = mqtt_client(spec.mqtt_url, spec.client_id)
        self.client.max_inflight_messages_set(spec.window + 100)
        self.acked = 0
        self.client.on_publish = self._on_publish

    def _on_publish(self, client: paho.Client, userdata: object, mid: int, reason_code: object, properties: object):
        self.acked += 1

    def connect(self) -> None:
        # No network thread: publish() writes to the socket at once and this loop
        # reads the acknowledgements itself, the cheapest way to drive paho.
        self.client.connect(self.broker.host, self.broker.port, keepalive=60)
        deadline = time.monotonic() + 15
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise BenchmarkError(f"publisher {self.spec.client_id} could not connect to {self.broker}")
            self.client.loop(0.05)

    def reconnect(self) -> None:
        # The broker may be restarted under us (it is shared): paho re-sends what
        # was not acknowledged once the connection is back (duplicates are harmless).
        client = self.client
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
        self.report["reconnects"] += 1

    def service_network(self, timeout_s: float = 0.0) -> None:
        client = self.client
        if timeout_s > 0:
            rc = client.loop(timeout_s)
        else:
            rc = client.loop_read()
            if rc == paho.MQTT_ERR_SUCCESS and client.want_write():
                rc = client.loop_write()
        if rc == paho.MQTT_ERR_SUCCESS:
            rc = client.loop_misc()
        if rc != paho.MQTT_ERR_SUCCESS or not client.is_connected():
            self.reconnect()

    def publish_all(self, published: Any, acked_counter: Any) -> None:
        """Every message of the spec, paced if it says so, at most `window` unacknowledged."""
        spec = self.spec
        lamp_topics = [Topics(spec.topic_prefix).telemetry(lamp_id) for lamp_id in spec.lamp_ids]
        stamper = Stamper()
        per_message = spec.readings_per_message
        n_lamps = len(lamp_topics)
        self.report["first_publish"] = time.time()
        started = time.monotonic()
        last_ack_progress = (0, started)
        for i in range(spec.messages):
            if spec.messages_per_s:
                while i >= (time.monotonic() - started) * spec.messages_per_s:
                    self.service_network(0.001)
            while i - self.acked >= spec.window:
                self.service_network(0.005)
                if self.acked != last_ack_progress[0]:
                    last_ack_progress = (self.acked, time.monotonic())
                elif time.monotonic() - last_ack_progress[1] > STALL_S:
                    raise BenchmarkError(f"the broker stopped acknowledging ({self.acked} of {i} acknowledged)")
            seq = i // n_lamps  # this lamp's message counter
            if per_message == 1:
                payload = reading_json(stamper.stamp(), seq)
            else:
                payload = (
                    "["
                    + ",".join(reading_json(stamper.stamp(), seq * per_message + k) for k in range(per_message))
                    + "]"
                )
            self.client.publish(lamp_topics[i % n_lamps], payload.encode(), qos=1)
            if i % 64 == 63:
                self.service_network()
                if i % 1024 == 1023:
                    published.value = i + 1
                    acked_counter.value = self.acked
        self.report["last_publish"] = time.time()
        published.value = spec.messages

    def drain(self, acked_counter: Any) -> None:
        """Wait (up to STALL_S) for the last acknowledgements, then disconnect."""
        deadline = time.monotonic() + STALL_S
        while self.acked < self.spec.messages and time.monotonic() < deadline:
            self.service_network(0.01)
        acked_counter.value = self.acked
        self.report["all_acked"] = time.time() if self.acked >= self.spec.messages else None
        self.report["acked"] = self.acked
        self.client.disconnect()


def publish_with_paho(spec: LoadSpec, ready: Any, go: Any, results: Any, published: Any, acked_counter: Any) -> None:
    """Publish `spec.messages` at QoS 1 with paho and report first publish, last publish and last ack times."""
    report: dict[str, Any] = {"client_id": spec.client_id, "error": None}
    try:
        publisher = PahoPublisher(spec, report)
        publisher.connect()
        ready.set()
        if not go.wait(120):
            raise BenchmarkError("never told to start")
        report["reconnects"] = 0
        publisher.publish_all(published, acked_counter)
        publisher.drain(acked_counter)
    except Exception as exc:  # reported to the parent, which prints it
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        results.put(report)
