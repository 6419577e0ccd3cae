"""Plans onto the broker: retained, QoS 1, and known to be taken only once the broker acknowledges.

paho numbers QoS 1 messages with a 16-bit id, so no more than `window` messages are
ever outstanding at once (a town-wide push of 100,000 plans goes out in waves as the
acknowledgements come back).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as paho

from core.contract import Topics
from core.mqtt import BrokerConfig, make_client

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 2000


class PlanPublisher:
    def __init__(
        self, broker: BrokerConfig, *, topic_prefix: str, client_id: str, window: int = DEFAULT_WINDOW
    ) -> None:
        if not 1 <= window < 65535:
            raise ValueError("window must be between 1 and 65534 messages")
        self.topics = Topics(topic_prefix)
        self.window = window
        self.broker = broker
        self._client = make_client(broker, client_id=client_id, clean_session=True)
        # 0: paho keeps no limit of its own (its limit costs a scan of every message in
        # flight on each acknowledgement); `window` is the limit.
        self._client.max_inflight_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._connected = threading.Event()
        # Never held across a paho call: paho runs on_publish under its own locks.
        self._lock = threading.Condition()
        self._waiting: dict[int, str] = {}  # mid -> key of the message
        self._early: set[int] = set()  # acknowledged before publish() returned its mid
        self._taken: list[str] = []
        self._last_ack_s = time.monotonic()  # when the broker last acknowledged a plan

    # --- connection ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the plan publisher: %s", reason_code)
            return
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()

    def connect(self, timeout_s: float = 30.0) -> None:
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError(f"the plan publisher could not connect to {self.broker} within {timeout_s:.0f} s")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # --- publishing ---------------------------------------------------------
    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self._last_ack_s = time.monotonic()
            key = self._waiting.pop(mid, None)
            if key is None:
                self._early.add(mid)
            else:
                self._taken.append(key)
            # Wake the publishing thread only when it has room for a good batch again.
            if len(self._waiting) <= self.window // 2:
                self._lock.notify_all()

    def publish_plans(
        self,
        messages: Iterable[tuple[str, bytes]],
        *,
        timeout_s: float = 120.0,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Publish (lamp_id, plan JSON) pairs retained at QoS 1; return the lamp ids the broker took.

        Gives up only once the broker has acknowledged nothing for `timeout_s` while plans
        wait for it, however long the whole push takes: a slow broker delays a large push,
        a silent one ends it. What was not taken is left out of the result (the caller
        publishes it again later).
        """
        with self._lock:
            self._taken = []
            self._early.clear()
            self._waiting.clear()
            self._last_ack_s = time.monotonic()
        sent = 0
        for lamp_id, payload in messages:
            with self._lock:
                if len(self._waiting) >= self.window and not self._wait_until_at_most(self.window - 1, timeout_s):
                    return self._give_up(sent)
            info = self._client.publish(self.topics.plan(lamp_id), payload, qos=1, retain=True)
            sent += 1
            if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
                continue  # its number is still held by a message given up on earlier: not taken now
            with self._lock:
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self._taken.append(lamp_id)
                else:
                    if not self._waiting:  # nothing was owed: the broker has not been silent until now
                        self._last_ack_s = time.monotonic()
                    self._waiting[info.mid] = lamp_id
            if progress and sent % 10_000 == 0:
                progress(sent)
        with self._lock:
            if not self._wait_until_at_most(0, timeout_s):
                return self._give_up(sent)
            return list(self._taken)

    def _wait_until_at_most(self, waiting: int, silence_s: float) -> bool:
        """Wait (lock held) until no more than `waiting` plans are unacknowledged.

        False once the broker has acknowledged nothing for `silence_s`: the silence is
        counted from the last acknowledgement, not from the start of the push, so a push
        of any size may take as long as the broker needs while it keeps answering.
        """
        while len(self._waiting) > waiting:
            remaining_s = self._last_ack_s + silence_s - time.monotonic()
            if remaining_s <= 0:
                return False
            self._lock.wait(remaining_s)
        return True

    def _give_up(self, sent: int) -> list[str]:
        # Called with the lock held.
        log.warning(
            "the broker %s took %d of %d plans sent; the rest go out again later", self.broker, len(self._taken), sent
        )
        self._waiting.clear()
        return list(self._taken)
