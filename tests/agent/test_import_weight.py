"""What the running agent imports: its memory budget (35 MB, docs/benchmarks.md) is mostly
modules, so heavy ones stay out of its path. A fresh interpreter imports every module the
`run` command loads and builds the HTTP client, then reports what came in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

RUN_PATH = """
import json, sys
import agent.cli, agent.service, agent.scheduler, agent.shipper, agent.metrics, agent.spool
import agent.reported, agent.inventory.collector, agent.launches.watcher, agent.tls
import agent.collectors.default
agent.shipper.make_client(5.0, None, 2, url="https://advisor.example").close()
print(json.dumps(sorted(sys.modules)))
"""

# Each of these costs from 0.5 MB (multiprocessing) to tens of MB (numpy, pydantic); httpx
# with httpcore and anyio 3.2 MB.
HEAVY = (
    "apscheduler",
    "httpx",
    "httpcore",
    "anyio",
    "asyncio",
    "multiprocessing",
    "concurrent.futures.process",
    "importlib.metadata",
    "pydantic",
    "sqlalchemy",
    "numpy",
    "fastapi",
)


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", RUN_PATH], cwd=REPO, capture_output=True, text=True, check=True
    )
    modules = set(json.loads(result.stdout))
    assert "agent.scheduler" in modules  # the real path ran
    return modules


def test_the_agents_run_path_keeps_heavy_modules_out(loaded: set[str]) -> None:
    assert sorted(name for name in HEAVY if name in loaded) == []


def test_probes_and_the_text_report_load_only_when_used(loaded: set[str]) -> None:
    assert {"agent.probes.http", "agent.probes.command", "agent.textreport"} & loaded == set()
