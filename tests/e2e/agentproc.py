"""Run the real agent as a separate process, the way systemd would, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agent.spool import Spool
from tests.conftest import REPO, free_port


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


class AgentProcess:
    """``python -m agent`` with a config written for the test; fast intervals throughout."""

    def __init__(
        self,
        workdir: Path,
        *,
        advisor_url: str | None = None,
        extra: str = "",
        summary_interval: str = "1s",
        packages: bool = True,
        environ: dict[str, str] | None = None,
    ):
        self.workdir = workdir
        self.environ = environ or {}
        self.state_dir = workdir / "state"
        self.config = workdir / "agent.toml"
        self.metrics_port = free_port()
        self.report_port = free_port()
        self.log = workdir / "agent.log"
        advisor = f'url = "{advisor_url}"\n' if advisor_url else ""
        # packages=False: batches stay a few hundred bytes (hardware inventory only).
        managers = '["dpkg"]' if packages else "[]"
        self.config.write_text(
            f'[agent]\nstate_dir = "{self.state_dir}"\nsample_interval = "200ms"\n'
            f'summary_interval = "{summary_interval}"\nlog_level = "debug"\n'
            f'[advisor]\n{advisor}send_interval = "300ms"\nmax_backoff = "1s"\ntimeout = "2s"\n'
            f'[metrics]\nlisten = "127.0.0.1:{self.metrics_port}"\n'
            f'[report]\nlisten = "127.0.0.1:{self.report_port}"\n'
            f"[inventory]\npackage_managers = {managers}\nupgradable = false\n" + extra
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        config = {"FLEETSIGHT_AGENT_CONFIG": str(self.config), "PYTHONPATH": str(REPO)}
        return {**os.environ, **self.environ, **config}

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> AgentProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent", "run"], env=self.env, stdout=log, stderr=log
            )
        return self

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def spooled_ids(self) -> set[str]:
        """Ids of the batches waiting in the spool (read while the agent is stopped)."""
        with Spool(self.state_dir / "spool.sqlite3", 64 * 1024**2) as spool:
            return {batch.batch_id for batch in spool.due(float("inf"), 100_000)}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
