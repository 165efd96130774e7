from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psutil

from agent.config import CommandProbeConfig
from agent.launches.recorder import LaunchRecorder
from agent.probes.command import CommandProbe

PYTHON = sys.executable


def run(*command: str, timeout: float = 30.0, **options: Any) -> CommandProbe:
    config = CommandProbeConfig(name="convert", command=command, timeout=timeout, **options)
    return CommandProbe(config, LaunchRecorder())


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for a reaper counts: it runs no more)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(pids: list[int], within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_it_records_a_command_that_exits_zero_as_ok() -> None:
    recorder = LaunchRecorder()
    config = CommandProbeConfig(
        name="convert", command=(PYTHON, "-c", "print('converted')"), app="libreoffice"
    )

    event = CommandProbe(config, recorder).run_once()

    assert (event.outcome, event.detail) == ("ok", None)
    assert (event.app, event.probe, event.method, event.ready_signal) == (
        "libreoffice",
        "convert",
        "probe",
        "command",
    )
    assert event.duration_seconds is not None
    assert event.duration_seconds > 0
    assert recorder.drain().events == [event]


def test_it_records_a_non_zero_exit_with_the_tail_of_stderr() -> None:
    script = "import sys; sys.stderr.write('x' * 5000 + 'cannot open document.odt\\n'); sys.exit(3)"

    event = run(PYTHON, "-c", script).run_once()

    assert event.outcome == "failed"
    assert event.detail is not None
    assert event.detail.startswith("exit status 3: …xxx")  # the mark says the start was cut
    assert event.detail.endswith("cannot open document.odt")
    assert len(event.detail) == len("exit status 3: ") + 200


def test_colour_codes_in_stderr_are_shown_escaped_within_the_tail() -> None:
    script = (
        "import sys; sys.stderr.write('\\x1b[1;31merror\\x1b[0m: bad\\x07 \\u202etxt.exe'"
        " + '\\x1b[K' * 100); sys.exit(2)"
    )

    event = run(PYTHON, "-c", script).run_once()

    assert event.detail is not None
    assert event.detail.endswith("\\x1b[K\\x1b[K")
    assert "\x1b" not in event.detail
    assert len(event.detail) == len("exit status 2: ") + 200


def test_a_short_stderr_keeps_its_line_breaks_and_escapes_the_rest() -> None:
    script = "import sys; sys.stderr.write('\\x1b[31mfirst\\nsecond\\u202e'); sys.exit(1)"

    event = run(PYTHON, "-c", script).run_once()

    assert event.detail == "exit status 1: \\x1b[31mfirst\nsecond\\u202e"


def test_it_runs_the_command_in_its_working_directory_without_a_shell(tmp_path: Path) -> None:
    script = "import os, sys; sys.exit(os.getcwd() != sys.argv[2] or sys.argv[1] != '$HOME *')"

    event = run(PYTHON, "-c", script, "$HOME *", str(tmp_path), cwd=tmp_path).run_once()

    assert (event.outcome, event.detail) == ("ok", None)


def test_it_reports_a_missing_working_directory(tmp_path: Path) -> None:
    event = run(PYTHON, "-c", "pass", cwd=tmp_path / "gone").run_once()

    assert event.outcome == "failed"
    assert event.detail == f"cannot run {PYTHON}: {tmp_path / 'gone'} not found"


def test_it_kills_the_whole_process_group_on_timeout(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids_file)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(60)\n"
    )

    event = run(PYTHON, "-c", script, timeout=2.0).run_once()

    assert event.outcome == "timeout"
    assert event.detail == "killed after the 2 s timeout"
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert len(pids) == 2
    assert wait_until_gone(pids)


def test_it_reports_a_missing_executable_clearly() -> None:
    event = run("/nonexistent/fleetsight-convert", "--headless").run_once()

    assert event.outcome == "failed"
    assert event.detail == "executable not found: /nonexistent/fleetsight-convert"


def test_it_reports_a_command_killed_by_a_signal() -> None:
    event = run(PYTHON, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)").run_once()

    assert (event.outcome, event.detail) == ("failed", "killed by SIGSEGV")
