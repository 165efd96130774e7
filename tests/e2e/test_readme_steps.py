"""The README's install, serve and enrol steps, run as written.

Each shell line of the sections "Install an agent on a department machine", "Run the advisor"
and "Enrol an agent" runs in a shell, changed only where this machine cannot do what a
department machine does, and each change is named here:

- ``sudo`` is dropped: the test's user stands in for root;
- ``/etc/fleetsight`` is a directory of the test, in the commands and in the example configs
  once installed there (they name their certificate and key by path);
- ``/opt/fleetsight`` is this checkout's virtualenv, so creating it and ``pip install`` are
  skipped;
- installing a unit and ``systemctl enable --now UNIT`` / ``systemctl restart UNIT`` run the
  unit's ``ExecStart=`` with its ``Environment=``, ``%d`` being a directory filled as its
  ``LoadCredential=`` lines say; the state directory, the ports and (for the agent, so the test
  need not wait a minute) the intervals are overridden the documented way, by environment;
- the certificate names ``localhost`` instead of ``$(hostname -f)``, which need not resolve to
  this machine, and the agent enrols with ``https://localhost:PORT`` instead of the example URL;
- ``token.txt`` holds the secret ``token create`` printed, as the admin would paste it.

The test then checks what the README promises: check-config passes, the advisor answers over
HTTPS with the made certificate, ``host list`` shows the enrolled machine and its batches
arrive.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.e2e.agentproc import wait_until

pytestmark = pytest.mark.e2e

README = REPO / "README.md"
SECTIONS = ("Install an agent on a department machine", "Run the advisor", "Enrol an agent")
EXAMPLE_URL = "https://advisor.example.org:8443"
SKIPPED = (
    re.compile(r"^python3 -m venv /opt/fleetsight\b"),
    re.compile(r"^/opt/fleetsight/bin/pip install "),
    re.compile(
        r"^install -m 0644 systemd/fleetsight-(agent|advisor)\.service /etc/systemd/system/$"
    ),
)
UNIT_COMMAND = re.compile(r"^systemctl (?:enable --now|restart) (fleetsight-(?:agent|advisor))$")


def readme_commands(section: str) -> list[str]:
    """The shell lines of a README section's ```sh blocks: continuations joined, one command
    per line (a ``&&`` chain split), comments dropped."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", body, flags=re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            commands.extend(part.strip() for part in line.split(" && ") if part.strip())
    return commands


class Machine:
    """The stand-ins for one machine's directories, units and ports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.etc = root / "etc" / "fleetsight"
        self.bin = Path(sys.executable).parent
        self.advisor_state = root / "var" / "lib" / "fleetsight-advisor"
        self.agent_state = root / "var" / "lib" / "fleetsight-agent"
        self.advisor_port = free_port()
        self.units: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            # Bare `fleetsight-advisor`, as an admin with /opt/fleetsight/bin on PATH types it.
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLEETSIGHT_ADVISOR_STATE_DIR": str(self.advisor_state),
            "FLEETSIGHT_ADVISOR_SERVER_LISTEN": f"127.0.0.1:{self.advisor_port}",
            "FLEETSIGHT_AGENT_STATE_DIR": str(self.agent_state),
            # The self-signed advisor's certificate, as the README says agents need it.
            "FLEETSIGHT_AGENT_ADVISOR_CA_FILE": str(self.etc / "advisor.crt"),
            "FLEETSIGHT_AGENT_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
            "FLEETSIGHT_AGENT_REPORT_LISTEN": f"127.0.0.1:{free_port()}",
            "FLEETSIGHT_AGENT_AGENT_SAMPLE_INTERVAL": "200ms",
            "FLEETSIGHT_AGENT_AGENT_SUMMARY_INTERVAL": "1s",
            "FLEETSIGHT_AGENT_ADVISOR_SEND_INTERVAL": "300ms",
            # Where the commands that name no file look for it (the default, under /etc).
            "FLEETSIGHT_ADVISOR_CONFIG": str(self.etc / "advisor.toml"),
            "FLEETSIGHT_AGENT_CONFIG": str(self.etc / "agent.toml"),
        }
        self.advisor_url = f"https://localhost:{self.advisor_port}"

    def translate(self, command: str) -> str | None:
        """The command as this machine runs it, or None when it is skipped (see the module
        docstring for every change)."""
        command = re.sub(r"^sudo ", "", command)
        if any(pattern.search(command) for pattern in SKIPPED):
            return None
        command = command.replace("/opt/fleetsight/bin/", f"{self.bin}/")
        command = command.replace("/etc/fleetsight", str(self.etc))
        command = command.replace("$(hostname -f)", "localhost")
        command = command.replace(EXAMPLE_URL, self.advisor_url)
        return command

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        unit = UNIT_COMMAND.match(command)
        if unit:
            self.start_unit(unit[1])
            return subprocess.CompletedProcess(command, 0, "", "")
        result = self._shell(command)
        installed = re.match(r"^install .* config/\S+\.toml (\S+)$", command)
        if installed and result.returncode == 0:
            config = Path(installed[1])
            config.write_text(config.read_text().replace("/etc/fleetsight", str(self.etc)))
        return result

    def _shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S602 - the README's own shell lines
            command,
            shell=True,
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start_unit(self, name: str) -> None:
        """The unit's ExecStart= with its Environment=, as systemd would run it."""
        self.stop_unit(name)
        unit = (REPO / "systemd" / f"{name}.service").read_text()
        credentials = self.root / "credentials" / name
        credentials.mkdir(parents=True, exist_ok=True)
        for target, source in re.findall(r"^LoadCredential=([^:\n]+):(\S+)$", unit, re.M):
            (credentials / target).write_bytes(Path(self.translate(source) or "").read_bytes())
        environ = dict(self.env)
        for key, value in re.findall(r"^Environment=(\w+)=(\S+)$", unit, re.M):
            if key.endswith("_STATE_DIR"):
                continue  # the test's state directory, above
            environ[key] = value.replace("%d", str(credentials))
        exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M)
        assert exec_start, f"{name}.service has no ExecStart="
        command = self.translate(exec_start[1])
        assert command is not None
        with (self.root / f"{name}.log").open("ab") as log:
            self.units[name] = subprocess.Popen(
                shlex.split(command), cwd=self.root, env=environ, stdout=log, stderr=log
            )

    def stop_unit(self, name: str) -> None:
        process = self.units.pop(name, None)
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    machine = Machine(tmp_path)
    machine.etc.mkdir(parents=True)
    try:
        yield machine
    finally:
        for name in list(machine.units):
            machine.stop_unit(name)


def advisor_answers(machine: Machine) -> bool:
    context = ssl.create_default_context(cafile=machine.etc / "advisor.crt")
    try:
        with urllib.request.urlopen(
            f"{machine.advisor_url}/healthz", context=context, timeout=2
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def batches_stored(machine: Machine) -> float:
    """The advisor's own count of stored batches, from its /metrics."""
    context = ssl.create_default_context(cafile=machine.etc / "advisor.crt")
    with urllib.request.urlopen(
        f"{machine.advisor_url}/metrics", context=context, timeout=5
    ) as response:
        text = response.read().decode()
    found = re.search(r"^fleetsight_advisor_batches_stored_total (\S+)$", text, re.M)
    return float(found[1]) if found else 0.0


def test_the_readme_sections_hold_the_commands_this_test_expects() -> None:
    commands = [c for section in SECTIONS for c in readme_commands(section)]
    assert any(c.startswith("sudo openssl req ") for c in commands)
    assert any("fleetsight-advisor check-config" in c for c in commands)
    assert any("fleetsight-advisor db upgrade" in c for c in commands)
    assert any(c.startswith("fleetsight-advisor token create ") for c in commands)
    assert any(f"fleetsight-agent enroll {EXAMPLE_URL} - < token.txt" in c for c in commands)
    assert sum(bool(UNIT_COMMAND.match(re.sub(r"^sudo ", "", c))) for c in commands) == 3


def test_the_readme_install_serve_and_enrol_steps_work_as_written(machine: Machine) -> None:
    for section in SECTIONS:
        for written in readme_commands(section):
            command = machine.translate(written)
            if command is None:
                continue
            if "fleetsight-agent enroll" in command:
                # The admin pastes what `token create` printed into token.txt.
                command = command.replace("< token.txt", f"< {machine.root / 'token.txt'}")
                assert wait_until(lambda: advisor_answers(machine), timeout=30), machine.log(
                    "fleetsight-advisor"
                )
            result = machine.run(command)
            assert result.returncode == 0, (
                f"README line failed: {written}\nran: {command}\n{result.stdout}{result.stderr}"
                f"\n{machine.log('fleetsight-advisor')}"
            )
            assert "Traceback" not in result.stderr, result.stderr
            if "token create" in command:
                secret = re.search(r"\bfst_[A-Za-z0-9_-]+", result.stdout)
                assert secret, result.stdout
                (machine.root / "token.txt").write_text(secret[0] + "\n")

    hosts = machine.run(f"{machine.bin}/fleetsight-advisor host list")
    assert hosts.returncode == 0, hosts.stderr
    assert socket.gethostname() in hosts.stdout, hosts.stdout
    # The restarted agent ships over HTTPS, trusting the self-signed certificate.
    assert wait_until(lambda: batches_stored(machine) > 0, timeout=60), machine.log(
        "fleetsight-agent"
    ) + machine.log("fleetsight-advisor")
