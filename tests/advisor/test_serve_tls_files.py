"""The advisor's certificate and key are checked by check-config and before serve binds.

Following the README, the first ``serve`` used to die in a 40-line traceback on key files
nobody had made, after ``check-config`` had said OK.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.tls_files import TlsFilesError, check_tls_files
from tests.conftest import FIXTURES, REPO, free_port, require_tool

CERT = FIXTURES / "tls" / "cert.pem"
KEY = FIXTURES / "tls" / "key.pem"


def other_key(tmp_path: Path) -> Path:
    """A valid private key that is not the test certificate's."""
    openssl = require_tool("openssl", "openssl")
    key = tmp_path / "other.key"
    subprocess.run(
        [
            openssl,
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            str(key),
        ],
        check=True,
        timeout=30,
    )
    return key


def test_the_committed_test_pair_passes() -> None:
    check_tls_files(CERT, KEY)


def test_a_missing_key_is_named_with_where_to_read_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(TlsFilesError) as raised:
        check_tls_files(CERT, tmp_path / "advisor.key")
    assert f"tls_key_file {tmp_path / 'advisor.key'} does not exist" in str(raised.value)
    assert "docs/advisor.md#https" in str(raised.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_key_is_named_with_the_systemd_way_to_pass_it(tmp_path: Path) -> None:
    key = tmp_path / "advisor.key"
    shutil.copy(KEY, key)
    key.chmod(0)
    with pytest.raises(TlsFilesError, match=r"not readable by this user.*LoadCredential"):
        check_tls_files(CERT, key)


def test_a_key_in_place_of_the_certificate_is_called_no_certificate() -> None:
    with pytest.raises(
        TlsFilesError, match=re.escape(f"tls_cert_file {KEY} holds no PEM certificate")
    ):
        check_tls_files(KEY, KEY)


def test_a_certificate_in_place_of_the_key_is_called_no_key() -> None:
    with pytest.raises(
        TlsFilesError, match=re.escape(f"tls_key_file {CERT} holds no PEM private key")
    ):
        check_tls_files(CERT, CERT)


def test_a_key_of_another_certificate_is_called_a_mismatch(tmp_path: Path) -> None:
    key = other_key(tmp_path)
    with pytest.raises(TlsFilesError, match=re.escape(f"tls_key_file {key} is not the key of")):
        check_tls_files(CERT, key)


def test_an_encrypted_key_is_refused_without_prompting_for_a_password(tmp_path: Path) -> None:
    openssl = require_tool("openssl", "openssl")
    key = tmp_path / "encrypted.key"
    subprocess.run(
        [openssl, "pkey", "-in", str(KEY), "-aes256", "-passout", "pass:secret", "-out", str(key)],
        check=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    with pytest.raises(TlsFilesError, match="is encrypted"):
        check_tls_files(CERT, key)


def run_advisor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "advisor.toml"
    config.write_text(
        f'[advisor]\nstate_dir = "{tmp_path}"\n[server]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'tls_cert_file = "{CERT}"\ntls_key_file = "{tmp_path / "advisor.key"}"\n'
        "[jobs]\nenabled = false\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "advisor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_a_missing_key_stops_the_command_with_one_line_naming_it(
    tmp_path: Path, command: str
) -> None:
    result = run_advisor(tmp_path, command)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "advisor.key" in line]
    assert line.startswith("fleetsight-advisor: [server] tls_key_file")
    assert "OK" not in result.stdout
