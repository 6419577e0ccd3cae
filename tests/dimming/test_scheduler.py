"""The plan scheduler against real TimescaleDB and Mosquitto.

The schedules themselves come from a stand-in plan source (the unit boundary: the real
resolution from stored profiles is tested in test_resolve.py and end to end in
test_end_to_end.py); everything after it is real: versions in plan_pushes, retained
QoS 1 publishes, answers, retries, the lock, the change notices.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.contract import Plan, PlanPoint
from core.mqtt import BrokerConfig, make_client
from dimming import push_store
from dimming.leader import Leadership
from dimming.push import PushReason
from dimming.scheduler import PlanScheduler, SchedulerOptions, request_push
from tests.helpers import REPO_ROOT, Publisher, ingester_env, scalar, wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.timescale]

LAMPS = [f"L{n:03d}" for n in range(1, 6)]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Schedules:
    """Stand-in plan source: one night shape per lamp (dusk 17:00, a dimmed level 22:00-05:00, off 07:30 UTC)."""

    def __init__(self, lamp_ids: list[str], dimmed: int = 60) -> None:
        self.dimmed = dict.fromkeys(lamp_ids, dimmed)
        self.calls = 0

    def __call__(self, conn, start: datetime, hours: int, tz) -> dict[str, list[PlanPoint]]:
        self.calls += 1
        end = start + timedelta(hours=hours)
        plans = {}
        for lamp_id, dimmed in self.dimmed.items():
            switches = []
            day = start.replace(hour=0, minute=0, second=0) - timedelta(days=1)
            while day < end:
                for hour, level in ((17, 100), (22, dimmed), (29, 100), (31.5, 0)):
                    switches.append((day + timedelta(hours=hour), level))
                day += timedelta(days=1)
            level_now = level_at_end = 0
            points = []
            for at, level in switches:
                if at <= start:
                    level_now = level
                elif at < end:
                    points.append(PlanPoint(at=at, level=level))
                if at <= end:
                    level_at_end = level
            plans[lamp_id] = [PlanPoint(at=start, level=level_now), *points, PlanPoint(at=end, level=level_at_end)]
        return plans


class PlanWatcher:
    """Receives the plans on the broker, retained ones included, keyed by lamp."""

    def __init__(self, mqtt_url: str, prefix: str) -> None:
        self.plans: dict[str, Plan] = {}
        self.received = 0
        broker = BrokerConfig.from_url(mqtt_url)
        self.client = make_client(broker, client_id=f"plan-watch-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(f"{prefix}/lamps/+/plan", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        if msg.payload:
            self.received += 1
            self.plans[msg.topic.split("/")[-2]] = Plan.model_validate_json(msg.payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clean_retained(mqtt_url, topic_prefix):
    yield
    publisher = Publisher(mqtt_url, f"plan-clean-{uuid.uuid4().hex[:8]}")
    for lamp_id in LAMPS:
        publisher.publish(f"{topic_prefix}/lamps/{lamp_id}/plan", b"", retain=True)
    publisher.wait_acked(30)
    publisher.close()


def options(database_url: str, mqtt_url: str, prefix: str, **kw) -> SchedulerOptions:
    return SchedulerOptions(
        database_url=database_url,
        broker=BrokerConfig.from_url(mqtt_url),
        topic_prefix=prefix,
        client_id=f"plans-{uuid.uuid4().hex[:8]}",
        horizon_hours=72,
        **kw,
    )


def pushes(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT lamp_id, version, pushed_at IS NOT NULL, attempts FROM plan_pushes ORDER BY lamp_id, version"
        ).fetchall()


def answer(database_url: str, lamp_id: str, version: int, status: str = "applied") -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE plan_pushes SET ack_status = %s, acked_at = now() WHERE lamp_id = %s AND version = %s",
            (status, lamp_id, version),
        )


def test_first_push_versions_records_and_retains_a_plan_per_lamp(timescale_url, mqtt_url, topic_prefix, clean_retained):
    clock = Clock(T0)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix), source=Schedules(LAMPS), clock=clock)
    result = scheduler.push_once()
    assert result.lamps == 5
    assert result.new_versions == {PushReason.NEW: 5}
    assert result.taken == 5
    assert pushes(timescale_url) == [(lamp_id, 1, True, 1) for lamp_id in LAMPS]
    # A controller that subscribes afterwards gets its plan from the broker (retained).
    watcher = PlanWatcher(mqtt_url, topic_prefix)
    try:
        wait_until(lambda: len(watcher.plans) == 5, 30, what="the retained plans")
    finally:
        watcher.close()
    plan = watcher.plans["L001"]
    assert plan.version == 1
    assert plan.generated_at == T0
    assert plan.points[0].at == T0 and plan.covers_until() == T0 + timedelta(hours=72)
    assert plan.level_at(datetime(2026, 11, 25, 23, 0, tzinfo=UTC)) == 60
    with psycopg.connect(timescale_url) as conn:
        stored = conn.execute("SELECT plan FROM plan_pushes WHERE lamp_id = 'L001'").fetchone()[0]
    assert Plan.model_validate(stored) == plan


def test_only_lamps_whose_plan_changed_get_a_new_version(timescale_url, mqtt_url, topic_prefix, clean_retained):
    clock = Clock(T0)
    schedules = Schedules(LAMPS)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix), source=schedules, clock=clock)
    scheduler.push_once()
    for lamp_id in LAMPS:
        answer(timescale_url, lamp_id, 1)

    clock.now = T0 + timedelta(minutes=10)
    again = scheduler.push_once()
    assert again.new_versions == {} and again.published == 0

    schedules.dimmed["L002"] = 30
    clock.now = T0 + timedelta(minutes=20)
    changed = scheduler.push_once()
    assert changed.new_versions == {PushReason.CHANGED: 1}
    assert [row for row in pushes(timescale_url) if row[1] == 2] == [("L002", 2, True, 1)]
    watcher = PlanWatcher(mqtt_url, topic_prefix)
    try:
        wait_until(lambda: len(watcher.plans) == 5, 30, what="the retained plans")
    finally:
        watcher.close()
    assert watcher.plans["L002"].version == 2
    assert watcher.plans["L002"].level_at(datetime(2026, 11, 25, 23, 0, tzinfo=UTC)) == 30
    assert watcher.plans["L001"].version == 1


def test_plans_are_extended_daily_and_everything_on_request(timescale_url, mqtt_url, topic_prefix, clean_retained):
    clock = Clock(T0)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix), source=Schedules(LAMPS), clock=clock)
    scheduler.push_once()
    for lamp_id in LAMPS:
        answer(timescale_url, lamp_id, 1)
    clock.now = T0 + timedelta(hours=23)
    assert scheduler.push_once().new_versions == {}
    clock.now = T0 + timedelta(hours=24, minutes=5)
    assert scheduler.push_once().new_versions == {PushReason.EXTEND: 5}
    assert scheduler.push_once(force_all=True).new_versions == {PushReason.REQUESTED: 5}
    assert scalar(timescale_url, "SELECT max(version) FROM plan_pushes") == 3


def test_unanswered_plans_are_sent_again_with_backoff(timescale_url, mqtt_url, topic_prefix, clean_retained):
    clock = Clock(T0)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix), source=Schedules(LAMPS), clock=clock)
    scheduler.push_once()
    for lamp_id in LAMPS[:3]:
        answer(timescale_url, lamp_id, 1)
    answer(timescale_url, "L004", 1, "rejected")

    clock.now = T0 + timedelta(seconds=59)
    assert scheduler.push_once().retried == 0  # the first wait is a minute
    clock.now = T0 + timedelta(seconds=61)
    assert scheduler.push_once().retried == 1  # only L005 is unanswered
    assert pushes(timescale_url)[-1] == ("L005", 1, True, 2)
    clock.now = T0 + timedelta(seconds=61 + 119)
    assert scheduler.push_once().retried == 0  # then two minutes
    clock.now = T0 + timedelta(seconds=61 + 121)
    assert scheduler.push_once().retried == 1
    answer(timescale_url, "L005", 1)
    clock.now = T0 + timedelta(hours=2)
    assert scheduler.push_once().retried == 0
    assert [row[3] for row in pushes(timescale_url)] == [1, 1, 1, 1, 3]


def test_a_change_notice_is_pushed_within_seconds(timescale_url, mqtt_url, topic_prefix, clean_retained):
    schedules = Schedules(LAMPS)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix, check_interval_s=3600), source=schedules)
    scheduler.start()
    try:
        wait_until(lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == 5, 60, what="first plans")
        schedules.dimmed["L003"] = 10
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('streetlight_dimming', 'profile 3')")
        wait_until(
            lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE pushed_at IS NOT NULL") == 6,
            60,
            what="the changed plan",
        )
        assert scalar(timescale_url, "SELECT lamp_id FROM plan_pushes WHERE version = 2") == "L003"
        # A push of everything asked for through the channel (the API's and the CLI's way).
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            request_push(conn, everything=True)
        wait_until(lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == 11, 60, what="push of all")
    finally:
        scheduler.stop()


def test_one_of_two_schedulers_pushes_and_the_other_takes_over(timescale_url, mqtt_url, topic_prefix, clean_retained):
    schedules = Schedules(LAMPS)
    fast = {"check_interval_s": 3600, "leader_poll_s": 0.5}
    first = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix, name="replica-a", **fast), source=schedules)
    second = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix, name="replica-b", **fast), source=schedules)
    first.start()
    wait_until(lambda: first.leading, 10, what="the first scheduler to lead")
    second.start()
    try:
        wait_until(lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == 5, 60, what="first plans")
        assert not second.leading
        assert schedules.calls == 1  # only the leader resolved

        # The leader's database session dies: its lock goes with it.
        pid = first.leadership.connection.info.backend_pid
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: second.leading, 15, what="the second scheduler to take over")
        schedules.dimmed["L001"] = 20
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('streetlight_dimming', 'override 1')")
        wait_until(
            lambda: (
                scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE version = 2 AND pushed_at IS NOT NULL")
                == 1
            ),
            60,
            what="the new leader to push the change",
        )
        assert not first.leading
        assert scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == 6
    finally:
        first.stop()
        second.stop()


def run_cli(database_url: str, mqtt_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess:
    env = ingester_env(database_url, mqtt_url, prefix, "unused")
    return subprocess.run(
        [sys.executable, "-m", "streetlight", "dimming", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_push_command_pushes_itself_or_asks_the_active_scheduler(
    timescale_url, mqtt_url, topic_prefix, clean_retained
):
    with psycopg.connect(timescale_url) as conn:
        for n, lamp_id in enumerate(LAMPS[:3]):
            conn.execute("INSERT INTO lamps (lamp_id, lat, lon) VALUES (%s, %s, 2.35)", (lamp_id, 48.85 + n / 100))
    # No scheduler runs: the command resolves (the town default) and pushes itself.
    out = run_cli(timescale_url, mqtt_url, topic_prefix, "push")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("3 lamps resolved; new versions: 3 new;")
    assert scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE pushed_at IS NOT NULL") == 3

    # A scheduler runs elsewhere: the command asks it, through the channel, and returns.
    active = Leadership(timescale_url, name="lights-1:42")
    assert active.try_acquire()
    try:
        with psycopg.connect(timescale_url, autocommit=True) as listener:
            listener.execute("LISTEN streetlight_dimming")
            out = run_cli(timescale_url, mqtt_url, topic_prefix, "push", "--all")
            notices = [n.payload for n in listener.notifies(timeout=10, stop_after=1)]
    finally:
        active.release()
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "the active scheduler (lights-1:42) pushes now; follow it with: streetlight dimming status"
    )
    assert notices == ["push:all"]
    assert scalar(timescale_url, "SELECT count(*) FROM plan_pushes") == 3


def test_a_deadlock_while_stamping_pushes_is_tried_again(
    timescale_url, mqtt_url, topic_prefix, clean_retained, monkeypatch
):
    """The ingester stamps answers on the same rows meanwhile: a deadlock costs a retry, not the lock."""
    real_mark_pushed = push_store.mark_pushed
    deadlocks = [psycopg.errors.DeadlockDetected("deadlock detected")]

    def mark_pushed_after_a_deadlock(conn, keys, at):
        if deadlocks:
            raise deadlocks.pop()
        real_mark_pushed(conn, keys, at)

    monkeypatch.setattr(push_store, "mark_pushed", mark_pushed_after_a_deadlock)
    scheduler = PlanScheduler(options(timescale_url, mqtt_url, topic_prefix), source=Schedules(LAMPS), clock=Clock(T0))
    result = scheduler.push_once()
    assert not deadlocks
    assert result.taken == 5
    assert pushes(timescale_url) == [(lamp_id, 1, True, 1) for lamp_id in LAMPS]
