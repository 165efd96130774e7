"""``simulate --advisor https://...``: a private CA given with --ca-file, one sentence otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from advisor.simulator.errors import SimulationError
from advisor.simulator.fleet import Fleet, plan_fleet
from advisor.simulator.scenario import default_scenario
from advisor.simulator.sinks import HttpSink, make_client
from tests.conftest import REPO, free_port
from tests.fakes.serving import serving
from tests.fakes.tls import CERT, TLS_DIR, server_context


class _Enrols(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"host_id": "h", "credential": "secret", "department": None}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def enrolling_advisor() -> Iterator[str]:
    """An HTTPS server with the test certificate that accepts every enrolment."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Enrols)
    server.socket = server_context().wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield f"https://127.0.0.1:{server.server_address[1]}"


def one_host_fleet() -> Fleet:
    return plan_fleet(
        default_scenario(), hosts=1, days=1, seed=1, start=1_764_000_000.0, interval=60.0
    )


def test_hosts_enrol_over_https_with_the_advisors_certificate_as_ca_file() -> None:
    fleet = one_host_fleet()
    with enrolling_advisor() as url, make_client(url, ca_file=CERT) as client:
        HttpSink(client, tokens={}, default_token="fst_x").enrol(fleet)


def test_an_untrusted_certificate_is_one_sentence_that_names_ca_file() -> None:
    fleet = one_host_fleet()
    with enrolling_advisor() as url, make_client(url) as client:
        sink = HttpSink(client, tokens={}, default_token="fst_x")
        with pytest.raises(SimulationError) as raised:
            sink.enrol(fleet)
    message = str(raised.value)
    assert "not trusted" in message
    assert "--ca-file" in message
    assert "\n" not in message


def test_a_ca_file_without_a_certificate_is_named(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"key\.pem"):
        make_client("https://127.0.0.1:1", ca_file=TLS_DIR / "key.pem")


def test_the_command_ends_in_one_line_not_a_traceback_when_nothing_listens(
    tmp_path: Path,
) -> None:
    (tmp_path / "advisor.toml").write_text("")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "advisor",
            "--config",
            str(tmp_path / "advisor.toml"),
            "simulate",
            "--hosts",
            "1",
            "--days",
            "1",
            "--advisor",
            f"https://127.0.0.1:{free_port()}",
            "--token",
            "fst_x",
            "--ca-file",
            str(CERT),
            "--truth",
            str(tmp_path / "truth.json"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot reach the advisor" in result.stderr
