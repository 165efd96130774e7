"""TLS client contexts that trust the system's certificates without holding them all in memory.

``ssl.create_default_context()`` parses the whole system bundle (about 140 CA certificates on
Debian) into every context it makes: 1.4 MB of the agent's memory for a connection that needs
one issuer, and ~10 ms of CPU each time. OpenSSL can instead look certificates up in a hashed
directory (``/etc/ssl/certs`` on Debian and Ubuntu, kept by ``update-ca-certificates``) and
load only the issuer a handshake asks for. That directory is the same trust store the
organisation's IT manages, so nothing changes in what is trusted, only in when it is read.
Where no hashed directory exists (or ``SSL_CERT_FILE`` names a bundle), the bundle is loaded
as usual.
"""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path

# What c_rehash / update-ca-certificates name their links: subject hash, dot, sequence number.
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.\d+")


def client_context(ca_file: Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A context for a TLS client: trusting ``ca_file`` alone when given, else the system's
    trust store; with ``verify=False``, one that checks nothing (a probe told not to)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname check and CERT_REQUIRED
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    else:
        trust_system_store(context)
    return context


def trust_system_store(context: ssl.SSLContext) -> None:
    """Trust the system's CA certificates, looked up on demand where the store allows it."""
    paths = ssl.get_default_verify_paths()
    bundle_chosen = bool(os.environ.get(paths.openssl_cafile_env))
    if not bundle_chosen and paths.capath and is_hashed_directory(paths.capath):
        context.load_verify_locations(capath=paths.capath)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)


def is_hashed_directory(path: str) -> bool:
    """Whether ``path`` holds certificates under OpenSSL's subject-hash names."""
    try:
        with os.scandir(path) as entries:
            return any(_HASHED_NAME.fullmatch(entry.name) for entry in entries)
    except OSError:
        return False
