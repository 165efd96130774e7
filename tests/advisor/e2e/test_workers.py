"""`serve` with several worker processes on PostgreSQL: one socket, one sum of metrics."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from advisor.store.engine import make_engine
from advisor.store.models import BatchRecord
from advisor.store.sql import SqlStore
from agent.shared.wire import Batch, HostIdentity, Interval, MetricSummary, encode_gzip
from tests.advisor.conftest import Databases
from tests.conftest import require_tool
from tests.e2e.advisorproc import AdvisorProcess
from tests.e2e.agentproc import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

T0 = 1_764_000_000.0
BATCHES = 40


def minute(host_id: str, sequence: int) -> Batch:
    start = T0 + 60 * sequence
    return Batch(
        batch_id=uuid.uuid4().hex,
        sequence=sequence,
        created_at=start + 60,
        host=HostIdentity(host_id=host_id, hostname=host_id, agent_version="test"),
        intervals=[
            Interval(
                start=start,
                end=start + 60,
                metrics=[MetricSummary("load1", {}, 12, 6.0, 0.1, 0.9, 0.5, 0.8, 0.9)],
            )
        ],
    )


def stored_total(metrics_text: str) -> float:
    found = re.search(r"^fleetsight_advisor_batches_stored_total (\S+)$", metrics_text, re.M)
    assert found, metrics_text
    return float(found.group(1))


def test_two_workers_share_the_port_and_report_one_sum_of_metrics(
    databases: Databases, tmp_path: Path
) -> None:
    promtool = require_tool("promtool", "prometheus")
    url = databases.postgresql_url()
    store = SqlStore(make_engine(url))
    token, _ = store.create_token(department="finance", expires_at=T0 * 2, now=T0)
    credentials = {
        host_id: store.enrol(
            token=token, host_id=host_id, hostname=host_id, agent_version="test", now=T0
        ).credential
        for host_id in ("host-a", "host-b")
    }
    store.close()
    advisor = AdvisorProcess(tmp_path, url, workers=2).start()
    try:
        metrics_dir = tmp_path / "advisor-state" / "metrics"

        def worker_pids() -> set[str]:  # read again until both workers wrote theirs
            return {
                match.group(1)
                for path in metrics_dir.glob("*.db")
                if (match := re.search(r"_(\d+)\.db$", path.name))
            }

        assert wait_until(lambda: len(worker_pids()) == 2, timeout=30), advisor.log.read_text()
        for sequence in range(BATCHES):
            host_id = ("host-a", "host-b")[sequence % 2]
            # A new connection each time, so the kernel hands them to either worker.
            answer = httpx.post(
                f"{advisor.url}/api/v1/ingest",
                content=encode_gzip(minute(host_id, sequence)),
                headers={
                    "Authorization": f"Bearer {credentials[host_id]}",
                    "Content-Encoding": "gzip",
                    "Content-Type": "application/json",
                },
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
        scrapes = [httpx.get(f"{advisor.url}/metrics", timeout=10).text for _ in range(6)]
        assert advisor.terminate() in (0, -15)
    finally:
        advisor.close()

    assert {stored_total(text) for text in scrapes} == {BATCHES}
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=scrapes[0], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(sa.select(sa.func.count()).select_from(BatchRecord))
    finally:
        engine.dispose()
    assert stored == BATCHES
