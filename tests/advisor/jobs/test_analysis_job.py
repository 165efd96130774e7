"""The analysis job on SQLite and PostgreSQL: store -> frames -> analysis -> findings.

The analysis itself (advisor.analysis.fleet) has its own tests; most tests here replace it
with a stand-in that returns hand-made findings, to check what the job does around it: the
frames it hands over, the findings it records, resolves and counts in /metrics, and that two
advisors ticking together run each tick once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

import advisor.analysis.fleet
from advisor.analysis.daily import daily_of
from advisor.analysis.findings import Finding
from advisor.analysis.frames import FleetData
from advisor.config import parse_config
from advisor.jobs.analysis import AnalysisWork
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.names import ANALYSIS
from advisor.jobs.runner import JobResult, JobRunner
from advisor.jobs.tasks import JOB_TABLES, build_runners
from advisor.store.analysis_data import SqlFleetFrames
from advisor.store.engine import make_engine
from advisor.store.findings import SqlFindings
from advisor.store.job_state import SqlJobLeases
from advisor.store.open import stores_on
from advisor.store.sql import SqlStore
from tests.advisor.jobs.test_one_runner import WAIT, Contest, contest_tick
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.fleetbatches import NOW
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet

INTERVAL = 6 * 3600.0
SLOWER = finding()


class StandIn:
    """Replaces ``analyse``: records what it was given, returns ``findings``."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.calls: list[tuple[FleetData, float]] = []

    def __call__(self, data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        self.calls.append((data, now))
        return list(self.findings)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    fake = StandIn([SLOWER])
    monkeypatch.setattr(advisor.analysis.fleet, "analyse", fake)
    return fake


def runner(engine: sa.Engine, registry: CollectorRegistry, now: list[float]) -> JobRunner:
    metrics = JobMetrics(registry, JOB_TABLES)
    config = parse_config("[analysis]\nwindow_days = 30\n")
    return build_runners(stores_on(engine), config, metrics, owner="one", clock=lambda: now[0])[
        ANALYSIS
    ]


def test_a_tick_hands_the_window_to_the_analysis_and_records_its_findings(
    store: SqlStore, stand_in: StandIn
) -> None:
    write_small_fleet(store)
    registry = CollectorRegistry()
    now = [NOW]
    job = runner(store.engine, registry, now)

    report = job.tick()

    assert report.outcome == "success"
    assert report.result == JobResult(rows={"launches": 6, "findings": 1}, total=6)
    [(data, analysed_at)] = stand_in.calls
    assert analysed_at == NOW
    # The window's six launches, as the daily rows the analysis reads (no raw launch rows).
    assert (daily_of(data).launches, len(data.launches), len(data.changes)) == (6, 0, 1)
    stored = SqlFindings(store.engine).get(SLOWER.key)
    assert stored is not None
    assert stored.status == "open"
    [run] = SqlFindings(store.engine).last_runs()
    assert (run.analysed_at, run.new, run.open) == (NOW, 1, 1)
    value = registry.get_sample_value
    assert value("fleetsight_advisor_findings_open", {"kind": "version_change"}) == 1.0
    assert value("fleetsight_advisor_findings_open", {"kind": "trend"}) == 0.0
    assert value("fleetsight_advisor_job_rows_total", {"job": "analysis", "table": "launches"}) == 6


def test_a_finding_the_runs_no_longer_find_stays_open_four_days_then_is_resolved(
    store: SqlStore, stand_in: StandIn
) -> None:
    registry = CollectorRegistry()
    now = [NOW]
    job = runner(store.engine, registry, now)
    job.tick()
    stand_in.findings = []
    open_gauge = {"kind": "version_change"}

    for _ in range(15):  # 3 h 45 min short of 4 days: missed, not gone
        now[0] += INTERVAL
        assert job.tick().outcome == "success"

    stored = SqlFindings(store.engine).get(SLOWER.key)
    assert stored is not None
    assert (stored.status, stored.missed_runs) == ("open", 15)
    assert registry.get_sample_value("fleetsight_advisor_findings_open", open_gauge) == 1.0

    now[0] += INTERVAL
    assert job.tick().outcome == "success"

    stored = SqlFindings(store.engine).get(SLOWER.key)
    assert stored is not None
    assert (stored.status, stored.resolved_at) == ("resolved", NOW + 16 * INTERVAL)
    assert registry.get_sample_value("fleetsight_advisor_findings_open", open_gauge) == 0.0


def test_a_failing_analysis_is_a_failed_run_that_records_nothing(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        raise ValueError("no cells")

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", broken)
    job = runner(store.engine, CollectorRegistry(), [NOW])

    report = job.tick()

    assert (report.outcome, report.error) == ("failure", "ValueError: no cells")
    assert SqlFindings(store.engine).last_runs() == []


def test_the_real_analysis_runs_on_the_stored_fleet(store: SqlStore) -> None:
    write_small_fleet(store)
    work = AnalysisWork(
        SqlFleetFrames(store.engine),
        SqlFindings(store.engine),
        window_days=90,
        metrics=JobMetrics(CollectorRegistry(), {}),
    )

    result = work(NOW, lambda: None)

    assert result.rows["launches"] == 6
    assert work.last is not None
    assert work.last.summary.analysed_at == NOW
    [run] = SqlFindings(store.engine).last_runs()
    assert run.run_id == work.last.summary.run_id


def test_each_tick_runs_the_analysis_in_exactly_one_of_two_advisors(
    database_url: str, stand_in: StandIn
) -> None:
    ticks = 3
    now = [NOW]
    contest = Contest()

    def advisor_job(owner: str) -> tuple[JobRunner, sa.Engine]:
        engine = make_engine(database_url)
        metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
        real = AnalysisWork(
            SqlFleetFrames(engine), SqlFindings(engine), window_days=90, metrics=metrics
        )

        def work(at: float, keep_alive: Callable[[], None]) -> JobResult:
            contest.ran.append(owner)
            # The winner runs only once the other advisor has tried and given up.
            contest.overlapped.append(contest.gave_up.wait(WAIT))
            return real(at, keep_alive)

        job = JobRunner(
            ANALYSIS,
            work,
            SqlJobLeases(engine),
            interval=INTERVAL,
            lease_seconds=600.0,
            max_backoff=INTERVAL,
            metrics=metrics,
            owner=owner,
            clock=lambda: now[0],
        )
        return job, engine

    first, first_engine = advisor_job("advisor-1")
    second, second_engine = advisor_job("advisor-2")
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for tick in range(ticks):
                now[0] = NOW + tick * INTERVAL + 1
                contest.gave_up.clear()
                contest.ran.clear()
                contest.barrier = threading.Barrier(2)
                reports = list(pool.map(lambda job: contest_tick(job, contest), [first, second]))

                assert sorted(r.outcome for r in reports) == ["skipped", "success"]
                assert len(contest.ran) == 1
    finally:
        first_engine.dispose()
        second_engine.dispose()

    assert all(contest.overlapped)
    check = make_engine(database_url)
    try:
        runs = SqlFindings(check).last_runs()
    finally:
        check.dispose()
    assert [r.analysed_at for r in runs] == [NOW + t * INTERVAL + 1 for t in reversed(range(ticks))]
