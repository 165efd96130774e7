"""An HTTPS server on loopback with the committed test certificate (tests/fixtures/tls)."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fakes.serving import serving

TLS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tls"
CERT = TLS_DIR / "cert.pem"
# `openssl x509 -subject_hash -noout -in cert.pem`: the name OpenSSL looks the certificate up
# by in a hashed CA directory.
CERT_SUBJECT_HASH = "ce275665"


def hashed_store(parent: Path, *, with_test_ca: bool = True) -> dict[str, str]:
    """Make ``parent/certs`` a hashed CA directory, as update-ca-certificates keeps
    /etc/ssl/certs, holding the test certificate (or, without it, only an unrelated name);
    return the environment that makes it the system's store through OpenSSL's own variables.
    ``SSL_CERT_FILE`` is emptied: a bundle named there would take precedence."""
    store = parent / "certs"
    store.mkdir()
    if with_test_ca:
        shutil.copy(CERT, store / f"{CERT_SUBJECT_HASH}.0")
    else:
        (store / "00000000.0").write_text("")
    return {"SSL_CERT_DIR": str(store), "SSL_CERT_FILE": ""}


class _NoContent(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def server_context() -> ssl.SSLContext:
    """A TLS server context with the test certificate (for localhost and 127.0.0.1)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, TLS_DIR / "key.pem")
    return context


@contextmanager
def https_server() -> Iterator[str]:
    """Serve 204 to every GET over TLS with the test certificate; yield the URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoContent)
    server.socket = server_context().wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield f"https://127.0.0.1:{server.server_address[1]}"
