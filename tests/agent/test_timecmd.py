from __future__ import annotations

import io
import signal
import socket
import sys
import time
from collections.abc import Iterator

import pytest

from agent.launches.recorder import LaunchRecorder
from agent.reported import ReportServer
from agent.timecmd import default_app_name, run_timed

PYTHON = sys.executable


@pytest.fixture
def recorder() -> LaunchRecorder:
    return LaunchRecorder()


@pytest.fixture
def server(recorder: LaunchRecorder) -> Iterator[ReportServer]:
    report_server = ReportServer("127.0.0.1:0", recorder, poll_interval=0.05)
    report_server.start()
    try:
        yield report_server
    finally:
        report_server.stop()


def unused_address() -> str:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_it_returns_the_exit_status_and_reports_a_failed_launch(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    ticks = iter([100.0, 102.5])
    now = time.time()  # the server refuses start times far from its own clock

    status = run_timed(
        [PYTHON, "-c", "import sys; sys.exit(3)"],
        app="payroll",
        report_address=server.address,
        clock=lambda: next(ticks),
        wall_clock=lambda: now,
    )

    assert status == 3
    [event] = recorder.drain().events
    assert (event.app, event.method, event.outcome, event.detail) == (
        "payroll",
        "reported",
        "failed",
        "exit status 3",
    )
    assert (event.started_at, event.duration_seconds, event.ready_signal) == (now, 2.5, "reported")


def test_it_reports_success_under_the_commands_basename(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    status = run_timed([PYTHON, "-c", "pass"], app=None, report_address=server.address)

    assert status == 0
    [event] = recorder.drain().events
    assert (event.app, event.outcome, event.detail) == (default_app_name(PYTHON), "ok", None)
    assert event.duration_seconds is not None
    assert event.duration_seconds > 0


def test_it_still_returns_the_status_when_the_agent_is_not_listening(
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = unused_address()

    status = run_timed(
        [PYTHON, "-c", "import sys; sys.exit(3)"],
        app="payroll",
        report_address=address,
        clock=iter([0.0, 1.25]).__next__,
    )

    assert status == 3
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "payroll took 1.250 s; not reported" in error
    assert address in error


def test_it_answers_127_for_a_missing_command_like_a_shell(
    server: ReportServer, recorder: LaunchRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_timed(["/nonexistent/fleetsight-app"], app=None, report_address=server.address)

    assert status == 127
    assert "/nonexistent/fleetsight-app: command not found" in capsys.readouterr().err
    assert recorder.pending() == 0


def test_it_answers_128_plus_the_signal_that_killed_the_command(
    server: ReportServer, recorder: LaunchRecorder
) -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"

    status = run_timed([PYTHON, "-c", script], app="doomed", report_address=server.address)

    assert status == 128 + signal.SIGKILL
    [event] = recorder.drain().events
    assert (event.outcome, event.detail) == ("failed", "killed by SIGKILL")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_it_forwards_a_signal_sent_to_it_to_the_command(
    server: ReportServer,
    recorder: LaunchRecorder,
    signum: signal.Signals,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a terminal: a SIGINT could only have come from another process, never from Ctrl-C.
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    # The command signals its parent (run_timed, in this process) and waits to be signalled
    # back; without forwarding it would sleep on and exit 0.
    script = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        f"os.kill(os.getppid(), {int(signum)})\n"
        "time.sleep(30)\n"
    )

    status = run_timed([PYTHON, "-c", script], app="forwarded", report_address=server.address)

    assert status == 128 + signum
    [event] = recorder.drain().events
    assert event.detail == f"killed by {signum.name}"


def test_it_restores_the_signal_handlers_afterwards(server: ReportServer) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    run_timed([PYTHON, "-c", "pass"], app="x", report_address=server.address)

    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_it_runs_without_reporting_when_the_endpoint_is_disabled(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = run_timed([PYTHON, "-c", "import sys; sys.exit(5)"], app="x", report_address="")

    assert status == 5
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("argv0", "name"),
    [("/usr/bin/soffice", "soffice"), ("my app+", "my_app_"), ("a" * 80, "a" * 64)],
)
def test_it_names_the_app_after_the_command_in_characters_the_endpoint_accepts(
    argv0: str, name: str
) -> None:
    assert default_app_name(argv0) == name
