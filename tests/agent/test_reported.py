from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from agent.errors import ReportError
from agent.launches.recorder import LaunchRecorder
from agent.reported import ReportServer, parse_loopback_address, post_launch
from agent.shared.wire import LaunchEvent

NOW = 1_764_000_000.0


@pytest.fixture
def recorder() -> LaunchRecorder:
    return LaunchRecorder()


@pytest.fixture
def server(recorder: LaunchRecorder) -> Iterator[ReportServer]:
    versions = {"libreoffice": "4:7.4.7-1+deb12u8"}
    report_server = ReportServer(
        "127.0.0.1:0", recorder, version_of=versions.get, wall_clock=lambda: NOW, poll_interval=0.05
    )
    report_server.start()
    try:
        yield report_server
    finally:
        report_server.stop()


def send(
    server: ReportServer,
    body: bytes | None,
    *,
    method: str = "POST",
    path: str = "/v1/launches",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    host, port = parse_loopback_address(server.address)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def post_json(server: ReportServer, payload: object) -> tuple[int, dict[str, Any]]:
    return send(server, json.dumps(payload).encode())


def test_it_records_a_single_report_with_defaults(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    status, reply = post_json(server, {"app": "libreoffice", "duration_seconds": 2.5})

    assert (status, reply) == (202, {"accepted": 1})
    assert recorder.drain().events == [
        LaunchEvent(
            app="libreoffice",
            version="4:7.4.7-1+deb12u8",
            method="reported",
            outcome="ok",
            started_at=NOW - 2.5,
            duration_seconds=2.5,
            ready_signal="reported",
        )
    ]


def test_it_records_a_list_of_reports_with_every_field(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    reports = [
        {
            "app": "payroll-client",
            "duration_seconds": 12,
            "started_at": NOW - 3600,
            "outcome": "failed",
            "version": "2.1.0",
            "detail": "login server unreachable",
        },
        {"app": "libreoffice", "duration_seconds": 1.25, "outcome": "timeout", "version": None},
    ]

    status, reply = post_json(server, reports)

    assert (status, reply) == (202, {"accepted": 2})
    events = recorder.drain().events
    assert [(e.app, e.version, e.outcome, e.started_at, e.duration_seconds) for e in events] == [
        ("payroll-client", "2.1.0", "failed", NOW - 3600, 12.0),
        ("libreoffice", "4:7.4.7-1+deb12u8", "timeout", NOW - 1.25, 1.25),
    ]
    assert events[0].detail == "login server unreachable"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"duration_seconds": 1}, "app: required"),
        ({"app": "has space", "duration_seconds": 1}, "app: expected 1-64 characters"),
        ({"app": "a" * 65, "duration_seconds": 1}, "app: expected 1-64 characters"),
        ({"app": 7, "duration_seconds": 1}, "app: expected 1-64 characters"),
        ({"app": "x"}, "duration_seconds: required"),
        ({"app": "x", "duration_seconds": "2"}, "duration_seconds: expected a number, got str"),
        ({"app": "x", "duration_seconds": True}, "duration_seconds: expected a number, got bool"),
        ({"app": "x", "duration_seconds": 0}, "duration_seconds: must be greater than 0"),
        ({"app": "x", "duration_seconds": 86401}, "duration_seconds: must be greater than 0"),
        (
            {"app": "x", "duration_seconds": 1, "started_at": NOW - 86401},
            "started_at: more than a day in the past",
        ),
        (
            {"app": "x", "duration_seconds": 1, "started_at": NOW + 61},
            "started_at: more than a minute in the future",
        ),
        ({"app": "x", "duration_seconds": 1, "outcome": "slow"}, "outcome: expected one of"),
        ({"app": "x", "duration_seconds": 1, "version": 3}, "version: expected a string"),
        ({"app": "x", "duration_seconds": 1, "detail": "d" * 201}, "detail: at most 200"),
        ({"app": "x", "duration_seconds": 1, "duraton": 2}, "duraton: unknown field"),
        (
            {"app": "x", "duration_seconds": 1, "detail": "\x1b[31mfailed\x1b[0m"},
            "detail: contains the control or formatting character \\x1b",
        ),
        (
            {"app": "x", "duration_seconds": 1, "detail": "ok\u202etxt.exe"},
            "detail: contains the control or formatting character \\u202e",
        ),
        (
            {"app": "x", "duration_seconds": 1, "version": "7.4\n"},
            "version: contains the control or formatting character \\x0a",
        ),
        (
            {"app": "x", "duration_seconds": 1, "version": "7.4\ud800"},
            "version: contains the control or formatting character \\ud800",
        ),
        ({"app": "x\x1b", "duration_seconds": 1}, "app: expected 1-64 characters"),
        ([{"app": "x", "duration_seconds": 1}, {"app": "y"}], "[1].duration_seconds: required"),
        ([], "a list must hold 1 to 100 launches, got 0"),
        ([{"app": "x", "duration_seconds": 1}] * 101, "a list must hold 1 to 100"),
        (["x"], "[0]: expected a JSON object"),
        ("x", "expected a JSON object or a list of objects"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(
    server: ReportServer, recorder: LaunchRecorder, payload: object, message: str
) -> None:
    status, reply = post_json(server, payload)

    assert status == 400
    assert reply["error"].startswith(message)
    assert recorder.pending() == 0


def test_a_detail_may_break_lines_and_use_tabs(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    detail = "exit status 1:\n\tcannot open profile\r\n"
    status, _ = post_json(server, {"app": "x", "duration_seconds": 1, "detail": detail})

    assert status == 202
    assert [event.detail for event in recorder.drain().events] == [detail]


def test_a_reporter_in_a_loop_is_told_when_the_interval_is_full(
    server: ReportServer, recorder: LaunchRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agent.launches.recorder.MAX_COUNTED", 150)
    report = {"app": "x", "duration_seconds": 1}
    assert post_json(server, [report] * 100)[0] == 202

    status, reply = post_json(server, [report] * 100)

    assert status == 429
    assert reply["error"].startswith("too many launches this interval; none of these")
    assert len(recorder.drain().events) == 100
    assert post_json(server, [report] * 100)[0] == 202  # a new interval


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"app": "x", "duration_seconds": ', "body: not valid JSON"),
        (b'{"app": "x", "duration_seconds": NaN}', "body: NaN is not valid JSON"),
        (b'{"app": "\xff", "duration_seconds": 1}', "body: not UTF-8"),
    ],
)
def test_it_refuses_a_body_that_is_not_json(
    server: ReportServer, body: bytes, message: str
) -> None:
    status, reply = send(server, body)

    assert status == 400
    assert reply["error"].startswith(message)


def test_it_refuses_a_body_over_64_kib(server: ReportServer, recorder: LaunchRecorder) -> None:
    padding = "x" * (64 * 1024)
    status, reply = post_json(server, {"app": "x", "duration_seconds": 1, "detail": padding})

    assert status == 413
    assert reply["error"].startswith("body: larger than 65536 bytes")
    assert recorder.pending() == 0


def test_it_refuses_a_body_that_is_not_declared_json(server: ReportServer) -> None:
    body = json.dumps({"app": "x", "duration_seconds": 1}).encode()

    status, reply = send(server, body, headers={"Content-Type": "text/plain"})

    assert status == 415
    assert reply["error"].startswith("Content-Type: expected application/json")


def test_it_accepts_json_with_a_charset(server: ReportServer) -> None:
    body = json.dumps({"app": "x", "duration_seconds": 1}).encode()

    status, _ = send(server, body, headers={"Content-Type": "application/json; charset=utf-8"})

    assert status == 202


def test_it_answers_other_paths_with_404_and_health_with_200(server: ReportServer) -> None:
    assert send(server, b"{}", path="/v1/launch")[0] == 404
    assert send(server, None, method="GET", path="/nope")[0] == 404
    assert send(server, None, method="GET", path="/healthz") == (200, {"status": "ok"})
    assert send(server, None, method="GET", path="/v1/launches")[0] == 405


@pytest.mark.parametrize("listen", ["0.0.0.0:9799", "192.168.1.20:9799", "[::]:9799", "agent:1"])
def test_it_refuses_to_listen_beyond_loopback(recorder: LaunchRecorder, listen: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        ReportServer(listen, recorder)


def test_it_serves_on_ipv6_loopback_when_asked(recorder: LaunchRecorder) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    report_server = ReportServer("[::1]:0", recorder, poll_interval=0.05)
    try:
        report_server.start()
    except OSError as exc:
        pytest.skip(f"::1 not available here: {exc}")
    try:
        assert report_server.address.startswith("[::1]:")
        post_launch(report_server.address, {"app": "x", "duration_seconds": 1})
    finally:
        report_server.stop()
    assert recorder.pending() == 1


def test_post_launch_delivers_to_the_server(server: ReportServer, recorder: LaunchRecorder) -> None:
    post_launch(server.address, {"app": "libreoffice", "duration_seconds": 3.0, "outcome": "ok"})

    [event] = recorder.drain().events
    assert (event.app, event.duration_seconds, event.method) == ("libreoffice", 3.0, "reported")


def test_post_launch_raises_the_servers_message_when_refused(server: ReportServer) -> None:
    with pytest.raises(ReportError, match=r"refused the report: duration_seconds: required"):
        post_launch(server.address, {"app": "libreoffice"})


def test_post_launch_says_when_no_agent_is_listening() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        address = f"127.0.0.1:{sock.getsockname()[1]}"

    with pytest.raises(ReportError, match=f"no fleetsight agent answered at {address}"):
        post_launch(address, {"app": "x", "duration_seconds": 1})


def test_post_launch_refuses_an_address_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        post_launch("10.0.0.1:9799", {"app": "x", "duration_seconds": 1})
