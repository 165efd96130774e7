"""Command probe: time a command (e.g. a headless document conversion) from start to exit.

The command runs without a shell, with stdin from /dev/null and stdout discarded, in a process
group of its own. When it is done, or out of time, the whole group is killed: a probe runs every
interval, and anything it left behind would pile up and keep its stderr pipe open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

from agent.config import CommandProbeConfig
from agent.launches.recorder import LaunchRecorder
from agent.shared.wire import LaunchEvent, LaunchOutcome
from agent.shared.wire_limits import MAX_DETAIL
from agent.text import clean_text

STDERR_TAIL_CHARS = 200
# Bytes of stderr kept while reading: enough for STDERR_TAIL_CHARS of multi-byte UTF-8.
_STDERR_TAIL_BYTES = 4 * STDERR_TAIL_CHARS
# After the group is killed, how long to wait for the stderr pipe to reach end of file; only a
# process that left the group (setsid) can hold it open longer.
_PIPE_GRACE_SECONDS = 2.0


class _TailReader:
    """Drains a pipe on a thread, keeping only its last bytes, so memory stays bounded."""

    def __init__(self, pipe: IO[bytes]):
        self._pipe = pipe
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, name="probe-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        with self._pipe:
            while chunk := self._pipe.read(_STDERR_TAIL_BYTES):
                self._tail = (self._tail + chunk)[-_STDERR_TAIL_BYTES:]

    def text(self, timeout: float) -> str:
        """The last STDERR_TAIL_CHARS characters read by the time the pipe closes (or timeout).

        Colour codes and other control characters are shown escaped (``\\x1b[31m``): the
        advisor refuses a batch whose detail holds them.
        """
        self._thread.join(timeout)
        decoded = self._tail.decode("utf-8", errors="replace").strip()
        return clean_text(decoded, STDERR_TAIL_CHARS, keep_end=True)


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def exit_detail(returncode: int, stderr_tail: str) -> str:
    """``"exit status 3: <stderr tail>"`` or ``"killed by SIGSEGV"``."""
    if returncode < 0:
        try:
            reason = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            reason = f"killed by signal {-returncode}"
    else:
        reason = f"exit status {returncode}"
    return f"{reason}: {stderr_tail}" if stderr_tail else reason


class CommandProbe:
    """Runs the configured command per :meth:`run_once` and records how long it took.

    Exit status 0 is ``ok``; any other status, a signal, or a command that cannot be started is
    ``failed``; a command still running after ``timeout`` is killed with its process group and
    recorded as ``timeout``.
    """

    def __init__(
        self,
        config: CommandProbeConfig,
        recorder: LaunchRecorder,
        *,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._config = config
        self._recorder = recorder
        self._clock = clock
        self._wall_clock = wall_clock

    def run_once(self) -> LaunchEvent:
        """Run the command once, record the event and return it. Never raises for a bad run."""
        started_at = self._wall_clock()
        start = self._clock()
        outcome, detail, ended = self._run()
        event = LaunchEvent(
            app=self._config.app or self._config.name,
            version=None,
            method="probe",
            outcome=outcome,
            started_at=started_at,
            duration_seconds=ended - start,
            ready_signal="command",
            probe=self._config.name,
            # The command's own name can be in it too, and argv[0] may hold anything.
            detail=clean_text(detail, MAX_DETAIL) if detail else None,
        )
        self._recorder.record(event)
        return event

    def _run(self) -> tuple[LaunchOutcome, str | None, float]:
        """Outcome, detail and the clock reading when the command ended (or was given up)."""
        argv = list(self._config.command)
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=self._config.cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            if exc.filename in (None, argv[0]):
                return "failed", f"executable not found: {argv[0]}", self._clock()
            return "failed", f"cannot run {argv[0]}: {exc.filename} not found", self._clock()
        except OSError as exc:
            return "failed", f"cannot run {argv[0]}: {exc.strerror or exc}", self._clock()
        assert process.stderr is not None  # stderr=PIPE
        # The reader owns the pipe and closes it at end of file; closing it here while the
        # reader blocks on it would block too.
        stderr = _TailReader(process.stderr)
        try:
            returncode = process.wait(timeout=self._config.timeout)
        except subprocess.TimeoutExpired:
            ended = self._clock()
            # The leader is not reaped yet, so its pid still names the group.
            kill_group(process.pid)
            process.wait()
            tail = stderr.text(_PIPE_GRACE_SECONDS)
            detail = f"killed after the {self._config.timeout:g} s timeout"
            return "timeout", f"{detail}: {tail}" if tail else detail, ended
        ended = self._clock()
        kill_group(process.pid)
        tail = stderr.text(_PIPE_GRACE_SECONDS)
        if returncode == 0:
            return "ok", None, ended
        return "failed", exit_detail(returncode, tail), ended
