"""The ingester's MQTT client against real brokers: every byte read, every acknowledgement sent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from core.mqtt import BrokerConfig, make_client
from ingest.mqtt import READ_CHUNK, IngestClient
from streetlight.embedded import EmbeddedBroker
from tests.helpers import Publisher, wait_until

pytestmark = pytest.mark.mqtt


@pytest.fixture(params=["mosquitto", "embedded"])
def broker_url(request, mqtt_url: str) -> Iterator[str]:
    """The project's Mosquitto, and the demo's in-process broker."""
    if request.param == "mosquitto":
        yield mqtt_url
        return
    with EmbeddedBroker() as url:
        yield url


class Subscriber:
    """An IngestClient with a persistent session that records what it receives and acknowledges nothing itself."""

    def __init__(self, url: str, client_id: str, topic: str) -> None:
        broker = BrokerConfig.from_url(url)
        self.client = make_client(
            broker, client_id=client_id, clean_session=False, manual_ack=True, client_class=IngestClient
        )
        self.url, self.client_id = url, client_id
        self.received: list[paho.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.subacks: set[int] = set()
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda client, userdata, message: self.received.append(message)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        assert self.subscribed.wait(15)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.subacks.add(mid)
        self.subscribed.set()

    def settle(self) -> None:
        """Wait until the broker has handled everything sent so far: it answers a SUBSCRIBE
        only after the packets before it. (Acknowledgements still unhandled when a client
        disconnects are dropped, and their messages redelivered to the next session.)"""
        _, mid = self.client.subscribe(f"{self.client_id}/settle", qos=0)
        wait_until(lambda: mid in self.subacks, 30, 0.01, what="the broker to answer")

    def close(self, forget: bool = True) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        if forget:
            forget_session(self.url, self.client_id)


def forget_session(url: str, client_id: str) -> None:
    """End the broker's persistent session of `client_id` (a clean-session connection)."""
    broker = BrokerConfig.from_url(url)
    client = make_client(broker, client_id=client_id, clean_session=True)
    client.connect(broker.host, broker.port, keepalive=10)
    client.loop_start()
    wait_until(client.is_connected, 15, what="a clean-session connection")
    client.disconnect()
    client.loop_stop()


def payload(n: int, size: int = 200) -> bytes:
    head = f"message {n:06d} ".encode()
    return head + b"x" * (size - len(head))


def publish(url: str, topic: str, payloads: list[bytes]) -> None:
    publisher = Publisher(url, f"pub-{uuid.uuid4().hex[:8]}")
    try:
        for body in payloads:
            publisher.publish(topic, body)
        publisher.wait_acked(60)
    finally:
        publisher.close()


def test_every_message_arrives_whole_and_in_order(broker_url: str, topic_prefix: str) -> None:
    # Far more than one read's worth, and messages larger than a read, which arrive in pieces.
    bodies = [payload(n) for n in range(3000)]
    bodies[1000] = payload(1000, size=3 * READ_CHUNK + 17)
    bodies[2999] = payload(2999, size=READ_CHUNK)
    topic = f"{topic_prefix}/lamps/L1/telemetry"
    subscriber = Subscriber(broker_url, f"sub-{uuid.uuid4().hex[:8]}", topic)
    try:
        publish(broker_url, topic, bodies)
        wait_until(lambda: len(subscriber.received) >= len(bodies), 60, what="every message")
        assert [m.payload for m in subscriber.received] == bodies
        assert {m.topic for m in subscriber.received} == {topic}
        assert subscriber.client.buffered_bytes() == 0
        subscriber.client.ack_all(m.mid for m in subscriber.received)
    finally:
        subscriber.close()


@pytest.mark.parametrize("acknowledged", [True, False])
def test_ack_all_acknowledges_and_only_that(mqtt_url: str, topic_prefix: str, acknowledged: bool) -> None:
    """Acknowledged messages are gone from the session; unacknowledged ones come back on reconnection.

    Mosquitto only: the demo's embedded broker does not redeliver to a resumed session."""
    broker_url = mqtt_url
    topic = f"{topic_prefix}/lamps/L1/telemetry"
    client_id = f"sub-{uuid.uuid4().hex[:8]}"
    bodies = [payload(n) for n in range(500)]
    first = Subscriber(broker_url, client_id, topic)
    try:
        publish(broker_url, topic, bodies)
        wait_until(lambda: len(first.received) >= len(bodies), 60, what="every message")
        if acknowledged:
            first.client.ack_all(m.mid for m in first.received[:300])
        first.settle()
    finally:
        first.close(forget=False)  # a clean disconnect sends what was queued first
    again = Subscriber(broker_url, client_id, topic)
    try:
        expected = bodies[300:] if acknowledged else bodies
        wait_until(lambda: len(again.received) >= len(expected), 30, what="the redelivery")
        assert [m.payload for m in again.received] == expected
        again.client.ack_all(m.mid for m in again.received)
        again.settle()
    finally:
        again.close(forget=False)
    last = Subscriber(broker_url, client_id, topic)
    try:
        publish(broker_url, topic, [b"the end"])
        wait_until(lambda: len(last.received) >= 1, 30, what="the last message")
        assert [m.payload for m in last.received] == [b"the end"]  # nothing left over
    finally:
        last.close()


def test_topic_callbacks_still_work(broker_url: str, topic_prefix: str) -> None:
    events, others = [], []
    subscriber = Subscriber(broker_url, f"sub-{uuid.uuid4().hex[:8]}", f"{topic_prefix}/lamps/+/+")
    try:
        on_event = lambda c, u, m: events.append(m.payload)  # noqa: E731
        subscriber.client.message_callback_add(f"{topic_prefix}/lamps/+/event", on_event)
        subscriber.client.on_message = lambda c, u, m: others.append(m.payload)
        publish(broker_url, f"{topic_prefix}/lamps/L1/event", [b"e1", b"e2"])
        publish(broker_url, f"{topic_prefix}/lamps/L1/telemetry", [b"t1"])
        wait_until(lambda: len(events) + len(others) >= 3, 30, what="the three messages")
        assert (events, others) == ([b"e1", b"e2"], [b"t1"])
    finally:
        subscriber.close()
