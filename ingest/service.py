"""The ingester: MQTT in, database out, acknowledgement only after commit.

paho's network thread only queues each message, so a slow write never starves its
keep-alives. A writer thread batches what is queued (by size, or after
``flush_interval_s``), writes each batch in one transaction and only then acknowledges
it (``ingest.mqtt.IngestClient``): after a crash the broker redelivers to the persistent
session, and the keyed tables store each row once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import paho.mqtt.client as paho
import psycopg

from core.contract import TopicKind, Topics
from core.mqtt import BrokerConfig, make_client
from ingest.decode import DeadLetter, DeadLetterReason, TopicCache
from ingest.fast_decode import decode_fast
from ingest.mqtt import IngestClient
from ingest.store import LampDirectory, Message, WriteResult, write_batch, write_dead_letters

log = logging.getLogger(__name__)

SUBSCRIBED_KINDS = (TopicKind.TELEMETRY, TopicKind.EVENT, TopicKind.STATUS, TopicKind.PLAN_ACK)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    database_url: str
    broker: BrokerConfig
    topic_prefix: str
    client_id: str = "streetlight-ingest-1"
    share_group: str | None = None
    batch_size: int = 5000
    flush_interval_s: float = 0.2
    retry_max_s: float = 30.0


@dataclass(slots=True)
class IngestStats:
    """Counters since start; read by `snapshot()` from any thread."""

    messages_received: int = 0
    messages_acked: int = 0
    readings_stored: int = 0
    readings_duplicate: int = 0
    events_stored: int = 0
    dead_letters: Counter = field(default_factory=Counter)
    flushes: int = 0
    last_flush_at: float | None = None
    database_available: bool = True
    database_outages: int = 0
    batches_rolled_back: int = 0  # by the database (a deadlock, a serialization failure), then written again
    broker_connected: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, result: WriteResult, acked: int) -> None:
        with self.lock:
            self.messages_acked += acked
            self.readings_stored += result.readings_inserted
            self.readings_duplicate += result.readings_duplicate
            self.events_stored += result.events_inserted
            self.dead_letters.update(result.dead_letters)
            self.flushes += 1
            self.last_flush_at = time.time()

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "messages_received": self.messages_received,
                "messages_acked": self.messages_acked,
                "readings_stored": self.readings_stored,
                "readings_duplicate": self.readings_duplicate,
                "events_stored": self.events_stored,
                "dead_letters": dict(self.dead_letters),
                "flushes": self.flushes,
                "database_available": self.database_available,
                "database_outages": self.database_outages,
                "batches_rolled_back": self.batches_rolled_back,
                "broker_connected": self.broker_connected,
            }


# What the network thread queues for each message, kept to a plain tuple (it runs once
# per message on the busiest thread): topic, payload, mid, qos, connection generation,
# and the time of receipt in seconds since the epoch.
_Received = tuple[str, bytes, int, int, int, float]


class Ingester:
    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.topics = Topics(config.topic_prefix)
        self._topic_cache = TopicCache(self.topics)
        self.stats = IngestStats()
        self._inbox: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._generation = 0  # bumped on every (re)connection: message ids are per connection
        self._generation_lock = threading.Lock()
        self._directory = LampDirectory()
        self._conn: psycopg.Connection | None = None
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.broker = config.broker
        self._client = make_client(
            config.broker,
            client_id=config.client_id,
            clean_session=False,
            manual_ack=True,
            client_class=IngestClient,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self.subscribed = threading.Event()

    # --- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._writer.start()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()
        log.info("ingester %s connecting to %s", self.config.client_id, self.broker)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Flush what is in hand, acknowledge it, disconnect."""
        self._stop.set()
        self._writer.join(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        if self._conn is not None:
            self._conn.close()
        log.info("ingester stopped: %s", self.stats.snapshot())

    def __enter__(self) -> Ingester:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- MQTT network thread: queue only ---------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._generation_lock:
            self._generation += 1
        with self.stats.lock:
            self.stats.broker_connected = True
        subs = [(self.topics.subscription(kind, self.config.share_group), 1) for kind in SUBSCRIBED_KINDS]
        client.subscribe(subs)
        log.info(
            "connected to %s (session %s); subscribed to %s",
            self.broker,
            "resumed" if flags.session_present else "new",
            ", ".join(s for s, _ in subs),
        )
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._generation_lock:
            self._generation += 1
        with self.stats.lock:
            self.stats.broker_connected = False
        if not self._stop.is_set():
            log.warning("disconnected from %s (%s); reconnecting", self.broker, reason_code)

    def _on_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        # paho annotates the payload as bytes or bytearray; its decoder always gives bytes.
        payload = cast(bytes, msg.payload)
        self._inbox.put((msg.topic, payload, msg.mid, msg.qos, self._generation, time.time()))
        self.stats.messages_received += 1  # single writer: the network thread

    # --- writer thread ---------------------------------------------------
    def _next_batch(self) -> list[_Received]:
        """Up to batch_size messages: what is queued, then what arrives within
        flush_interval_s of the first one. Empty after 0.5 s without any."""
        inbox = self._inbox
        try:
            batch = [inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.flush_interval_s
        take = inbox.get_nowait
        while True:
            try:
                for _ in range(self.config.batch_size - len(batch)):
                    batch.append(take())
                return batch
            except queue.Empty:  # drained: wait for more until the deadline
                pass
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return batch
            try:
                batch.append(inbox.get(timeout=timeout))
            except queue.Empty:
                return batch

    def _write_loop(self) -> None:
        topics = self._topic_cache
        utc = UTC
        while True:
            batch = self._next_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            messages = []
            for topic, payload, mid, qos, generation, received_s in batch:
                received_at = datetime.fromtimestamp(received_s, utc)
                decoded = decode_fast(topic, payload, topics, received_at)
                messages.append(Message(topic, payload, received_at, decoded, mid, qos, generation))
            result = self._write_with_retry(messages)
            if result is None:  # stopping while the database is down: leave unacked
                return
            self._acknowledge(messages, result)

    def _acknowledge(self, messages: list[Message], result: WriteResult) -> None:
        # Held against (dis)connection callbacks: an id from an earlier connection
        # means nothing on the next one. The broker redelivers such a message and it
        # is stored (once) and acknowledged then.
        with self._generation_lock:
            generation = self._generation
            current = [m for m in messages if m.qos > 0 and m.generation == generation]
            self._client.ack_all([m.mid for m in current if m.qos == 1])
            for m in current:
                if m.qos == 2:  # never with the QoS 1 subscriptions, but a PUBCOMP is its answer
                    self._client.ack(m.mid, m.qos)
        self.stats.record(result, len(current))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.config.database_url, connect_timeout=5, autocommit=True)
        return self._conn

    def _write_with_retry(self, messages: list[Message]) -> WriteResult | None:
        delay = 0.5
        down_since: float | None = None
        while True:
            try:
                conn = self._connection()
                try:
                    result = write_batch(conn, messages, self._directory)
                except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
                    log.warning("the database rejected a batch (%s); storing its messages one by one", exc)
                    result = self._write_one_by_one(conn, messages)
                if down_since is not None:
                    log.warning(
                        "database reachable again after %.1f s; resumed, nothing lost", time.monotonic() - down_since
                    )
                    with self.stats.lock:
                        self.stats.database_available = True
                return result
            except _ROLLED_BACK as exc:
                # A deadlock with another writer (an inventory import, say) or a serialization
                # failure: the database rolled the batch back whole and is there. Not an outage:
                # the batch is written again at once.
                with self.stats.lock:
                    self.stats.batches_rolled_back += 1
                log.warning("the database rolled a batch back (%s); writing it again", _first_line(exc))
                if self._stop.wait(0.05):
                    return None
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                if down_since is None:
                    down_since = time.monotonic()
                    with self.stats.lock:
                        self.stats.database_available = False
                        self.stats.database_outages += 1
                    log.error(
                        "database unavailable (%s); holding %d messages unacknowledged and retrying with backoff",
                        _first_line(exc),
                        len(messages),
                    )
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, self.config.retry_max_s)

    def _write_one_by_one(self, conn: psycopg.Connection, messages: list[Message]) -> WriteResult:
        total = WriteResult()
        for m in messages:
            try:
                total.add(write_batch(conn, [m], self._directory))
            except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
                dead = DeadLetter(
                    m.topic, m.decoded.lamp_id, DeadLetterReason.STORAGE_REJECTED, str(exc).strip()[:2000], m.payload
                )
                with conn.transaction():
                    write_dead_letters(conn, [dead])
                total.dead_letters[dead.reason.value] += 1
        return total


# What the database answers when it rolls a transaction back to resolve a conflict between
# writers (SQLSTATE class 40; psycopg does not make the two below subclasses of the first).
_ROLLED_BACK = (
    psycopg.errors.TransactionRollback,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_ingester(config: IngestConfig, stop: threading.Event) -> None:
    """Run until `stop` is set (the CLI sets it on SIGINT/SIGTERM)."""
    ingester = Ingester(config)
    ingester.start()
    try:
        last_report = time.monotonic()
        last_stored = 0
        while not stop.wait(1.0):
            if time.monotonic() - last_report >= 60:
                snap = ingester.stats.snapshot()
                rate = (snap["readings_stored"] - last_stored) / (time.monotonic() - last_report)
                log.info(
                    "ingest: %.0f readings/s, %d stored, %d duplicates, dead letters %s",
                    rate,
                    snap["readings_stored"],
                    snap["readings_duplicate"],
                    snap["dead_letters"] or "none",
                )
                last_report, last_stored = time.monotonic(), snap["readings_stored"]
    finally:
        ingester.stop()
