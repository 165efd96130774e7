"""The command line as an operator meets it: help, config errors, one-shot collection."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import read_token
from agent.credentials import load_credential
from agent.errors import EnrolmentError
from agent.shared.metricdefs import METRICS
from tests.conftest import REPO
from tests.fakes.receiver import Receiver


def agent(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env=env,
        input=stdin,
    )


def test_help_lists_every_command() -> None:
    result = agent("--help")
    assert result.returncode == 0
    for command in ("run", "collect", "check-config", "enroll", "time", "spool"):
        assert command in result.stdout


def test_check_config_accepts_the_example_config() -> None:
    result = agent("--config", "config/agent.toml", "check-config")
    assert result.returncode == 0, result.stderr
    assert "config/agent.toml: OK" in result.stdout
    assert "libreoffice, firefox, thunderbird, gimp" in result.stdout


def test_the_common_options_work_after_the_command_too(tmp_path: Path) -> None:
    after = agent("check-config", "--config", "config/agent.toml", "--state-dir", str(tmp_path))
    assert after.returncode == 0, after.stderr
    assert f"state directory   {tmp_path}" in after.stdout
    # Given before the command only, an option is not reset by the command's own copy of it.
    before = agent("--state-dir", str(tmp_path), "spool", "status")
    assert f"no spool at {tmp_path / 'spool.sqlite3'}" in before.stdout + before.stderr


def test_check_config_shows_the_proxy_without_its_password() -> None:
    env = proxyless_environ() | {
        "HTTPS_PROXY": "http://agent:secret@proxy.corp:3128",
        "NO_PROXY": "localhost",
    }
    result = agent("--config", "config/agent.toml", "check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert "proxy             https via proxy.corp:3128; not for localhost" in result.stdout
    assert "secret" not in result.stdout


def test_a_proxy_the_agent_cannot_use_stops_run_with_one_line_naming_the_variable(
    tmp_path: Path,
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n')
    env = proxyless_environ() | {"all_proxy": "socks5://proxy.corp:1080"}
    for command in ("check-config", "run"):
        result = agent("--config", str(config), command, env=env)
        assert result.returncode == 1
        assert result.stderr.startswith("fleetsight-agent: all_proxy=socks5://proxy.corp:1080: ")
        assert "only http:// proxies are supported" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()


def proxyless_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def test_a_bad_config_fails_with_one_line_naming_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nsample_interval = "5s"\n\n[spool]\nmax_bytes = "lots"\n')
    result = agent("--config", str(config), "check-config")
    assert result.returncode == 2
    assert result.stderr == (
        f"fleetsight-agent: {config}:5: spool.max_bytes: "
        "expected a size like '64MiB' or '100MB', got 'lots'\n"
    )
    assert "Traceback" not in result.stderr


def test_collect_once_prints_one_batch_of_known_series(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstate_dir = "{tmp_path / "state"}"\n')
    result = agent("--config", str(config), "collect", "--once", "--interval", "0.3s")
    assert result.returncode == 0, result.stderr
    batch = json.loads(result.stdout)
    assert batch["schema"] == "fleetsight.batch"
    (interval,) = batch["intervals"]
    names = {metric["name"] for metric in interval["metrics"]}
    assert "cpu_utilization_ratio" in names
    assert names <= set(METRICS)
    assert batch["inventory"]["hardware"]["memory_bytes"] > 0
    # collect must not create the spool or any state the running agent relies on
    assert not (tmp_path / "state").exists()


def test_time_without_a_command_explains_how_to_use_it() -> None:
    result = agent("time")
    assert result.returncode == 2
    assert "give the command after --" in result.stderr


def test_spool_status_without_a_spool_says_so(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "spool", "status")
    assert result.returncode == 0
    assert "no spool at" in result.stdout


def test_a_taken_metrics_port_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[agent]\nstate_dir = "{tmp_path / "state"}"\n'
            f'[metrics]\nlisten = "127.0.0.1:{port}"\n[report]\nlisten = ""\n'
        )
        result = agent("--config", str(config), "run", "--for", "5s")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}: Address already in use" in (
        result.stderr
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(tokens={"tok-cli"}) as running:
        yield running


def test_enroll_reads_the_token_from_stdin(receiver: Receiver, tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "enroll", receiver.url, "-", stdin="tok-cli\n")
    assert result.returncode == 0, result.stderr
    assert "enrolled with" in result.stdout
    assert "warning" not in result.stderr  # loopback http: nothing crosses the network
    [issued] = receiver.enrolled.values()
    assert load_credential(tmp_path / "credential") == issued


def test_enroll_reads_the_token_from_a_file(receiver: Receiver, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-cli\n")
    state = tmp_path / "state"
    result = agent(
        "--state-dir", str(state), "enroll", receiver.url, "--token-file", str(token_file)
    )
    assert result.returncode == 0, result.stderr
    assert (state / "credential").exists()


def test_enroll_still_takes_the_token_as_an_argument(receiver: Receiver, tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "enroll", receiver.url, "tok-cli")
    assert result.returncode == 0, result.stderr


def test_enroll_help_recommends_stdin() -> None:
    result = agent("enroll", "--help")
    assert result.returncode == 0
    assert "stdin" in result.stdout
    assert "--token-file" in result.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        (["-"], "", "the enrolment token from stdin is empty"),
        ([], "  \n", "the enrolment token from stdin is empty"),
        (["--token-file", "/nonexistent/token"], "", "cannot read the token file"),
        (["tok", "--token-file", "/etc/hostname"], "", "give the enrolment token once"),
    ],
)
def test_enroll_names_what_is_wrong_with_the_token(
    args: list[str], stdin: str, error: str, receiver: Receiver, tmp_path: Path
) -> None:
    result = agent("--state-dir", str(tmp_path), "enroll", receiver.url, *args, stdin=stdin)
    assert result.returncode == 1
    assert error in result.stderr
    assert "Traceback" not in result.stderr
    assert receiver.requests == []


def test_enroll_over_plain_http_to_another_machine_warns_once(tmp_path: Path) -> None:
    # The empty token stops it before any connection: the warning comes first.
    result = agent("--state-dir", str(tmp_path), "enroll", "http://advisor.invalid:8080", "-")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("fleetsight-agent: warning: http://advisor.invalid:8080 is plain")
    assert "in clear text" in lines[0]
    assert len([line for line in lines if "warning" in line]) == 1
    assert "token from stdin is empty" in lines[-1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_token_a_terminal_is_asked_without_echo() -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return " tok-typed "

    assert read_token(None, None, stdin=Terminal("ignored\n"), ask=ask) == "tok-typed"
    assert prompts == ["enrolment token (not shown): "]


def test_without_a_token_and_no_terminal_stdin_is_read() -> None:
    def ask(prompt: str) -> str:
        raise AssertionError("no prompt without a terminal")

    assert read_token(None, None, stdin=io.StringIO("tok-piped\nmore\n"), ask=ask) == "tok-piped"


def test_a_token_file_with_more_than_the_token_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-1\ntok-2\n")
    with pytest.raises(EnrolmentError, match="more than a token"):
        read_token(None, token_file)


def test_an_interrupted_prompt_is_an_empty_token() -> None:
    def ask(prompt: str) -> str:
        raise EOFError

    with pytest.raises(EnrolmentError, match="from the prompt is empty"):
        read_token(None, None, stdin=Terminal(), ask=ask)
