"""The ingester as deployed: a real Mosquitto, a real TimescaleDB, the `streetlight ingest` process."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.contract import MAX_PAYLOAD_BYTES, Topics
from core.mqtt import BrokerConfig
from ingest.decode import decode_message
from ingest.service import IngestConfig, Ingester
from ingest.store import Message
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

pytestmark = [pytest.mark.mqtt, pytest.mark.timescale]

LAMPS = [f"T{i:03d}" for i in range(20)]


@pytest.fixture
def town(timescale_url: str) -> str:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.cursor().executemany("INSERT INTO lamps (lamp_id) VALUES (%s)", [(lid,) for lid in LAMPS])
    return timescale_url


def reading_payload(index: int, base: datetime) -> bytes:
    ts = base + timedelta(seconds=index)
    return json.dumps({"ts": ts.isoformat(), "seq": index, "power_w": 40.0 + index % 7, "dim_level": 100}).encode()


def base_time() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def ingester(town: str, mqtt_url: str, topic_prefix: str):
    config = IngestConfig(
        database_url=town,
        broker=BrokerConfig.from_url(mqtt_url),
        topic_prefix=topic_prefix,
        client_id=f"test-ingest-{uuid.uuid4().hex[:8]}",
        flush_interval_s=0.05,
        retry_max_s=1.0,
    )
    with Ingester(config) as running:
        assert running.subscribed.wait(10)
        time.sleep(0.2)
        yield running


def test_every_class_of_bad_input_is_dead_lettered_counted_and_nothing_else_is_lost(
    ingester, town, mqtt_url, topic_prefix
):
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    t = lambda lamp: f"{topic_prefix}/lamps/{lamp}/telemetry"  # noqa: E731
    now = datetime.now(UTC)
    ok_ts = (now - timedelta(minutes=1)).isoformat()
    bad = {
        "invalid_utf8": b'{"ts": "\xff\xfe", "power_w": 1}',
        "invalid_json": b'{"ts": "2026-01-01T00:00:00Z", "power_w": ',
        "wrong_type": json.dumps({"ts": ok_ts, "power_w": "forty"}).encode(),
        "missing_field": json.dumps({"power_w": 40}).encode(),
        "out_of_range": json.dumps({"ts": ok_ts, "power_factor": 1.3}).encode(),
        "future_timestamp": json.dumps({"ts": (now + timedelta(minutes=10)).isoformat(), "power_w": 4}).encode(),
        "payload_too_large": json.dumps({"ts": ok_ts, "power_w": 4, "pad": "x" * MAX_PAYLOAD_BYTES}).encode(),
    }
    for payload in bad.values():
        pub.publish(t("T001"), payload)
    pub.publish(t("T001"), json.dumps({"ts": ok_ts, "power_w": -5}).encode())  # negative power
    pub.publish(t("T001"), json.dumps({"ts": ok_ts, "dim_level": 101}).encode())  # dim level above 100
    pub.publish(t("NOT-IN-INVENTORY"), json.dumps({"ts": ok_ts, "power_w": 4}).encode())
    pub.publish(f"{topic_prefix}/lamps/T001/status", b"maybe")
    # A batch with one bad element among good ones.
    batch = [{"ts": (now - timedelta(minutes=m)).isoformat(), "power_w": 30.0} for m in (10, 20, 30)]
    batch.insert(1, {"ts": (now - timedelta(minutes=15)).isoformat(), "power_w": True})
    pub.publish(t("T002"), json.dumps(batch).encode())
    good = [reading_payload(i, base_time()) for i in range(50)]
    for payload in good:
        pub.publish(t("T003"), payload)
    pub.wait_acked()

    assert settled_count(town, "SELECT count(*) FROM dead_letters", 12) == 12
    reasons = dict(scalar_rows(town, "SELECT reason, count(*) FROM dead_letters GROUP BY reason"))
    assert reasons == {
        "invalid_utf8": 1,
        "invalid_json": 1,
        "wrong_type": 2,
        "missing_field": 1,
        "out_of_range": 3,
        "future_timestamp": 1,
        "payload_too_large": 1,
        "unknown_lamp": 1,
        "invalid_value": 1,
    }
    assert scalar(town, "SELECT count(*) FROM readings WHERE lamp_id = 'T003'") == 50
    assert scalar(town, "SELECT count(*) FROM readings WHERE lamp_id = 'T002'") == 3
    assert scalar(town, "SELECT count(*) FROM readings") == 53
    assert scalar_rows(town, "SELECT lamp_id, status FROM unknown_lamps") == [("NOT-IN-INVENTORY", "pending")]
    stored_large = scalar(town, "SELECT length(payload) FROM dead_letters WHERE reason = 'payload_too_large'")
    assert stored_large == len(bad["payload_too_large"])
    assert ingester.stats.snapshot()["dead_letters"] == reasons
    pub.close()


def scalar_rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_duplicated_messages_are_stored_once(ingester, town, mqtt_url, topic_prefix):
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    base = base_time()
    payloads = [reading_payload(i, base) for i in range(100)]
    for _ in range(3):
        for payload in payloads:
            pub.publish(f"{topic_prefix}/lamps/T004/telemetry", payload)
    pub.wait_acked()
    wait_until(lambda: ingester.stats.snapshot()["messages_acked"] >= 300, 60, what="300 acks")
    assert settled_count(town, "SELECT count(*) FROM readings", 100) == 100
    assert ingester.stats.snapshot()["readings_duplicate"] == 200
    pub.close()


def test_database_restart_mid_stream_loses_nothing(ingester, town, mqtt_url, topic_prefix):
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    base = base_time()
    total = 3000

    def stream() -> None:
        for i in range(total):
            pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
            if i % 50 == 0:
                time.sleep(0.05)

    sender = threading.Thread(target=stream)
    sender.start()
    wait_until(lambda: scalar(town, "SELECT count(*) FROM readings") > 200, 60, what="the first readings")
    service_script("timescaledb", "restart")
    sender.join()
    pub.wait_acked()
    assert settled_count(town, "SELECT count(*) FROM readings", total, timeout_s=180) == total
    stats = ingester.stats.snapshot()
    assert not stats["dead_letters"]
    assert stats["database_outages"] >= 1, "the restart must have been noticed mid-stream"
    assert stats["database_available"] is True
    pub.close()


def test_kill_9_of_the_ingester_mid_stream_loses_nothing_and_doubles_nothing(town, mqtt_url, topic_prefix, tmp_path):
    client_id = f"test-ingest-{uuid.uuid4().hex[:8]}"
    env = ingester_env(town, mqtt_url, topic_prefix, client_id)
    log = tmp_path / "ingest.log"
    proc = start_cli(["ingest"], env, log)
    wait_for_log(log, "subscribed to")
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    base = base_time()
    total = 6000
    for i in range(total // 2):
        pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
    wait_until(lambda: scalar(town, "SELECT count(*) FROM readings") > 100, 60, what="the first readings")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stored_at_kill = scalar(town, "SELECT count(*) FROM readings")
    for i in range(total // 2, total):
        pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
    pub.wait_acked()
    proc = start_cli(["ingest"], env, log)
    try:
        assert settled_count(town, "SELECT count(*) FROM readings", total, timeout_s=120) == total
        assert scalar(town, "SELECT count(DISTINCT (lamp_id, ts)) FROM readings") == total
    finally:
        assert stop_process(proc) == 0
    assert stored_at_kill < total, "the kill must have happened mid-stream"
    pub.close()


def test_broker_restart_mid_stream_loses_nothing(ingester, town, mqtt_url, topic_prefix):
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    base = base_time()
    total = 4000
    for i in range(total // 2):
        pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
    pub.wait_acked()
    service_script("mosquitto", "restart")
    for i in range(total // 2, total):
        pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
    pub.wait_acked(180)
    assert settled_count(town, "SELECT count(*) FROM readings", total, timeout_s=180) == total
    pub.close()


def test_two_ingesters_share_the_load_through_a_shared_subscription(town, mqtt_url, topic_prefix):
    group = f"g{uuid.uuid4().hex[:6]}"
    ingesters = [
        Ingester(
            IngestConfig(
                database_url=town,
                broker=BrokerConfig.from_url(mqtt_url),
                topic_prefix=topic_prefix,
                client_id=f"test-share-{n}-{group}",
                share_group=group,
                flush_interval_s=0.05,
            )
        )
        for n in range(2)
    ]
    for ing in ingesters:
        ing.start()
        assert ing.subscribed.wait(10)
    time.sleep(0.3)
    pub = Publisher(mqtt_url, f"pub-{uuid.uuid4().hex[:8]}")
    base = base_time()
    total = 2000
    for i in range(total):
        pub.publish(f"{topic_prefix}/lamps/{LAMPS[i % len(LAMPS)]}/telemetry", reading_payload(i, base))
    pub.wait_acked()
    try:
        assert settled_count(town, "SELECT count(*) FROM readings", total) == total
        received = [ing.stats.snapshot()["messages_received"] for ing in ingesters]
        assert sum(received) == total
        assert all(n > 0 for n in received), received
    finally:
        for ing in ingesters:
            ing.stop()
    pub.close()


def test_the_authenticated_listener_refuses_anonymous_and_accepts_credentials(town, topic_prefix):
    url = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_URL")
    user = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_USER")
    password = os.environ.get("STREETLIGHT_TEST_MQTT_AUTH_PASSWORD")
    if not (url and user and password):
        pytest.fail("STREETLIGHT_TEST_MQTT_AUTH_* are not set: run the suite with scripts/test")
    anonymous = Ingester(
        IngestConfig(
            database_url=town, broker=BrokerConfig.from_url(url), topic_prefix=topic_prefix, client_id="anon-x"
        )
    )
    anonymous.start()
    try:
        assert not anonymous.subscribed.wait(3)
    finally:
        anonymous.stop()
    config = IngestConfig(
        database_url=town,
        broker=BrokerConfig.from_url(url, username=user, password=password),
        topic_prefix=topic_prefix,
        client_id=f"auth-{uuid.uuid4().hex[:6]}",
        flush_interval_s=0.05,
    )
    with Ingester(config) as ing:
        assert ing.subscribed.wait(10)
        time.sleep(0.2)
        pub = Publisher(url, f"pub-{uuid.uuid4().hex[:8]}", username=user, password=password)
        pub.publish(f"{topic_prefix}/lamps/T005/telemetry", reading_payload(1, base_time()))
        pub.wait_acked()
        assert settled_count(town, "SELECT count(*) FROM readings", 1) == 1
        pub.close()


def test_a_batch_rolled_back_by_a_deadlock_is_written_again_and_is_not_an_outage(town, mqtt_url, topic_prefix):
    """Another writer locks T000's status and then T001's, while a batch writes T001's and then
    T000's: the database rolls the batch back. It is written again; the database was there."""
    with psycopg.connect(town, autocommit=True) as admin:
        name = admin.info.dbname
        admin.execute(f"ALTER DATABASE \"{name}\" SET deadlock_timeout = '50ms'")  # the batch's side detects it
    ingester = Ingester(
        IngestConfig(
            database_url=town,
            broker=BrokerConfig.from_url(mqtt_url),
            topic_prefix=topic_prefix,
            client_id=f"deadlock-{uuid.uuid4().hex[:8]}",
        )
    )  # not started: no broker needed
    now = datetime.now(UTC)
    topics = Topics(topic_prefix)
    messages = [
        Message(
            topics.status(lamp_id), b"offline", now, decode_message(topics.status(lamp_id), b"offline", topics, now)
        )
        for lamp_id in ("T001", "T000")
    ]
    results = []
    with psycopg.connect(town) as other, psycopg.connect(town, autocommit=True) as watcher:
        other.execute("SET deadlock_timeout = '10s'")
        other.execute("UPDATE lamp_status SET online = true WHERE lamp_id = 'T000'")
        writer = threading.Thread(target=lambda: results.append(ingester._write_with_retry(messages)))
        writer.start()
        wait_until(
            lambda: (
                watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (name,)
                ).fetchone()[0]
                == 1
            ),
            10,
            0.02,
            "the batch waiting for T000",
        )
        other.execute("UPDATE lamp_status SET online = true WHERE lamp_id = 'T001'")  # closes the cycle
        other.commit()
        writer.join(10)
    ingester._conn.close()
    assert not writer.is_alive() and results and results[0].statuses == 2
    stats = ingester.stats.snapshot()
    assert (stats["batches_rolled_back"], stats["database_outages"], stats["database_available"]) == (1, 0, True)
    rows = scalar_rows(
        town,
        "SELECT s.lamp_id, s.online, l.online FROM lamp_status s JOIN lamps l USING (lamp_id)"
        " WHERE lamp_id IN ('T000', 'T001') ORDER BY 1",
    )
    assert rows == [("T000", False, False), ("T001", False, False)]
