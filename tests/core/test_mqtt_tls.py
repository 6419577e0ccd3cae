"""Mutual TLS: the project's Mosquitto with a listener that requires client certificates.

The ingester and the plan publisher, both built from the settings, connect with the
service's certificate and do their work; a client without a certificate is refused.
The broker is a Mosquitto of this test's own, so the shared test broker stays as it is.
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from core.contract import Plan, PlanPoint, Topics, to_json_bytes
from core.mqtt import BrokerConfig, make_client
from core.settings import Settings
from dimming.publisher import PlanPublisher
from ingest.service import IngestConfig, Ingester
from tests.core.tls_certificates import Certificates, make_certificates
from tests.helpers import REPO_ROOT, Publisher, scalar, settled_count, stop_process, wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.timescale]

LAMP_ID = "TLS001"
BROKER_START_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class TlsBroker:
    url: str  # mqtts://127.0.0.1:<port>, the listener that requires client certificates
    certificates: Certificates
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _broker_configuration(run_dir: Path, tls_port: int, certificates: Certificates) -> str:
    """deploy/mosquitto/test.conf as scripts/mosquitto fills it in, plus deploy/mosquitto/tls.conf."""
    placeholders = {
        "@RUN_DIR@": str(run_dir),
        "@PORT@": str(_free_port()),
        "@AUTH_PORT@": str(_free_port()),
        "@USER@": getpass.getuser(),
        "@TLS_PORT@": str(tls_port),
        "@TLS_ADDRESS@": "127.0.0.1",
        "@CA_FILE@": str(certificates.ca_cert),
        "@CERT_FILE@": str(certificates.server.cert),
        "@KEY_FILE@": str(certificates.server.key),
    }
    text = "\n".join((REPO_ROOT / "deploy" / "mosquitto" / name).read_text() for name in ("test.conf", "tls.conf"))
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    unfilled = re.findall(r"@[A-Z_]+@", text)
    assert not unfilled, f"placeholders of the Mosquitto templates left unfilled: {unfilled}"
    return text


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    mosquitto = shutil.which("mosquitto")
    if mosquitto is None:
        pytest.skip("the mosquitto broker is not on PATH (apt-get install mosquitto)")
    run_dir = tmp_path_factory.mktemp("mosquitto-tls")
    certificates = make_certificates(run_dir / "certificates")
    (run_dir / "passwd").touch()  # the template's password listener needs the file; nobody signs in there
    conf = run_dir / "mosquitto.conf"
    tls_port = _free_port()
    conf.write_text(_broker_configuration(run_dir, tls_port, certificates))
    log = run_dir / "mosquitto.log"
    with open(run_dir / "mosquitto.out", "wb") as output:
        broker = subprocess.Popen(
            [mosquitto, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: broker.poll() is not None or _port_open(tls_port),
            BROKER_START_TIMEOUT_S,
            0.05,
            "Mosquitto's TLS listener",
        )
        if broker.poll() is not None:
            output_text = (run_dir / "mosquitto.out").read_text(errors="replace")
            pytest.fail(f"Mosquitto exited at start ({broker.returncode}):\n{output_text}")
        yield TlsBroker(f"mqtts://127.0.0.1:{tls_port}", certificates, log)
    finally:
        stop_process(broker, timeout_s=10)


@pytest.fixture
def tls_settings(tls_broker: TlsBroker, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The service's settings for the TLS listener: a CA bundle, a client certificate and its key."""
    certificates = tls_broker.certificates
    for name in ("STREETLIGHT_MQTT_USERNAME", "STREETLIGHT_MQTT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STREETLIGHT_MQTT_URL", tls_broker.url)
    monkeypatch.setenv("STREETLIGHT_MQTT_CA_FILE", str(certificates.ca_cert))
    monkeypatch.setenv("STREETLIGHT_MQTT_CLIENT_CERT", str(certificates.service.cert))
    monkeypatch.setenv("STREETLIGHT_MQTT_CLIENT_KEY", str(certificates.service.key))
    monkeypatch.setenv("STREETLIGHT_TOPIC_PREFIX", topic_prefix)
    return Settings(_env_file=None)


def _lamp_publisher(tls_broker: TlsBroker) -> Publisher:
    """A lamp controller on the TLS listener, with a certificate of its own."""
    lamp = tls_broker.certificates.lamp
    return Publisher(
        tls_broker.url,
        f"tls-lamp-{uuid.uuid4().hex[:8]}",
        ca_file=tls_broker.certificates.ca_cert,
        client_cert=lamp.cert,
        client_key=lamp.key,
    )


def test_the_ingester_connects_with_its_certificate_and_stores_a_reading(
    tls_broker: TlsBroker, tls_settings: Settings, timescale_url: str
) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lamps (lamp_id) VALUES (%s)", (LAMP_ID,))
    config = IngestConfig(
        database_url=timescale_url,
        broker=BrokerConfig.from_settings(tls_settings),
        topic_prefix=tls_settings.topic_prefix,
        client_id=f"tls-ingest-{uuid.uuid4().hex[:8]}",
        flush_interval_s=0.05,
    )
    with Ingester(config) as ingester:
        assert ingester.subscribed.wait(15), f"the ingester did not connect; see {tls_broker.log}"
        lamp = _lamp_publisher(tls_broker)
        measured_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        reading = {"ts": measured_at.isoformat(), "seq": 1, "power_w": 41.5, "dim_level": 100}
        lamp.publish(Topics(tls_settings.topic_prefix).telemetry(LAMP_ID), json.dumps(reading).encode())
        lamp.wait_acked(30)
        lamp.close()
        assert settled_count(timescale_url, "SELECT count(*) FROM readings", 1, timeout_s=30) == 1
    assert (
        scalar(timescale_url, "SELECT power_w FROM readings WHERE lamp_id = %s AND ts = %s", (LAMP_ID, measured_at))
        == 41.5
    )


def test_the_plan_publisher_connects_with_its_certificate_and_a_lamp_receives_the_plan(
    tls_broker: TlsBroker, tls_settings: Settings
) -> None:
    topics = Topics(tls_settings.topic_prefix)
    lamp_config = BrokerConfig.from_url(
        tls_broker.url,
        ca_file=tls_broker.certificates.ca_cert,
        client_cert=tls_broker.certificates.lamp.cert,
        client_key=tls_broker.certificates.lamp.key,
    )
    lamp = make_client(lamp_config, client_id=f"tls-lamp-{uuid.uuid4().hex[:8]}")
    received: list[bytes] = []
    subscribed = threading.Event()
    lamp.on_connect = lambda client, *_: client.subscribe(topics.plan(LAMP_ID), qos=1)
    lamp.on_subscribe = lambda *_: subscribed.set()
    lamp.on_message = lambda client, userdata, message: received.append(bytes(message.payload))
    lamp.connect(lamp_config.host, lamp_config.port, keepalive=10)
    lamp.loop_start()
    publisher = PlanPublisher(
        BrokerConfig.from_settings(tls_settings),
        topic_prefix=tls_settings.topic_prefix,
        client_id=f"tls-plans-{uuid.uuid4().hex[:8]}",
    )
    try:
        assert subscribed.wait(15), f"the lamp did not subscribe; see {tls_broker.log}"
        publisher.connect(timeout_s=15)
        now = datetime.now(UTC).replace(microsecond=0)
        plan = Plan(
            version=1,
            generated_at=now,
            points=[PlanPoint(at=now, level=100), PlanPoint(at=now + timedelta(hours=48), level=60)],
        )
        assert publisher.publish_plans([(LAMP_ID, to_json_bytes(plan))], timeout_s=30) == [LAMP_ID]
        wait_until(lambda: len(received) >= 1, 15, what="the plan at the lamp")
        assert Plan.model_validate_json(received[0]) == plan
    finally:
        publisher.close()
        lamp.disconnect()
        lamp.loop_stop()


def test_a_client_without_a_certificate_is_refused(tls_broker: TlsBroker, tls_settings: Settings) -> None:
    """The service's own settings, less the certificate: the TLS listener will not have it."""
    without_certificate = tls_settings.model_copy(update={"mqtt_client_cert": None, "mqtt_client_key": None})
    config = BrokerConfig.from_settings(without_certificate)
    assert config.ca_file is not None and config.client_cert is None
    client = make_client(config, client_id=f"tls-no-cert-{uuid.uuid4().hex[:8]}")
    accepted = threading.Event()
    dropped = threading.Event()
    client.on_connect = lambda client, userdata, flags, reason_code, properties: (
        None if reason_code.is_failure else accepted.set()
    )
    client.on_disconnect = lambda *_: dropped.set()
    try:
        client.connect(config.host, config.port, keepalive=10)
    except OSError:
        return  # refused within the handshake (ssl.SSLError is an OSError)
    client.loop_start()
    try:
        assert dropped.wait(15), "the broker neither refused nor dropped a client without a certificate"
        assert not accepted.is_set()
    finally:
        client.disconnect()
        client.loop_stop()
