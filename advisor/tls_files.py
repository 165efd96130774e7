"""The advisor's certificate and key, checked before anything listens.

uvicorn reads them only when it binds, and a missing key then ends in a 40-line traceback;
``check-config`` said OK because the paths were well-formed. :func:`check_tls_files` opens
both files the way the server will (``ssl.SSLContext.load_cert_chain``) and turns each failure
into one sentence naming the file: absent, unreadable by this user, not PEM, or a key that is
not the certificate's.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path

from advisor.config import AdvisorConfig
from advisor.errors import FleetsightAdvisorError


class TlsFilesError(FleetsightAdvisorError):
    """The certificate or key of ``[server]`` cannot be used; the message names the file."""


def check_tls_files(cert_file: Path, key_file: Path) -> None:
    """Raise :class:`TlsFilesError` unless ``cert_file`` and ``key_file`` can serve HTTPS."""
    for role, path in (("tls_cert_file", cert_file), ("tls_key_file", key_file)):
        _readable(role, path)
    try:
        # The certificate alone first: load_cert_chain's errors do not say which file was bad.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert_file)
    except ssl.SSLError as exc:
        raise TlsFilesError(
            f"[server] tls_cert_file {cert_file} holds no PEM certificate{_why(exc)}"
        ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        # Without a password callback OpenSSL would prompt at the terminal for an encrypted key.
        context.load_cert_chain(cert_file, key_file, password=_encrypted(key_file))
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsFilesError(
                f"[server] tls_key_file {key_file} is not the key of tls_cert_file {cert_file}"
            ) from None
        raise TlsFilesError(
            f"[server] tls_key_file {key_file} holds no PEM private key{_why(exc)}"
        ) from None
    except OSError as exc:  # changed since the check above, or an odd file system
        raise TlsFilesError(f"cannot read {exc.filename or key_file}: {exc.strerror}") from None


def _encrypted(key_file: Path) -> Callable[[], bytes]:
    def refuse() -> bytes:
        raise TlsFilesError(
            f"[server] tls_key_file {key_file} is encrypted; the advisor takes an unencrypted"
            " key (mode 0600, or a systemd credential)"
        )

    return refuse


def _readable(role: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise TlsFilesError(
            f"[server] {role} {path} does not exist (docs/advisor.md#https says how to make or"
            " install one)"
        ) from None
    except PermissionError:
        raise TlsFilesError(
            f"[server] {role} {path} is not readable by this user (uid {os.geteuid()}); under"
            " systemd pass it with LoadCredential= (docs/advisor.md#https)"
        ) from None
    except IsADirectoryError:
        raise TlsFilesError(f"[server] {role} {path} is a directory, not a PEM file") from None
    except OSError as exc:
        raise TlsFilesError(f"[server] {role} {path}: {exc.strerror}") from None


def _why(exc: ssl.SSLError) -> str:
    # OpenSSL's reason code when it has one; "[SSL] PEM lib (_ssl.c:3926)" helps nobody.
    return f" ({exc.reason})" if exc.reason else ""


def check_server_tls(config: AdvisorConfig) -> None:
    """:func:`check_tls_files` on ``[server]``'s files, when it serves HTTPS."""
    server = config.server
    if server.tls_cert_file is not None and server.tls_key_file is not None:
        check_tls_files(server.tls_cert_file, server.tls_key_file)
