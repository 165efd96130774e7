"""TLS contexts: the system trust store read on demand from its hashed directory."""

from __future__ import annotations

import shutil
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agent.tls import client_context, is_hashed_directory
from tests.fakes.tls import CERT, CERT_SUBJECT_HASH, hashed_store, https_server


@pytest.fixture
def system_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's store for this test: a hashed CA directory holding the test certificate."""
    environ = hashed_store(tmp_path)
    monkeypatch.setenv("SSL_CERT_DIR", environ["SSL_CERT_DIR"])
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return Path(environ["SSL_CERT_DIR"])


def handshake(context: ssl.SSLContext, url: str) -> None:
    address = urlsplit(url)
    assert address.hostname is not None
    target = (address.hostname, address.port or 443)
    with (
        socket.create_connection(target, timeout=5) as sock,
        context.wrap_socket(sock, server_hostname=address.hostname),
    ):
        pass


def test_the_system_store_is_read_per_issuer_not_loaded_up_front(system_store: Path) -> None:
    context = client_context()
    assert context.cert_store_stats()["x509_ca"] == 0
    with https_server() as url:
        handshake(context, url)
    assert context.cert_store_stats()["x509_ca"] == 1  # the one issuer the handshake needed
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_server_whose_issuer_is_not_in_the_store_is_refused(system_store: Path) -> None:
    (system_store / f"{CERT_SUBJECT_HASH}.0").unlink()
    (system_store / "00000000.0").write_text("")  # still a hashed directory, without our CA
    with https_server() as url, pytest.raises(ssl.SSLCertVerificationError):
        handshake(client_context(), url)


def test_a_bundle_named_by_ssl_cert_file_is_loaded_as_a_whole(
    system_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(CERT))
    context = client_context()
    assert context.cert_store_stats()["x509_ca"] == 1
    with https_server() as url:
        handshake(context, url)


def test_without_a_hashed_directory_the_default_bundle_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "certs"
    plain.mkdir()
    shutil.copy(CERT, plain / "company-ca.pem")  # not under a hash name: OpenSSL can't find it
    monkeypatch.setenv("SSL_CERT_DIR", str(plain))
    monkeypatch.setenv("SSL_CERT_FILE", str(CERT))
    assert not is_hashed_directory(str(plain))
    assert client_context().cert_store_stats()["x509_ca"] == 1


def test_a_private_ca_file_is_the_only_one_trusted(system_store: Path) -> None:
    context = client_context(CERT)
    assert context.cert_store_stats()["x509_ca"] == 1
    with https_server() as url:
        handshake(context, url)


def test_verify_false_checks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    context = client_context(verify=False)
    assert context.verify_mode == ssl.CERT_NONE
    with https_server() as url:
        handshake(context, url)


@pytest.mark.parametrize(
    ("names", "hashed"),
    [(["ce275665.0", "README"], True), (["ca.pem"], False), (["ce275665.pem"], False), ([], False)],
)
def test_a_hashed_directory_is_told_by_its_file_names(
    tmp_path: Path, names: list[str], hashed: bool
) -> None:
    for name in names:
        (tmp_path / name).write_text("")
    assert is_hashed_directory(str(tmp_path)) is hashed
    assert not is_hashed_directory(str(tmp_path / "missing"))
