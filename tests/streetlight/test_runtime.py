"""serve's check that a production broker is reached with credentials."""

from __future__ import annotations

import pytest

from core.settings import Settings
from streetlight.runtime import ConfigurationError, endpoints_from_settings

DATABASE = "postgresql://streetlight@db.example.org/streetlight"


def _settings(**values: object) -> Settings:
    return Settings(database_url=DATABASE, **values)


def test_a_remote_broker_without_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not on this machine"):
        endpoints_from_settings(_settings(mqtt_url="mqtt://broker.example.org"))


@pytest.mark.parametrize(
    "values",
    [
        {"mqtt_url": "mqtt://broker.example.org", "mqtt_username": "svc", "mqtt_password": "secret"},
        {"mqtt_url": "mqtts://broker.example.org", "mqtt_client_cert": "/etc/streetlight/client.pem"},
        {"mqtt_url": "mqtt://broker.example.org", "mqtt_allow_anonymous": True},
        {"mqtt_url": "mqtt://127.0.0.1:1883"},
        {"mqtt_url": "mqtt://localhost"},
    ],
    ids=["password", "client-certificate", "anonymous-allowed", "loopback", "localhost"],
)
def test_credentials_a_client_certificate_or_a_local_broker_are_accepted(values: dict[str, object]) -> None:
    endpoints = endpoints_from_settings(_settings(**values))
    assert endpoints.database_url == DATABASE
    assert endpoints.mqtt_url == values["mqtt_url"]


def test_a_client_certificate_without_tls_is_no_credential() -> None:
    with pytest.raises(ConfigurationError, match="not on this machine"):
        endpoints_from_settings(
            _settings(mqtt_url="mqtt://broker.example.org", mqtt_client_cert="/etc/streetlight/client.pem")
        )
