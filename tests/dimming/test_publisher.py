"""The plan publisher against the real broker, through a proxy that makes the broker slow.

The proxy forwards what the publisher sends at once and holds everything the broker
sends back (the acknowledgements) for a fixed latency, as a broker busy on shared
processors does.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.mqtt import BrokerConfig
from dimming.publisher import PlanPublisher

pytestmark = [pytest.mark.mqtt]

PUBACK_BYTES = 4  # MQTT 3.1.1: fixed header, length, packet id


class SlowBrokerProxy:
    """One connection to the broker; what the broker answers reaches the client `latency_s` late."""

    def __init__(self, broker: BrokerConfig, latency_s: float) -> None:
        self.broker = broker
        self.latency_s = latency_s
        self.delivered_bytes = 0  # broker -> client, after the latency
        self._delivered = threading.Condition()
        self._held: deque[tuple[float, bytes]] = deque()
        self._held_ready = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self._listener.accept()
        upstream = socket.create_connection((self.broker.host, self.broker.port))
        self._sockets += [client, upstream]
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._hold, args=(upstream,), daemon=True).start()
        self._release(client)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while (data := _recv(source)) and _send(target, data):
            pass

    def _hold(self, upstream: socket.socket) -> None:
        while data := _recv(upstream):
            with self._held_ready:
                self._held.append((time.monotonic() + self.latency_s, data))
                self._held_ready.notify()

    def _release(self, client: socket.socket) -> None:
        while True:
            with self._held_ready:
                while not self._held:
                    self._held_ready.wait()
                due_s, data = self._held.popleft()
            # The latency is the slow broker itself, not a wait for something to happen.
            time.sleep(max(0.0, due_s - time.monotonic()))
            if not _send(client, data):
                return
            with self._delivered:
                self.delivered_bytes += len(data)
                self._delivered.notify_all()

    def wait_delivered(self, n_bytes: int, timeout_s: float = 60.0) -> None:
        with self._delivered:
            assert self._delivered.wait_for(lambda: self.delivered_bytes >= n_bytes, timeout_s)

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


@pytest.fixture
def clean_plans(mqtt_url, topic_prefix) -> Iterator[list[str]]:
    lamp_ids: list[str] = []
    yield lamp_ids
    cleaner = PlanPublisher(
        BrokerConfig.from_url(mqtt_url), topic_prefix=topic_prefix, client_id=f"plan-clean-{uuid.uuid4().hex[:8]}"
    )
    cleaner.connect()
    try:
        assert len(cleaner.publish_plans((lamp_id, b"") for lamp_id in lamp_ids)) == len(lamp_ids)
    finally:
        cleaner.close()


def test_a_push_slower_than_the_timeout_ends_with_every_plan_taken(mqtt_url, topic_prefix, clean_plans):
    """The broker keeps answering, just late: a push several timeouts long loses nothing.

    The plans go out in batches, each only once the broker acknowledged the one before
    (as when publishing competes for the processors with the broker), so that the
    acknowledged part of the push alone lasts longer than the timeout; the last batch's
    acknowledgements then come a latency after the previous ones.
    """
    latency_s, timeout_s, batches, batch = 1.3, 3.0, 4, 500
    assert (batches - 1) * latency_s > timeout_s  # the push outlasts the timeout by construction
    upstream = BrokerConfig.from_url(mqtt_url)
    proxy = SlowBrokerProxy(upstream, latency_s)
    broker = replace(upstream, host="127.0.0.1", port=proxy.port)
    publisher = PlanPublisher(broker, topic_prefix=topic_prefix, client_id=f"plans-{uuid.uuid4().hex[:8]}")
    clean_plans += [f"L{n:05d}" for n in range(batches * batch)]
    try:
        publisher.connect()
        connected_bytes = proxy.delivered_bytes  # the CONNACK

        def plans() -> Iterator[tuple[str, bytes]]:
            for b in range(batches):
                if b:
                    proxy.wait_delivered(connected_bytes + b * batch * PUBACK_BYTES)
                    # and taken in by the publisher, so that the next batch alone is outstanding
                    with publisher._lock:
                        assert publisher._lock.wait_for(lambda n=b * batch: len(publisher._taken) >= n, 60)
                for lamp_id in clean_plans[b * batch : (b + 1) * batch]:
                    yield lamp_id, b'{"lamp":"%s"}' % lamp_id.encode()

        taken = publisher.publish_plans(plans(), timeout_s=timeout_s)
    finally:
        publisher.close()
        proxy.close()
    assert len(taken) == batches * batch
    assert sorted(taken) == clean_plans


def test_a_broker_that_stops_answering_ends_the_push_with_what_it_took(mqtt_url, topic_prefix, clean_plans):
    """Silence for the whole timeout ends the push; what was acknowledged before is reported."""
    upstream = BrokerConfig.from_url(mqtt_url)
    proxy = SlowBrokerProxy(upstream, latency_s=0.0)
    broker = replace(upstream, host="127.0.0.1", port=proxy.port)
    publisher = PlanPublisher(broker, topic_prefix=topic_prefix, client_id=f"plans-{uuid.uuid4().hex[:8]}")
    clean_plans += [f"L{n:05d}" for n in range(300)]
    try:
        publisher.connect()
        connected_bytes = proxy.delivered_bytes

        def plans() -> Iterator[tuple[str, bytes]]:
            for n, lamp_id in enumerate(clean_plans):
                if n == 200:
                    proxy.wait_delivered(connected_bytes + 200 * PUBACK_BYTES)
                    proxy.latency_s = 3600.0  # from here on the broker answers nothing
                yield lamp_id, b"{}"

        taken = publisher.publish_plans(plans(), timeout_s=0.5)
    finally:
        publisher.close()
        proxy.close()
    assert sorted(taken) == clean_plans[:200]
