"""MQTT client construction shared by the ingester, the scheduler and the simulator."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:  # never shows the password
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"broker URL has no host: {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def make_client(
    url: str,
    *,
    client_id: str,
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    manual_ack: bool = False,
    will: Will | None = None,
    max_queued_messages: int = 0,
    client_class: type[paho.Client] = paho.Client,
) -> tuple[paho.Client, BrokerAddress]:
    """A paho client configured for `url`; the caller connects it.

    Credentials given as arguments take precedence over those in the URL.
    MQTT 3.1.1 is used: every broker we target (Mosquitto, EMQX, the embedded
    one) speaks it, and it carries persistent sessions and shared subscriptions.
    `client_class` is paho's Client or a subclass of it (the ingester's).
    """
    address = parse_broker_url(url)
    client = client_class(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    user = username or address.username
    secret = password or address.password
    if user:
        client.username_pw_set(user, secret)
    if address.tls:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if client_cert:
            context.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
        client.tls_set_context(context)
    if will:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    # 0 = unbounded: QoS 1 messages published while disconnected wait in memory.
    client.max_queued_messages_set(max_queued_messages)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client, address


def client_from_settings(settings, *, client_id: str, **kwargs) -> tuple[paho.Client, BrokerAddress]:
    return make_client(
        settings.mqtt_url,
        client_id=client_id,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        ca_file=settings.mqtt_ca_file,
        client_cert=settings.mqtt_client_cert,
        client_key=settings.mqtt_client_key,
        **kwargs,
    )
