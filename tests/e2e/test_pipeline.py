"""End to end: simulator -> Mosquitto -> ingester -> TimescaleDB, with exact counts.

The simulator produces exactly lamps x steps readings; every one must be stored
exactly once, whatever happens to the ingester, the database or the broker.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core import inventory
from core.contract import Plan, PlanPoint
from core.mqtt import BrokerConfig, make_client
from simulators.controllers import SimulationOptions, SimulationSummary, run_simulation
from simulators.town import generate_town, town_to_csv_bytes
from tests.helpers import (
    Publisher,
    ingester_env,
    scalar,
    service_script,
    settled_count,
    start_cli,
    stop_process,
    wait_for_log,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.timescale]

LAMPS = 120
SEED = 7
INTERVAL_S = 600.0


@pytest.fixture
def town(timescale_url: str) -> str:
    parsed = inventory.parse_inventory(town_to_csv_bytes(generate_town(LAMPS, seed=SEED)), "town.csv")
    with psycopg.connect(timescale_url) as conn:
        report = inventory.import_inventory(conn, parsed)
    assert report.inserted == LAMPS
    return timescale_url


@pytest.fixture
def ingester_process(town, mqtt_url, topic_prefix, tmp_path):
    client_id = f"e2e-ingest-{uuid.uuid4().hex[:8]}"
    env = ingester_env(town, mqtt_url, topic_prefix, client_id)
    log = tmp_path / "ingest.log"

    class Handle:
        def start(self):
            self.proc = start_cli(["ingest"], env, log)
            wait_for_log(log, "subscribed to")
            return self

        def kill9(self):
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

        def stop(self) -> int:
            return stop_process(self.proc)

    handle = Handle().start()
    yield handle
    handle.stop()


# A fixed past window keeps the simulated fleet's story (failures, outages) the same on every run.
HISTORY_START = datetime(2026, 1, 12, tzinfo=UTC)


def history_options(mqtt_url: str, topic_prefix: str, days: float, **kw) -> SimulationOptions:
    start = kw.pop("start", HISTORY_START)
    return SimulationOptions(
        broker=BrokerConfig.from_url(mqtt_url),
        topic_prefix=topic_prefix,
        lamps=LAMPS,
        seed=SEED,
        speed=0,
        report_interval_s=INTERVAL_S,
        start=start,
        end=start + timedelta(days=days),
        client_id_prefix=f"e2e-sim-{uuid.uuid4().hex[:6]}",
        **kw,
    )


class SimulatorThread(threading.Thread):
    def __init__(self, options: SimulationOptions) -> None:
        super().__init__(daemon=True)
        self.options = options
        self.summary: SimulationSummary | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        self.summary = run_simulation(self.options, self.stop)


def test_a_simulated_day_arrives_whole(ingester_process, town, mqtt_url, topic_prefix, tmp_path):
    truth = tmp_path / "truth.csv"
    options = history_options(mqtt_url, topic_prefix, days=1, failure_scale=300.0, truth_path=truth)
    summary = run_simulation(options, threading.Event())
    assert summary.readings_generated == LAMPS * 144
    assert settled_count(town, "SELECT count(*) FROM readings", LAMPS * 144) == LAMPS * 144
    assert scalar(town, "SELECT count(DISTINCT lamp_id) FROM readings") == LAMPS
    assert settled_count(town, "SELECT count(*) FROM events", summary.events_published, quiet_s=0.5) == (
        summary.events_published
    )
    assert summary.failures > 0, "a raised failure scale must produce failures in a day"
    assert scalar(town, "SELECT count(*) FROM events WHERE type = 'lamp_failure'") == summary.failures
    assert scalar(town, "SELECT count(*) FROM dead_letters") == 0
    # Ground truth goes to its file, never to the service's database.
    assert truth.read_text().count("\n") >= summary.failures + 1
    with psycopg.connect(town) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert not any("truth" in t for t in tables)


def test_batched_messages_arrive_whole(ingester_process, town, mqtt_url, topic_prefix):
    summary = run_simulation(history_options(mqtt_url, topic_prefix, days=1, batch=24), threading.Event())
    assert summary.messages_published < summary.readings_generated
    assert settled_count(town, "SELECT count(*) FROM readings", LAMPS * 144) == LAMPS * 144


def test_kill_9_of_the_ingester_mid_stream(ingester_process, town, mqtt_url, topic_prefix):
    sim = SimulatorThread(history_options(mqtt_url, topic_prefix, days=2))
    sim.start()
    wait_until(lambda: scalar(town, "SELECT count(*) FROM readings") > 2000, 60, what="the first readings")
    ingester_process.kill9()
    at_kill = scalar(town, "SELECT count(*) FROM readings")
    time.sleep(1.0)
    ingester_process.start()
    sim.join(300)
    expected = LAMPS * 288
    assert sim.summary.readings_generated == expected
    assert at_kill < expected
    assert settled_count(town, "SELECT count(*) FROM readings", expected, timeout_s=180) == expected


def test_database_restart_mid_stream(ingester_process, town, mqtt_url, topic_prefix):
    sim = SimulatorThread(history_options(mqtt_url, topic_prefix, days=2))
    sim.start()
    wait_until(lambda: scalar(town, "SELECT count(*) FROM readings") > 2000, 60, what="the first readings")
    service_script("timescaledb", "restart")
    sim.join(300)
    expected = LAMPS * 288
    assert settled_count(town, "SELECT count(*) FROM readings", expected, timeout_s=180) == expected


def test_broker_restart_mid_stream(ingester_process, town, mqtt_url, topic_prefix):
    sim = SimulatorThread(history_options(mqtt_url, topic_prefix, days=2))
    sim.start()
    wait_until(lambda: scalar(town, "SELECT count(*) FROM readings") > 2000, 60, what="the first readings")
    service_script("mosquitto", "restart")
    sim.join(300)
    expected = LAMPS * 288
    assert sim.summary.readings_generated == expected
    assert settled_count(town, "SELECT count(*) FROM readings", expected, timeout_s=180) == expected


def test_offline_controllers_send_their_backlog_and_status(ingester_process, town, mqtt_url, topic_prefix):
    """Per-lamp connections: an outage fires the last will, the backlog follows as a batch."""
    wills: list[str] = []
    broker = BrokerConfig.from_url(mqtt_url)
    watcher = make_client(broker, client_id=f"watch-{uuid.uuid4().hex[:6]}")
    watcher.on_message = lambda c, u, msg: wills.append(msg.topic) if msg.payload == b"offline" else None
    watcher.connect(broker.host, broker.port)
    watcher.subscribe(f"{topic_prefix}/lamps/+/status", qos=1)
    watcher.loop_start()
    time.sleep(0.3)
    options = history_options(mqtt_url, topic_prefix, days=3, connections="per-lamp", outage_scale=60.0)
    summary = run_simulation(options, threading.Event())
    expected = LAMPS * 432
    assert summary.went_offline > 0, "a raised outage rate must take some controllers offline"
    # The broker published each dropped controller's last will ('offline').
    wait_until(lambda: len(wills) >= 1, 10, what="a last will")
    watcher.loop_stop()
    assert 1 <= len(wills) <= summary.went_offline
    assert settled_count(town, "SELECT count(*) FROM readings", expected, timeout_s=180) == expected
    # Every lamp ends online; the will published 'offline' during each outage.
    assert scalar(town, "SELECT count(*) FROM lamp_status WHERE online") == LAMPS


def test_a_plan_is_obeyed_and_acknowledged(ingester_process, town, mqtt_url, topic_prefix):
    lamp_id = "L00001"
    start = HISTORY_START + timedelta(hours=12)
    # Half output all night long, from the plan's first point to beyond the run.
    plan = Plan(
        version=5,
        generated_at=start - timedelta(hours=1),
        points=[
            PlanPoint(at=start, level=0),
            PlanPoint(at=start + timedelta(hours=5), level=50),
            PlanPoint(at=start + timedelta(hours=19), level=0),
            PlanPoint(at=start + timedelta(hours=49), level=0),
        ],
    )
    publisher = Publisher(mqtt_url, f"plan-pub-{uuid.uuid4().hex[:6]}")
    publisher.publish(f"{topic_prefix}/lamps/{lamp_id}/plan", plan.model_dump_json().encode(), retain=True)
    publisher.wait_acked()
    with psycopg.connect(town, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO plan_pushes (lamp_id, version, plan, pushed_at) VALUES (%s, 5, %s, now())",
            (lamp_id, plan.model_dump_json()),
        )
    options = history_options(mqtt_url, topic_prefix, days=1, start=start)
    summary = run_simulation(options, threading.Event())
    assert summary.plans_applied == 1
    wait_until(lambda: scalar(town, "SELECT count(*) FROM plan_acks") == 1, 30, what="the ack")
    assert scalar(town, "SELECT ack_status FROM plan_pushes WHERE lamp_id = %s", (lamp_id,)) == "applied"
    settled_count(town, "SELECT count(*) FROM readings", LAMPS * 144)
    night = scalar(
        town,
        """SELECT round(avg(dim_level)) FROM readings WHERE lamp_id = %s
           AND ts >= %s AND ts < %s""",
        (lamp_id, start + timedelta(hours=6), start + timedelta(hours=17)),
    )
    assert night == 50
    publisher.publish(f"{topic_prefix}/lamps/{lamp_id}/plan", b"", retain=True)  # clear the retained plan
    publisher.wait_acked()
    publisher.close()
