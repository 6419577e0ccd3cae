"""The broker configuration: URL parsing, credential precedence, secrecy, and the TLS context it builds."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.mqtt import BrokerConfig, make_client, tls_context
from core.settings import Settings
from tests.core.tls_certificates import Certificates, make_certificates

PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://broker.example.org", "broker.example.org", 1883, False),
        ("mqtts://broker.example.org", "broker.example.org", 8883, True),
        ("mqtt://127.0.0.1:18830", "127.0.0.1", 18830, False),
        ("mqtts://127.0.0.1:18883", "127.0.0.1", 18883, True),
        ("tcp://localhost", "localhost", 1883, False),
        ("ssl://localhost", "localhost", 8883, True),
    ],
)
def test_the_url_gives_host_port_and_transport(url: str, host: str, port: int, tls: bool) -> None:
    config = BrokerConfig.from_url(url)
    assert (config.host, config.port, config.tls) == (host, port, tls)
    assert (config.username, config.password) == (None, None)


def test_credentials_in_the_url_are_decoded() -> None:
    config = BrokerConfig.from_url("mqtts://ingest%40town:p%3Ass%2Fword@broker:8883")
    assert config.username == "ingest@town"
    assert config.password is not None and config.password.get_secret_value() == "p:ss/word"


@pytest.mark.parametrize("url", ["http://broker:1883", "broker:1883", "", "mqtt://:1883", "mqtt://"])
def test_a_url_that_is_not_a_broker_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        BrokerConfig.from_url(url)


def test_a_refused_url_does_not_repeat_its_password() -> None:
    with pytest.raises(ValueError) as refused:
        BrokerConfig.from_url(f"http://ingest:{PASSWORD}@broker:1883")
    assert PASSWORD not in str(refused.value)


def test_explicit_credentials_take_precedence_over_the_url() -> None:
    url = "mqtt://url-user:url-password@broker"
    both = BrokerConfig.from_url(url, username="given-user", password="given-password")
    assert both.username == "given-user"
    assert both.password == SecretStr("given-password")
    only_user = BrokerConfig.from_url(url, username="given-user")
    assert only_user.username == "given-user"
    assert only_user.password == SecretStr("url-password")
    neither = BrokerConfig.from_url(url, username=None, password="")
    assert (neither.username, neither.password) == ("url-user", SecretStr("url-password"))


def test_the_password_never_shows_in_str_or_repr() -> None:
    for config in (
        BrokerConfig.from_url("mqtts://broker", username="ingest", password=PASSWORD),
        BrokerConfig.from_url(f"mqtts://ingest:{PASSWORD}@broker"),
    ):
        assert PASSWORD not in str(config)
        assert PASSWORD not in repr(config)
        assert PASSWORD not in f"{config!s} {config!r}"
        assert str(config) == "mqtts://ingest@broker:8883"
        assert config.password is not None and config.password.get_secret_value() == PASSWORD


def test_built_from_the_settings_with_every_credential(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        mqtt_url="mqtts://broker.example.org:8884",
        mqtt_username="streetlight-ingest",
        mqtt_password=SecretStr(PASSWORD),
        mqtt_ca_file=tmp_path / "ca.crt",
        mqtt_client_cert=tmp_path / "client.crt",
        mqtt_client_key=tmp_path / "client.key",
    )
    assert BrokerConfig.from_settings(settings) == BrokerConfig(
        host="broker.example.org",
        port=8884,
        tls=True,
        username="streetlight-ingest",
        password=SecretStr(PASSWORD),
        ca_file=tmp_path / "ca.crt",
        client_cert=tmp_path / "client.crt",
        client_key=tmp_path / "client.key",
    )


def test_the_paho_client_carries_the_credentials() -> None:
    config = BrokerConfig.from_url("mqtt://url-user:url-password@127.0.0.1:1", password=PASSWORD)
    client = make_client(config, client_id="credentials-test")
    assert (client.username, client.password) == ("url-user", PASSWORD)


def _handshake(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> ssl.SSLObject:
    """A TLS handshake in memory; returns the server's end once both ends are done.

    Each end raises what it refuses: the client a broker it cannot verify, the server
    (TLS 1.3: in its last step) a client without an acceptable certificate.
    """
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    client = client_context.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    done = {"server": False, "client": False}
    for _ in range(10):
        for name, end in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done.values()):
            return server
    raise AssertionError("the TLS handshake did not finish")


def _server_context(certificates: Certificates) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.server.cert, certificates.server.key)
    context.load_verify_locations(certificates.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def test_the_tls_context_presents_the_client_certificate(certificates: Certificates) -> None:
    config = BrokerConfig.from_url(
        "mqtts://127.0.0.1",
        ca_file=certificates.ca_cert,
        client_cert=certificates.service.cert,
        client_key=certificates.service.key,
    )
    server = _handshake(_server_context(certificates), tls_context(config))
    peer = server.getpeercert()
    assert peer is not None
    assert ((("commonName", "streetlight-service"),),) == peer["subject"]


def test_the_tls_context_verifies_the_broker_against_the_ca_bundle(certificates: Certificates) -> None:
    context = tls_context(BrokerConfig.from_url("mqtts://127.0.0.1", ca_file=certificates.ca_cert))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    system_store_only = tls_context(BrokerConfig.from_url("mqtts://127.0.0.1"))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(_server_context(certificates), system_store_only)


def test_without_a_client_certificate_the_server_refuses(certificates: Certificates) -> None:
    context = tls_context(BrokerConfig.from_url("mqtts://127.0.0.1", ca_file=certificates.ca_cert))
    with pytest.raises(ssl.SSLError, match="CERTIFICATE"):
        _handshake(_server_context(certificates), context)
