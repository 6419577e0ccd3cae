"""Simulated lamp controllers on MQTT, speaking exactly the contract of core.contract.

The physics lives in simulators.engine; this module only moves its output over
the wire: readings and events out, plans in, acknowledgements out, status with
a last will, and the backlog of an offline controller sent as a batch when it
comes back.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from pydantic import ValidationError

from core.contract import (
    MAX_PAYLOAD_BYTES,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Plan,
    PlanAck,
    TopicKind,
    Topics,
    to_json_bytes,
)
from core.mqtt import BrokerConfig, Will, make_client

log = logging.getLogger(__name__)

# Readings per message when an offline controller sends its backlog; keeps each
# message well under the 64 KiB limit of the contract.
BACKLOG_CHUNK = 100
# Beyond this many lamps, one MQTT connection per lamp costs more than it shows.
PER_LAMP_CONNECTION_LIMIT = 2000
# paho numbers QoS 1 messages with 16 bits and refuses a message whose number is still
# in use: with more than 65,535 unacknowledged messages on one connection, the next ones
# would be dropped. Publishing waits for the broker below this many.
MAX_UNACKNOWLEDGED = 20_000
RETAINED_SETTLE_S = 0.5


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    broker: BrokerConfig
    topic_prefix: str
    lamps: int = 1500
    seed: int = 1
    speed: float = 1.0
    report_interval_s: float = 600.0
    start: datetime | None = None
    end: datetime | None = None
    duration_s: float | None = None
    batch: int = 1
    # While the simulated time is far behind the wall clock (a backfill), send this
    # many readings per message instead; 0 keeps `batch` throughout.
    catch_up_batch: int = 0
    truth_path: Path | None = None
    town_file: Path | None = None
    failure_scale: float | None = None  # None: the engine's default scale
    failure_mix: dict[str, float] | None = None  # mode -> weight of its hazard (others 1)
    outage_scale: float = 1.0  # multiplies how often controllers lose their connection
    connections: str = "shared"
    client_id_prefix: str = "streetlight-sim"
    # Never stamp readings ahead of the wall clock (the service rejects them):
    # once the simulated time catches up with now, run in real time.
    clamp_to_wall_clock: bool = True


@dataclass(slots=True)
class SimulationSummary:
    lamps: int = 0
    steps: int = 0
    readings_generated: int = 0
    readings_published: int = 0
    messages_published: int = 0
    events_published: int = 0
    plans_applied: int = 0
    plans_rejected: int = 0
    went_offline: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    failures: int = 0

    def describe(self) -> str:
        if self.first_ts is not None and self.last_ts is not None:
            span = f"{self.first_ts.isoformat()} .. {self.last_ts.isoformat()}"
        else:
            span = "no steps"
        return (
            f"simulated {self.lamps} lamps over {self.steps} steps ({span}): {self.readings_generated} readings in "
            f"{self.messages_published} messages, {self.events_published} events, {self.failures} failures, "
            f"{self.plans_applied} plans applied, {self.plans_rejected} rejected, {self.went_offline} outages"
        )


def failure_config(options: SimulationOptions):
    from simulators.failures import FailureConfig, with_mode_weights

    base = FailureConfig()
    config = FailureConfig(
        rate_scale=base.rate_scale if options.failure_scale is None else options.failure_scale,
        comm_loss_rate_per_year=base.comm_loss_rate_per_year * options.outage_scale,
        flaky_comm_loss_rate_per_year=base.flaky_comm_loss_rate_per_year * options.outage_scale,
    )
    return with_mode_weights(config, options.failure_mix) if options.failure_mix else config


def load_town(options: SimulationOptions):
    from simulators.town import generate_town, lamps_from_inventory_file

    if options.town_file:
        return lamps_from_inventory_file(options.town_file)
    return generate_town(options.lamps, seed=options.seed)


@dataclass(slots=True)
class _Link:
    """One MQTT connection and the lamps it speaks for."""

    client: paho.Client
    lamp_ids: list[str]
    connected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)


class ControllerFleet:
    """The MQTT side of a simulated fleet. Thread-safe publish; plans arrive on a queue."""

    def __init__(self, options: SimulationOptions, lamp_ids: list[str]) -> None:
        self.options = options
        self.topics = Topics(options.topic_prefix)
        self.plans: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.per_lamp = options.connections == "per-lamp"
        if self.per_lamp and len(lamp_ids) > PER_LAMP_CONNECTION_LIMIT:
            raise ValueError(f"--connections per-lamp is limited to {PER_LAMP_CONNECTION_LIMIT} lamps")
        # Counts, not ids: paho calls on_publish from its network thread while it
        # holds its own locks, so nothing here may be held across client.publish().
        self._published = 0
        self._acknowledged = 0
        self._count_lock = threading.Lock()
        self._all_published = threading.Condition(self._count_lock)
        self._room = threading.Condition(self._count_lock)
        self.broker = options.broker
        self.links: list[_Link] = []
        self.link_of: dict[str, _Link] = {}
        groups = [[lid] for lid in lamp_ids] if self.per_lamp else [lamp_ids]
        for group in groups:
            client_id = (
                f"{options.client_id_prefix}-{group[0]}"
                if self.per_lamp
                else f"{options.client_id_prefix}-{options.seed}"
            )
            will = Will(self.topics.status(group[0]), STATUS_OFFLINE.encode()) if self.per_lamp else None
            client = make_client(options.broker, client_id=client_id, clean_session=False, will=will)
            link = _Link(client, group)
            client.on_connect = self._on_connect_for(link)
            client.on_subscribe = lambda c, u, mid, codes, props, link=link: link.subscribed.set()
            client.on_message = self._on_message
            client.on_publish = self._on_publish
            self.links.append(link)
            for lid in group:
                self.link_of[lid] = link

    # --- connection -------------------------------------------------------
    def _on_connect_for(self, link: _Link):
        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                log.error("broker refused simulator connection: %s", reason_code)
                return
            if self.per_lamp:
                client.subscribe(self.topics.plan(link.lamp_ids[0]), qos=1)
            else:
                client.subscribe(self.topics.subscription(TopicKind.PLAN), qos=1)
            link.connected.set()

        return on_connect

    def connect(self, timeout_s: float = 60.0) -> None:
        for link in self.links:
            link.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
            link.client.loop_start()
        deadline = time.monotonic() + timeout_s
        for link in self.links:
            if not link.subscribed.wait(max(0.1, deadline - time.monotonic())):
                raise TimeoutError(f"simulator could not connect to {self.broker} within {timeout_s:.0f} s")
        # Retained plans follow each subscription's acknowledgement: give them a moment
        # to arrive so that the first simulated step already obeys them.
        time.sleep(RETAINED_SETTLE_S)

    def close(self) -> None:
        for link in self.links:
            link.client.disconnect()
            link.client.loop_stop()

    # --- publishing -------------------------------------------------------
    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._count_lock:
            self._acknowledged += 1
            pending = self._published - self._acknowledged
            if pending <= 0:
                self._all_published.notify_all()
            if pending <= MAX_UNACKNOWLEDGED // 2:
                self._room.notify_all()

    def publish(self, lamp_id: str, topic: str, payload: bytes, *, retain: bool = False) -> None:
        # Queued while disconnected counts too: paho sends it after reconnecting. Beyond
        # MAX_UNACKNOWLEDGED, wait for the broker (also through an outage) rather than lose it.
        with self._count_lock:
            if not self._room.wait_for(lambda: self._published - self._acknowledged < MAX_UNACKNOWLEDGED, 600):
                log.error("the broker has not acknowledged %d messages for 10 minutes", MAX_UNACKNOWLEDGED)
        self.link_of[lamp_id].client.publish(topic, payload, qos=1, retain=retain)
        with self._count_lock:
            self._published += 1

    def wait_all_published(self, timeout_s: float = 300.0) -> bool:
        """Block until the broker has acknowledged every message published so far."""
        with self._count_lock:
            return self._all_published.wait_for(lambda: self._acknowledged >= self._published, timeout_s)

    def pending_count(self) -> int:
        with self._count_lock:
            return max(0, self._published - self._acknowledged)

    def set_status(self, lamp_id: str, online: bool) -> None:
        self.publish(
            lamp_id, self.topics.status(lamp_id), (STATUS_ONLINE if online else STATUS_OFFLINE).encode(), retain=True
        )

    def drop_connection(self, lamp_id: str) -> None:
        """Lose the lamp's link without a goodbye, so the broker publishes its last will.

        paho notices the dead socket and reconnects by itself after its reconnect
        delay; the lamp stays silent until `restore_connection`.
        """
        sock = self.link_of[lamp_id].client.socket()
        if isinstance(sock, socket.socket):  # TCP or TLS; None while disconnected
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore_connection(self, lamp_id: str) -> None:
        """Nothing to do: what is published now waits in paho until the link is back."""

    # --- plans ------------------------------------------------------------
    def _on_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        parsed = self.topics.parse(msg.topic)
        if parsed and parsed.kind is TopicKind.PLAN and parsed.lamp_id in self.link_of:
            self.plans.put((parsed.lamp_id, bytes(msg.payload)))


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Simulation:
    """Drives the engine through time and the fleet over MQTT."""

    def __init__(self, options: SimulationOptions) -> None:
        from simulators.engine import FleetSimulator

        self.options = options
        self.lamps = load_town(options)
        self.lamp_ids = [lamp.lamp_id for lamp in self.lamps]
        start = options.start or datetime.now(UTC).replace(microsecond=0)
        self.start = start
        self.engine = FleetSimulator(
            self.lamps,
            seed=options.seed,
            start=start,
            failure_config=failure_config(options),
            report_interval_s=options.report_interval_s,
        )
        self.fleet = ControllerFleet(options, self.lamp_ids)
        self.topics = self.fleet.topics
        self.summary = SimulationSummary(lamps=len(self.lamps))
        self._pending_batch: dict[str, list[dict]] = defaultdict(list)
        self._backlog: dict[str, list[dict]] = defaultdict(list)
        self._offline: set[str] = set()
        # The latest plan that reached an offline controller waits for it (retained semantics).
        self._deferred_plans: dict[str, bytes] = {}

    def run(self, stop: threading.Event) -> SimulationSummary:
        opts = self.options
        self.fleet.connect()
        try:
            for lamp_id in self.lamp_ids:
                self.fleet.set_status(lamp_id, True)
            interval = timedelta(seconds=opts.report_interval_s)
            real_start = time.monotonic()
            sim_time = self.start
            last_progress = time.monotonic()
            while not stop.is_set():
                if opts.end is not None and sim_time >= opts.end:
                    break
                if opts.duration_s is not None and time.monotonic() - real_start >= opts.duration_s:
                    break
                self._pace(sim_time, real_start, stop)
                if stop.is_set():
                    break
                self._apply_plans(sim_time)
                self._step(sim_time)
                sim_time += interval
                if time.monotonic() - last_progress >= 10:
                    last_progress = time.monotonic()
                    log.info(
                        "simulated up to %s: %d readings, %d failures, %d messages awaiting the broker",
                        sim_time.isoformat(),
                        self.summary.readings_generated,
                        self.summary.failures,
                        self.fleet.pending_count(),
                    )
            self._apply_plans(sim_time)
            self._flush_all()
            if not self.fleet.wait_all_published(timeout_s=600):
                log.error("%d messages were not acknowledged by the broker", self.fleet.pending_count())
        finally:
            if opts.truth_path:
                self.engine.write_truth(opts.truth_path)
                log.info("ground truth written to %s", opts.truth_path)
            self.fleet.close()
        return self.summary

    def _pace(self, sim_time: datetime, real_start: float, stop: threading.Event) -> None:
        opts = self.options
        waits = []
        if opts.speed > 0:
            due = real_start + (sim_time - self.start).total_seconds() / opts.speed
            waits.append(due - time.monotonic())
        if opts.clamp_to_wall_clock:
            waits.append((sim_time - datetime.now(UTC)).total_seconds())
        delay = max(waits, default=0.0)
        if delay > 0:
            stop.wait(delay)

    def _step(self, now: datetime) -> None:
        result = self.engine.step(now)
        s = self.summary
        s.steps += 1
        s.first_ts = s.first_ts or now
        s.last_ts = now
        for lamp_id in result.went_offline:
            self._go_offline(lamp_id)
        batch = self.options.batch
        if self.options.catch_up_batch > 1:
            behind_s = (datetime.now(UTC) - now).total_seconds()
            if behind_s > self.options.catch_up_batch * self.options.report_interval_s:
                batch = self.options.catch_up_batch
        for lamp_id, payload in result.readings:
            s.readings_generated += 1
            if lamp_id in self._offline:
                self._backlog[lamp_id].append(payload)
                continue
            pending = self._pending_batch[lamp_id]
            pending.append(payload)
            if len(pending) >= batch:
                self._send_readings(lamp_id, pending)
                pending.clear()
        for lamp_id, event in result.events:
            if event.get("type") == "lamp_failure":
                s.failures += 1
            if lamp_id in self._offline:
                self._backlog[lamp_id].append({"__event__": event})
                continue
            self.fleet.publish(lamp_id, self.topics.event(lamp_id), json.dumps(event).encode())
            s.events_published += 1
        for lamp_id in result.came_online:
            self._come_online(lamp_id)

    def _send_readings(self, lamp_id: str, readings: list[dict]) -> None:
        topic = self.topics.telemetry(lamp_id)
        if len(readings) == 1:
            self.fleet.publish(lamp_id, topic, json.dumps(readings[0], separators=(",", ":")).encode())
            self.summary.messages_published += 1
        else:
            for chunk in _chunks(readings, BACKLOG_CHUNK):
                body = json.dumps(chunk, separators=(",", ":")).encode()
                if len(body) > MAX_PAYLOAD_BYTES:  # never by construction; guard against drift
                    for one in chunk:
                        self.fleet.publish(lamp_id, topic, json.dumps(one, separators=(",", ":")).encode())
                        self.summary.messages_published += 1
                    continue
                self.fleet.publish(lamp_id, topic, body)
                self.summary.messages_published += 1
        self.summary.readings_published += len(readings)

    def _go_offline(self, lamp_id: str) -> None:
        if lamp_id in self._offline:
            return
        self._offline.add(lamp_id)
        self.summary.went_offline += 1
        pending = self._pending_batch.pop(lamp_id, [])
        self._backlog[lamp_id].extend(pending)
        if self.fleet.per_lamp:
            self.fleet.drop_connection(lamp_id)
        else:
            self.fleet.set_status(lamp_id, False)

    def _come_online(self, lamp_id: str) -> None:
        if lamp_id not in self._offline:
            return
        self._offline.discard(lamp_id)
        if self.fleet.per_lamp:
            self.fleet.restore_connection(lamp_id)
        self.fleet.set_status(lamp_id, True)
        if lamp_id in self._deferred_plans:
            self.fleet.plans.put((lamp_id, self._deferred_plans.pop(lamp_id)))
        backlog = self._backlog.pop(lamp_id, [])
        readings = [item for item in backlog if "__event__" not in item]
        for item in backlog:
            if "__event__" in item:
                self.fleet.publish(lamp_id, self.topics.event(lamp_id), json.dumps(item["__event__"]).encode())
                self.summary.events_published += 1
        if readings:
            # The backfill after an outage: a JSON array of the missed readings.
            for chunk in _chunks(readings, BACKLOG_CHUNK):
                self.fleet.publish(
                    lamp_id, self.topics.telemetry(lamp_id), json.dumps(chunk, separators=(",", ":")).encode()
                )
                self.summary.messages_published += 1
            self.summary.readings_published += len(readings)

    def _flush_all(self) -> None:
        for lamp_id in list(self._offline):
            self._come_online(lamp_id)
        for lamp_id, pending in self._pending_batch.items():
            if pending:
                self._send_readings(lamp_id, pending)
        self._pending_batch.clear()

    def answer_plans(self, stop: threading.Event, poll_s: float = 0.05, on_ready=None) -> SimulationSummary:
        """Only receive, apply and answer plans, with no telemetry, until `stop` (the plan benchmark).

        Each plan goes through the engine's own acceptance rules, as in `run`.
        `on_ready()` is called once the fleet is connected and subscribed.
        """
        self.fleet.connect()
        if on_ready:
            on_ready()
        try:
            while not stop.is_set():
                self._apply_plans(datetime.now(UTC))
                stop.wait(poll_s)
            self._apply_plans(datetime.now(UTC))
            self.fleet.wait_all_published(timeout_s=60)
        finally:
            self.fleet.close()
        return self.summary

    def _apply_plans(self, now: datetime) -> None:
        while True:
            try:
                lamp_id, payload = self.fleet.plans.get_nowait()
            except queue.Empty:
                return
            if lamp_id in self._offline:
                self._deferred_plans[lamp_id] = payload
                continue
            try:
                plan = Plan.model_validate_json(payload)
            except ValidationError as exc:
                ack = PlanAck(
                    version=_version_of(payload), status="rejected", reason=f"invalid plan: {exc.errors()[0]['msg']}"
                )
            else:
                applied, reason = self.engine.apply_plan(lamp_id, plan)
                ack = PlanAck(version=plan.version, status="applied" if applied else "rejected", reason=reason)
            if ack.status == "applied":
                self.summary.plans_applied += 1
            else:
                self.summary.plans_rejected += 1
            self.fleet.publish(lamp_id, self.topics.plan_ack(lamp_id), to_json_bytes(ack))


def _version_of(payload: bytes) -> int:
    try:
        version = json.loads(payload).get("version")
        return version if isinstance(version, int) and version >= 0 else 0
    except (ValueError, AttributeError):
        return 0


def run_simulation(options: SimulationOptions, stop: threading.Event) -> SimulationSummary:
    simulation = Simulation(options)
    log.info(
        "simulating %d lamps from %s (interval %.0f s, speed %s) on %s",
        len(simulation.lamps),
        simulation.start.isoformat(),
        options.report_interval_s,
        "max" if options.speed <= 0 else f"x{options.speed:g}",
        simulation.fleet.broker,
    )
    return simulation.run(stop)
