"""Run the real advisor as a separate process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import REPO, free_port
from tests.e2e.agentproc import wait_until


class AdvisorProcess:
    """``python -m advisor serve`` on loopback against ``database_url``."""

    def __init__(self, workdir: Path, database_url: str, *, workers: int = 1):
        self.workdir = workdir
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "advisor.log"
        self.process: subprocess.Popen[bytes] | None = None
        (workdir / "advisor.toml").write_text(
            f'[advisor]\nstate_dir = "{workdir / "advisor-state"}"\nlog_level = "info"\n'
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FLEETSIGHT_ADVISOR_CONFIG": str(self.workdir / "advisor.toml"),
            "FLEETSIGHT_ADVISOR_DATABASE_URL": self.database_url,
            "FLEETSIGHT_ADVISOR_SERVER_LISTEN": f"127.0.0.1:{self.port}",
            "FLEETSIGHT_ADVISOR_SERVER_WORKERS": str(self.workers),
        }

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "advisor", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def create_token(self, department: str = "finance") -> str:
        output = self.cli("token", "create", "--department", department).stdout
        return next(line.strip() for line in output.splitlines() if line.strip().startswith("fst_"))

    def start(self) -> AdvisorProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "advisor", "serve"], env=self.env, stdout=log, stderr=log
            )
        process = self.process
        assert wait_until(lambda: process.poll() is not None or self.healthy(), timeout=60)
        assert process.poll() is None, f"the advisor exited: {self.log.read_text()}"
        assert self.healthy(), self.log.read_text()
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def close(self) -> None:
        if self.process is not None:
            self.kill9()
