"""The reference: an ingester written the obvious way, one INSERT and one commit per message.

It runs in a process of its own. paho acknowledges a message when the callback
returns, after the commit, which gives the same guarantee as the service.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import paho.mqtt.client as paho
import psycopg
from pydantic import ValidationError

from benchmarks.common import BenchmarkError, mqtt_client
from core.contract import MEASUREMENT_FIELDS, TelemetryReading, TopicKind, Topics

_COLUMNS = ("lamp_id", "ts", "seq", *MEASUREMENT_FIELDS)
_INSERT = (
    f"INSERT INTO readings ({', '.join(_COLUMNS)}, received_at)"
    f" VALUES ({', '.join(['%s'] * len(_COLUMNS))}, clock_timestamp())"
    " ON CONFLICT (lamp_id, ts) DO NOTHING"
)


def _naive_ingester_main(database_url: str, mqtt_url: str, prefix: str, client_id: str, ready: Any, stop: Any) -> None:
    """The obvious design: decode in the MQTT callback, INSERT, commit; paho acknowledges on return."""
    topics = Topics(prefix)
    conn = psycopg.connect(database_url, connect_timeout=5)

    def on_connect(client: paho.Client, userdata: object, flags: object, reason_code: object, properties: object):
        client.subscribe(topics.subscription(TopicKind.TELEMETRY), qos=1)

    def on_subscribe(client: paho.Client, userdata: object, mid: int, reason_codes: object, properties: object):
        ready.set()

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        parsed = topics.parse(msg.topic)
        if parsed is None:
            return
        try:
            reading = TelemetryReading.model_validate_json(msg.payload)
        except ValidationError:
            return
        conn.execute(_INSERT, (parsed.lamp_id, *(getattr(reading, name) for name in _COLUMNS[1:])))
        conn.commit()

    client, broker = mqtt_client(mqtt_url, client_id, clean_session=False)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(broker.host, broker.port, keepalive=30)
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

    @property
    def pid(self) -> int:
        if self.process.pid is None:
            raise BenchmarkError("the naive ingester has not started")
        return self.process.pid

    def check_alive(self) -> None:
        if not self.process.is_alive():
            raise BenchmarkError("the naive ingester died")

    def stop(self) -> None:
        self._stop.set()
        self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
