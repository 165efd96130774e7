"""Two real ``fleetsight-advisor serve`` processes on one PostgreSQL database.

Both tick the rollup every second on the same wall-clock grid; each logs the tick it ran. No
tick may appear in both logs, the rollup must be done, and SIGTERM must stop the jobs first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.store.analysis_data import SqlUpkeep
from advisor.store.engine import make_engine
from advisor.store.models import HourlyRollupRow
from advisor.store.sql import SqlStore
from tests.advisor.conftest import Databases
from tests.advisor.store.batches import CPU, batch, enrol, samples
from tests.e2e.advisorproc import AdvisorProcess
from tests.e2e.agentproc import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

RAN = re.compile(r"job rollup done \(tick (\S+)\)")


class FastJobsAdvisor(AdvisorProcess):
    """The real advisor with a one-second rollup."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "FLEETSIGHT_ADVISOR_JOBS_ROLLUP_INTERVAL": "1s"}

    def ticks_run(self) -> list[str]:
        return RAN.findall(self.log.read_text()) if self.log.exists() else []


def test_two_advisors_share_the_rollup_one_tick_each(databases: Databases, tmp_path: Path) -> None:
    url = databases.postgresql_url()
    store = SqlStore(make_engine(url))
    try:
        enrol(store, "host-a")
        store.ingest(
            "host-a",
            batch("host-a", 1, [(1_764_000_000.0, {CPU: samples(1)})]),
            received_at=1.0,
            sent_at=None,
        )
        advisors = [FastJobsAdvisor(directory(tmp_path, name), url) for name in ("one", "two")]
        codes = run_until_eight_ticks(advisors)
        waiting = SqlUpkeep(store.engine).backlog().batches
        with store.engine.connect() as conn:
            counts = conn.execute(sa.select(HourlyRollupRow.__table__.c["count"])).scalars().all()
    finally:
        store.close()

    # uvicorn re-raises SIGTERM after its graceful shutdown (systemd counts that as clean);
    # the jobs were stopped before, in the lifespan shutdown.
    assert codes == [-15, -15]
    assert all("scheduled jobs stopped" in advisor.log.read_text() for advisor in advisors)
    one, two = (advisor.ticks_run() for advisor in advisors)
    assert not set(one) & set(two), "a tick ran in both advisors"
    assert len(set(one)) == len(one)
    assert len(set(two)) == len(two)
    assert waiting == 0
    assert counts == [12]


def directory(parent: Path, name: str) -> Path:
    (parent / name).mkdir()
    return parent / name


def run_until_eight_ticks(advisors: list[FastJobsAdvisor]) -> list[int]:
    """Start the advisors, let them run eight rollup ticks between them, SIGTERM them."""
    try:
        for advisor in advisors:
            advisor.start()
        assert wait_until(lambda: sum(len(a.ticks_run()) for a in advisors) >= 8, timeout=90), (
            "\n".join(a.log.read_text() for a in advisors)
        )
        return [advisor.terminate() for advisor in advisors]
    finally:
        for advisor in advisors:
            advisor.close()
