"""The shipped systemd units stay hardened and start commands that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from advisor.config import DEFAULT_STATE_DIR as ADVISOR_STATE_DIR
from advisor.config import parse_config
from agent.cli import build_parser
from agent.config import DEFAULT_STATE_DIR as AGENT_STATE_DIR
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
    assert re.search(r"^StateDirectory=fleetsight-agent$", text, re.MULTILINE)
    assert re.search(r"^NoNewPrivileges=yes$", text, re.MULTILINE)


def state_directory(unit: str) -> str:
    text = (REPO / "systemd" / unit).read_text()
    match = re.search(r"^StateDirectory=(\S+)$", text, re.MULTILINE)
    assert match, f"{unit} has no StateDirectory="
    return match[1]


def test_the_agent_and_the_advisor_keep_their_state_apart_on_one_machine() -> None:
    assert state_directory("fleetsight-agent.service") != state_directory(
        "fleetsight-advisor.service"
    )


@pytest.mark.parametrize(
    ("unit", "variable", "default"),
    [
        ("fleetsight-agent.service", "FLEETSIGHT_AGENT_STATE_DIR", AGENT_STATE_DIR),
        ("fleetsight-advisor.service", "FLEETSIGHT_ADVISOR_STATE_DIR", ADVISOR_STATE_DIR),
    ],
)
def test_each_unit_points_its_program_at_its_own_state_directory_which_is_the_default(
    unit: str, variable: str, default: Path
) -> None:
    text = (REPO / "systemd" / unit).read_text()
    expected = f"/var/lib/{state_directory(unit)}"
    assert re.search(rf"^Environment={variable}={re.escape(expected)}$", text, re.MULTILINE)
    assert str(default) == expected


def test_the_advisor_unit_passes_its_tls_credentials_to_settings_the_advisor_has(
    tmp_path: Path,
) -> None:
    text = (REPO / "systemd" / "fleetsight-advisor.service").read_text()
    loaded = dict(re.findall(r"^LoadCredential=([^:\s]+):(\S+)$", text, re.MULTILINE))
    environment = dict(re.findall(r"^Environment=(FLEETSIGHT_ADVISOR_\w+)=(\S+)$", text, re.M))
    # %d is the unit's credentials directory: every file named there is one systemd loads.
    in_credentials = {
        name: value.removeprefix("%d/")
        for name, value in environment.items()
        if value.startswith("%d/")
    }
    assert set(in_credentials.values()) == set(loaded) == {"advisor.crt", "advisor.key"}
    config = parse_config(
        "", environ={name: str(tmp_path / file) for name, file in in_credentials.items()}
    )
    assert config.server.tls_cert_file == tmp_path / "advisor.crt"
    assert config.server.tls_key_file == tmp_path / "advisor.key"
    # The files systemd reads are the ones the example configuration names.
    example = parse_config((REPO / "config" / "advisor.toml").read_text(), environ={})
    assert {str(example.server.tls_cert_file), str(example.server.tls_key_file)} == set(
        loaded.values()
    )
