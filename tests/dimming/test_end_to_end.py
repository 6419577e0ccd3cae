"""End to end: a schedule change -> plan scheduler -> Mosquitto -> controllers -> acks and telemetry -> TimescaleDB.

`streetlight serve` runs the ingester and the plan scheduler as in production; the
town's controllers are `streetlight simulate run` (or, for the offline and rejection
cases, a controller speaking the contract directly). Changes are made through
dimming.store, the way the API makes them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core import inventory
from core.contract import Plan, PlanAck, Topics, to_json_bytes
from core.mqtt import BrokerConfig, make_client
from dimming import store
from simulators.town import generate_town, town_to_csv
from tests.helpers import REPO_ROOT, ingester_env, scalar, start_cli, stop_process, wait_for_log, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timescale, pytest.mark.slow]

LAMPS = 40
SEED = 7
INTERVAL_S = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def town(timescale_url: str, tmp_path):
    lamps = generate_town(LAMPS, seed=SEED)
    path = tmp_path / "town.csv"
    town_to_csv(lamps, path)
    with psycopg.connect(timescale_url) as conn:
        report = inventory.import_inventory(conn, inventory.load_inventory_file(path, None))
    assert report.inserted == LAMPS
    return lamps, path


@pytest.fixture
def service(town, timescale_url, mqtt_url, topic_prefix, tmp_path):
    """`streetlight serve`: ingester, plan scheduler and API, with a fresh topic prefix."""
    env = ingester_env(timescale_url, mqtt_url, topic_prefix, f"e2e-dim-ingest-{uuid.uuid4().hex[:8]}")
    log = tmp_path / "serve.log"
    proc = start_cli(["serve", "--host", "127.0.0.1", "--port", str(free_port())], env, log)
    try:
        wait_for_log(log, "is the active scheduler", 90)
        # Every lamp gets its first plan (the town default: full light from sunset to sunrise).
        wait_until(
            lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE pushed_at IS NOT NULL") == LAMPS,
            120,
            what="the first plans",
        )
        yield log
    finally:
        stop_process(proc)
        clear_retained(mqtt_url, topic_prefix, [lamp.lamp_id for lamp in town[0]])


def clear_retained(mqtt_url: str, prefix: str, lamp_ids: list[str]) -> None:
    from tests.helpers import Publisher

    publisher = Publisher(mqtt_url, f"e2e-clean-{uuid.uuid4().hex[:8]}")
    for lamp_id in lamp_ids:
        publisher.publish(Topics(prefix).plan(lamp_id), b"", retain=True)
    publisher.wait_acked(60)
    publisher.close()


def add_overrides(url: str, street: str, windows: list[tuple[datetime, datetime, int]]) -> None:
    with psycopg.connect(url) as conn:  # one transaction: one notice
        for starts_at, expires_at, level in windows:
            store.create_override(conn, "street", street, level, starts_at, expires_at, "e2e", "tester")


def levels(url: str, lamp_ids: list[str], since: datetime, until: datetime) -> list[float]:
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT dim_level FROM readings WHERE lamp_id = ANY(%s) AND ts >= %s AND ts < %s",
                (lamp_ids, since, until),
            )
        ]


def mean_power(url: str, lamp_id: str, since: datetime, until: datetime) -> float:
    return scalar(
        url, "SELECT avg(power_w) FROM readings WHERE lamp_id = %s AND ts >= %s AND ts < %s", (lamp_id, since, until)
    )


def test_an_override_is_pushed_acknowledged_and_followed(
    town, service, timescale_url, mqtt_url, topic_prefix, tmp_path
):
    lamps, path = town
    env = ingester_env(timescale_url, mqtt_url, topic_prefix, "unused")
    sim_log = tmp_path / "simulate.log"
    # A seed of its own: the simulator's MQTT client id is made from it.
    sim_seed = str(10_000 + uuid.uuid4().int % 80_000)
    simulator = start_cli(
        [
            "simulate",
            "run",
            "--town",
            str(path),
            "--seed",
            sim_seed,
            "--interval",
            str(INTERVAL_S),
            "--speed",
            "0",
            "--failure-scale",
            "0",
            "--outage-scale",
            "0",
        ],
        env,
        sim_log,
    )
    try:
        # The controllers connect and find their plans retained on the broker.
        wait_until(
            lambda: scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE ack_status = 'applied'") == LAMPS,
            120,
            what="every controller to apply its first plan",
        )
        street = "Place du Parc"
        on_street = sorted(lamp.lamp_id for lamp in lamps if lamp.street == street)
        others = sorted(lamp.lamp_id for lamp in lamps if lamp.street != street)
        assert len(on_street) == 4

        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=45)
        t1, t2 = t0 + timedelta(seconds=30), t0 + timedelta(seconds=60)
        add_overrides(timescale_url, street, [(t0, t1, 100), (t1, t2, 60)])

        # A new version for exactly the lamps of that street, applied by each of them before t0.
        wait_until(
            lambda: (
                scalar(timescale_url, "SELECT count(*) FROM plan_pushes WHERE version > 1 AND ack_status = 'applied'")
                == 4
            ),
            60,
            what="the four new plans to be applied",
        )
        with psycopg.connect(timescale_url) as conn:
            rows = conn.execute(
                "SELECT lamp_id, version, ack_status, acked_at FROM plan_pushes WHERE version > 1 ORDER BY lamp_id"
            ).fetchall()
        assert [(r[0], r[1], r[2]) for r in rows] == [(lamp_id, 2, "applied") for lamp_id in on_street]
        assert max(r[3] for r in rows) < t0, "the plans must be applied before the change is due"
        plan = Plan.model_validate(scalar(timescale_url, "SELECT plan FROM plan_pushes WHERE version = 2 LIMIT 1"))
        assert plan.level_at(t0) == 100 and plan.level_at(t1) == 60

        # The lamps report the planned levels at the planned times, and the power follows.
        wait_until(
            lambda: (
                scalar(timescale_url, "SELECT count(*) FROM readings WHERE ts >= %s", (t2 + timedelta(seconds=10),))
                >= LAMPS
            ),
            120,
            what="readings after the overrides",
        )
        assert set(levels(timescale_url, on_street, t0, t1)) == {100.0}
        assert set(levels(timescale_url, on_street, t1, t2)) == {60.0}
        assert 60.0 not in set(levels(timescale_url, others, t1, t2))
        for lamp_id in on_street:
            full, dimmed = mean_power(timescale_url, lamp_id, t0, t1), mean_power(timescale_url, lamp_id, t1, t2)
            assert 0 < dimmed < 0.8 * full
        # After the last override, the schedule is back: full light or off, as the others.
        after = set(levels(timescale_url, on_street, t2, t2 + timedelta(seconds=10)))
        assert after and after <= {0.0, 100.0}
        assert scalar(timescale_url, "SELECT count(*) FROM dead_letters") == 0
    finally:
        stop_process(simulator)


class Controller:
    """One lamp's controller speaking the contract: subscribes to its plan, answers each one."""

    def __init__(self, mqtt_url: str, prefix: str, lamp_id: str, answer: str = "applied", reason: str | None = None):
        self.topics = Topics(prefix)
        self.lamp_id = lamp_id
        self.answer, self.reason = answer, reason
        self.received: list[Plan] = []
        self.mqtt_url = mqtt_url
        self.client = None

    def connect(self) -> None:
        # A clean session: what it gets on connecting is only the broker's retained plan.
        broker = BrokerConfig.from_url(self.mqtt_url)
        self.client = make_client(broker, client_id=f"e2e-ctrl-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(self.topics.plan(self.lamp_id), qos=1)
        assert subscribed.wait(30)

    def _on_message(self, client, userdata, msg) -> None:
        plan = Plan.model_validate_json(msg.payload)
        self.received.append(plan)
        ack = PlanAck(version=plan.version, status=self.answer, reason=self.reason)
        client.publish(self.topics.plan_ack(self.lamp_id), to_json_bytes(ack), qos=1)

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_an_offline_controller_gets_the_latest_plan_on_reconnect(town, service, timescale_url, mqtt_url, topic_prefix):
    lamp_id = "L00001"
    controller = Controller(mqtt_url, topic_prefix, lamp_id)
    controller.connect()
    wait_until(lambda: len(controller.received) == 1, 30, what="the retained first plan")
    controller.disconnect()
    assert controller.received[0].version == 1

    # Two changes while it is away: versions 2 and 3 go out, unanswered.
    now = datetime.now(UTC)
    for version, level in ((2, 70), (3, 40)):
        with psycopg.connect(timescale_url) as conn:
            store.create_override(
                conn,
                "lamp",
                lamp_id,
                level,
                now + timedelta(hours=1),
                now + timedelta(hours=2),
                "maintenance",
                "tester",
            )
        wait_until(
            lambda version=version: (
                scalar(
                    timescale_url,
                    "SELECT count(*) FROM plan_pushes WHERE lamp_id = %s AND version = %s AND pushed_at IS NOT NULL",
                    (lamp_id, version),
                )
                == 1
            ),
            60,
            what=f"version {version} to be pushed",
        )
    controller.connect()
    wait_until(lambda: len(controller.received) == 2, 30, what="the plan on reconnect")
    controller.disconnect()
    latest = controller.received[1]
    assert latest.version == 3
    assert latest.level_at(now + timedelta(hours=1, minutes=30)) == 40
    wait_until(
        lambda: (
            scalar(timescale_url, "SELECT ack_status FROM plan_pushes WHERE lamp_id = %s AND version = 3", (lamp_id,))
            == "applied"
        ),
        30,
        what="the answer to version 3",
    )
    # Version 2 never reached it: it stays unanswered, superseded.
    assert (
        scalar(timescale_url, "SELECT ack_status FROM plan_pushes WHERE lamp_id = %s AND version = 2", (lamp_id,))
        is None
    )


def test_a_rejected_plan_is_listed_as_rejected(town, service, timescale_url, mqtt_url, topic_prefix):
    controller = Controller(mqtt_url, topic_prefix, "L00002", "rejected", "plan has 9 points; this controller stores 8")
    controller.connect()
    wait_until(
        lambda: scalar(timescale_url, "SELECT ack_status FROM plan_pushes WHERE lamp_id = 'L00002'") == "rejected",
        30,
        what="the rejection",
    )
    controller.disconnect()
    env = ingester_env(timescale_url, mqtt_url, topic_prefix, "unused")
    out = subprocess.run(
        [sys.executable, "-m", "streetlight", "dimming", "status", "--state", "rejected"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("active scheduler: ")
    assert "rejected 1" in lines[1]
    assert lines[3].split() == [
        "L00002",
        "rejected",
        "version",
        "1",
        "rejected:",
        "plan",
        "has",
        "9",
        "points;",
        "this",
        "controller",
        "stores",
        "8",
    ]
    assert scalar(timescale_url, "SELECT count(*) FROM plan_acks") == 1
