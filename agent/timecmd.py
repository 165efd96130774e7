"""``fleetsight-agent time -- CMD ARGS``: run a command, report how long it took, exit like it.

The command runs in the foreground with the caller's stdin, stdout and stderr, so wrapping a
line of a login script changes nothing but the report: the exit status is the command's
(128 + N when signal N killed it, 127 when it does not exist, as a shell would say). The timing
goes to the agent's loopback report endpoint; when no agent answers, one line on stderr says so
and the command's status is returned all the same.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePath
from types import FrameType
from typing import Any

from agent.errors import ReportError
from agent.reported import post_launch

_PROG = "fleetsight-agent time"
_FORWARDED = (signal.SIGINT, signal.SIGTERM)


def default_app_name(argv0: str) -> str:
    """The app label for a command: its basename, reduced to what the endpoint accepts."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(argv0).name)[:64]
    return name or "command"


def exit_status(returncode: int) -> int:
    """A shell's view of a Popen return code: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _terminal_delivered(signum: int, pid: int) -> bool:
    """Whether the terminal already sent ``signum`` to the child.

    Ctrl-C goes to the terminal's whole foreground process group; a child in that group got
    its own SIGINT, and a forwarded copy would interrupt its clean-up (uv's `run` learned the
    same, astral-sh/uv#13925). Signals sent to this process alone are always forwarded.
    """
    if signum != signal.SIGINT:
        return False
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgid(pid)
    except (OSError, ValueError, AttributeError):
        return False


class _Forwarder:
    """Signal handler passing SIGINT and SIGTERM on to the command instead of ending here.

    Installed before the command starts, so a signal in between is kept and passed on as soon
    as the command exists.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._pending: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.process is None:
            self._pending.append(signum)
        elif self.process.returncode is None and not _terminal_delivered(signum, self.process.pid):
            self.process.send_signal(signum)

    def started(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        for signum in self._pending:
            process.send_signal(signum)
        self._pending.clear()


@contextmanager
def _forwarding_signals(forwarder: _Forwarder) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the caller keeps its own
        return
    previous: dict[int, Any] = {sig: signal.signal(sig, forwarder) for sig in _FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_timed(
    argv: Sequence[str],
    *,
    app: str | None,
    report_address: str,
    clock: Callable[[], float] = time.perf_counter,
    wall_clock: Callable[[], float] = time.time,
) -> int:
    """Run ``argv`` in the foreground, report its wall time, and return its exit status.

    ``report_address`` is the agent's ``[report] listen``; empty means run without reporting.
    The report is ``{"app", "duration_seconds", "started_at", "outcome", "detail"}`` with
    outcome ``ok`` for exit status 0, else ``failed`` and detail ``"exit status N"``.
    """
    if not argv:
        raise ValueError("run_timed needs a command")
    name = app or default_app_name(argv[0])
    forwarder = _Forwarder()
    with _forwarding_signals(forwarder):
        started_at = wall_clock()
        start = clock()
        try:
            process = subprocess.Popen(list(argv))
        except FileNotFoundError:
            print(f"{_PROG}: {argv[0]}: command not found", file=sys.stderr)
            return 127
        except OSError as exc:
            print(f"{_PROG}: {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
            return 126
        with process:
            forwarder.started(process)
            returncode = process.wait()
            elapsed = max(clock() - start, 1e-6)
    status = exit_status(returncode)
    if report_address:
        _report(name, elapsed, started_at, returncode, report_address)
    return status


def _report(
    app: str, elapsed: float, started_at: float, returncode: int, report_address: str
) -> None:
    event: dict[str, Any] = {
        "app": app,
        "duration_seconds": elapsed,
        "started_at": started_at,
        "outcome": "ok" if returncode == 0 else "failed",
    }
    if returncode > 0:
        event["detail"] = f"exit status {returncode}"
    elif returncode < 0:
        event["detail"] = f"killed by {_signal_name(-returncode)}"
    try:
        post_launch(report_address, event)
    except (ReportError, ValueError) as exc:  # ValueError: an unusable report address
        print(f"{_PROG}: {app} took {elapsed:.3f} s; not reported: {exc}", file=sys.stderr)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
