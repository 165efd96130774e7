"""The jobs' metrics, after real runs, pass ``promtool check metrics`` with the API's."""

from __future__ import annotations

import subprocess

import sqlalchemy as sa
from prometheus_client import generate_latest

from advisor.api.metrics import ApiMetrics, process_registry
from advisor.config import parse_config
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.names import ANALYSIS
from advisor.jobs.tasks import JOB_TABLES, build_runners
from advisor.store.open import stores_on
from tests.conftest import require_tool

T0 = 1_764_000_000.0


def test_job_metrics_after_runs_pass_promtool(engine: sa.Engine) -> None:
    promtool = require_tool("promtool", "prometheus")
    registry = process_registry()
    ApiMetrics(registry)
    metrics = JobMetrics(registry, JOB_TABLES)
    config = parse_config("")
    mine = build_runners(stores_on(engine), config, metrics, owner="one", clock=lambda: T0)
    other = build_runners(stores_on(engine), config, metrics, owner="two", clock=lambda: T0)
    for job in JOB_TABLES:
        assert mine[job].tick().outcome == "success"
        # The analysis runs in parts, one per app: with no launches there are none to share.
        assert other[job].tick().outcome == ("success" if job == ANALYSIS else "skipped")

    text = generate_latest(registry).decode()
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""
    assert 'fleetsight_advisor_job_runs_total{job="rollup",outcome="skipped"} 1.0' in text
    last_success = registry.get_sample_value(
        "fleetsight_advisor_job_last_success_timestamp_seconds", {"job": "retention"}
    )
    assert last_success == T0
