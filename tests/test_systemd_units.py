"""The shipped systemd units stay hardened and start commands that exist."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from agent.cli import build_parser
from tests.conftest import REPO, require_tool

UNITS = sorted((REPO / "systemd").glob("*.service"))
MAX_EXPOSURE = 2.5  # "OK" or better in systemd-analyze's words


def exposure(unit: str) -> float:
    analyze = require_tool("systemd-analyze", "systemd")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", unit],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, f"no exposure level in systemd-analyze output:\n{result.stdout}{result.stderr}"
    return float(match[1])


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_each_unit_is_rated_ok_or_better_by_systemd_analyze(unit: object) -> None:
    assert exposure(str(unit)) <= MAX_EXPOSURE


def test_the_agent_unit_runs_a_command_the_agent_has() -> None:
    text = (REPO / "systemd" / "fleetsight-agent.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", text, re.MULTILINE)
    assert exec_start
    argv = shlex.split(exec_start[1])
    assert argv[0].endswith("/fleetsight-agent")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"


def test_the_agent_unit_stops_with_sigterm_so_the_last_interval_is_spooled() -> None:
    text = (REPO / "systemd" / "fleetsight-agent.service").read_text()
    assert re.search(r"^KillSignal=SIGTERM$", text, re.MULTILINE)
    assert re.search(r"^StateDirectory=fleetsight$", text, re.MULTILINE)
    assert re.search(r"^NoNewPrivileges=yes$", text, re.MULTILINE)
