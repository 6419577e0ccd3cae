"""The broker configuration, and the one function that turns it into a paho client.

Every MQTT client of the service (ingester, plan publisher, simulator) is built from
a `BrokerConfig`, so a setting such as a client certificate reaches all of them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, overload
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

if TYPE_CHECKING:
    from core.settings import Settings

PLAIN_SCHEMES = ("mqtt", "tcp")
TLS_SCHEMES = ("mqtts", "ssl")
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883

ClientT = TypeVar("ClientT", bound=paho.Client)


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where the broker is and how the service proves who it is; the password never shows in str or repr."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None  # None: the system's certificate store
    client_cert: Path | None = None
    client_key: Path | None = None  # None: the key is in the client_cert file

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | SecretStr | None = None,
        ca_file: str | Path | None = None,
        client_cert: str | Path | None = None,
        client_key: str | Path | None = None,
    ) -> BrokerConfig:
        """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883).

        Credentials given as arguments take precedence over those in the URL.
        """
        parts = urlsplit(url)
        if parts.scheme not in PLAIN_SCHEMES + TLS_SCHEMES:
            raise ValueError(f"broker URL must start with mqtt:// or mqtts://, got {_without_password(url)!r}")
        if not parts.hostname:
            raise ValueError(f"broker URL has no host: {_without_password(url)!r}")
        tls = parts.scheme in TLS_SCHEMES
        url_password = SecretStr(unquote(parts.password)) if parts.password else None
        return cls(
            host=parts.hostname,
            port=parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
            tls=tls,
            username=username or (unquote(parts.username) if parts.username else None),
            password=_secret(password) or url_password,
            ca_file=_path(ca_file),
            client_cert=_path(client_cert),
            client_key=_path(client_key),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerConfig:
        """The broker of ``STREETLIGHT_MQTT_URL`` with every ``STREETLIGHT_MQTT_*`` credential."""
        return cls.from_url(
            settings.mqtt_url,
            username=settings.mqtt_username,
            password=settings.mqtt_password,
            ca_file=settings.mqtt_ca_file,
            client_cert=settings.mqtt_client_cert,
            client_key=settings.mqtt_client_key,
        )

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def tls_context(config: BrokerConfig) -> ssl.SSLContext:
    """Verifies the broker against the CA bundle and presents the client certificate, if any."""
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.client_cert:
        context.load_cert_chain(str(config.client_cert), str(config.client_key) if config.client_key else None)
    return context


# The client is of `client_class` when one is given (the ingester's subclass), else paho's own.
@overload
def make_client(
    config: BrokerConfig,
    *,
    client_id: str,
    clean_session: bool = ...,
    manual_ack: bool = ...,
    will: Will | None = ...,
    max_queued_messages: int = ...,
    client_class: type[ClientT],
) -> ClientT: ...


@overload
def make_client(
    config: BrokerConfig,
    *,
    client_id: str,
    clean_session: bool = ...,
    manual_ack: bool = ...,
    will: Will | None = ...,
    max_queued_messages: int = ...,
) -> paho.Client: ...


def make_client(
    config: BrokerConfig,
    *,
    client_id: str,
    clean_session: bool = True,
    manual_ack: bool = False,
    will: Will | None = None,
    max_queued_messages: int = 0,
    client_class: type[paho.Client] = paho.Client,
) -> paho.Client:
    """A paho client for the broker of `config`; the caller connects it to ``config.host``, ``config.port``.

    MQTT 3.1.1 is used: every broker we target (Mosquitto, EMQX, the embedded
    one) speaks it, and it carries persistent sessions and shared subscriptions.
    `client_class` is paho's Client or a subclass of it (the ingester's).
    """
    client = client_class(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    if config.username:
        client.username_pw_set(config.username, config.password.get_secret_value() if config.password else None)
    if config.tls:
        client.tls_set_context(tls_context(config))
    if will:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    # 0 = unbounded: QoS 1 messages published while disconnected wait in memory.
    client.max_queued_messages_set(max_queued_messages)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return SecretStr(value) if value else None


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value else None


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
