"""A throw-away certificate authority for TLS tests, made with the openssl command line."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

VALID_DAYS = 2


@dataclass(frozen=True, slots=True)
class Certificate:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Certificates:
    ca_cert: Path
    server: Certificate  # for 127.0.0.1 and localhost
    service: Certificate  # the service's client certificate (ingester, plan publisher)
    lamp: Certificate  # a lamp controller's client certificate


def _openssl(*args: str | Path, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command is needed to make the test certificates (apt-get install openssl)")
    result = subprocess.run([openssl, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{result.stderr}")


def _new_key(directory: Path, name: str) -> Path:
    key = directory / f"{name}.key"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key, cwd=directory)
    return key


def _issue(directory: Path, name: str, common_name: str, extensions: list[str]) -> Certificate:
    key = _new_key(directory, name)
    request = directory / f"{name}.csr"
    _openssl("req", "-new", "-key", key, "-subj", f"/CN={common_name}", "-out", request, cwd=directory)
    extfile = directory / f"{name}.ext"
    extfile.write_text(
        "\n".join(
            [
                "basicConstraints = critical, CA:FALSE",
                "subjectKeyIdentifier = hash",
                "authorityKeyIdentifier = keyid, issuer",
                *extensions,
            ]
        )
        + "\n"
    )
    cert = directory / f"{name}.crt"
    _openssl(
        "x509", "-req", "-in", request, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", str(VALID_DAYS), "-sha256", "-extfile", extfile, "-out", cert,
        cwd=directory,
    )  # fmt: skip
    return Certificate(cert, key)


def make_certificates(directory: Path) -> Certificates:
    """A CA, a server certificate for the loopback address, and two client certificates."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key(directory, "ca")
    _openssl(
        "req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=streetlight test CA", "-days", str(VALID_DAYS),
        "-sha256", "-addext", "basicConstraints = critical, CA:TRUE",
        "-addext", "keyUsage = critical, keyCertSign, cRLSign", "-out", "ca.crt",
        cwd=directory,
    )  # fmt: skip
    client_usage = ["keyUsage = critical, digitalSignature", "extendedKeyUsage = clientAuth"]
    return Certificates(
        ca_cert=directory / "ca.crt",
        server=_issue(
            directory,
            "server",
            "127.0.0.1",
            [
                "keyUsage = critical, digitalSignature, keyEncipherment",
                "extendedKeyUsage = serverAuth",
                "subjectAltName = IP:127.0.0.1, DNS:localhost",
            ],
        ),
        service=_issue(directory, "service", "streetlight-service", client_usage),
        lamp=_issue(directory, "lamp", "TLS001", client_usage),
    )
