"""The analysis job on SQLite and PostgreSQL: store -> frames -> analysis -> findings.

The analysis itself (advisor.analysis.fleet) has its own tests; most tests here replace it
with a stand-in that returns hand-made findings, to check what the job does around it: the
parts (one per app) and the frames it hands over, the findings it records, resolves and
counts in /metrics, and that two advisors ticking together share a tick's parts, each part
run once.
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
from tests.advisor.jobs.test_one_runner import WAIT
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.fleetbatches import NOW
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet

INTERVAL = 6 * 3600.0
SLOWER = finding()


class StandIn:
    """Replaces ``analyse``: records what it was given, returns those of ``findings`` about
    the apps it was given (a part's)."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.calls: list[tuple[FleetData, float]] = []

    def __call__(self, data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        self.calls.append((data, now))
        apps = set(daily_of(data).apps)
        return [f for f in self.findings if f.app in apps]


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> StandIn:
    fake = StandIn([SLOWER])
    monkeypatch.setattr(advisor.analysis.fleet, "analyse", fake)
    return fake


def part_of(engine: sa.Engine) -> dict[str, str]:
    """The part of each app of the small fleet."""
    parts = SqlFleetFrames(engine).parts(now=NOW, days=30)
    return {app: part for part, apps in parts.items() for app in apps}


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
    # A part per app, each with its app's rows only (as daily rows: no raw launch rows).
    parts = {daily_of(data).apps[0]: (data, at) for data, at in stand_in.calls}
    assert sorted(parts) == ["firefox", "libreoffice"]
    assert all(len(daily_of(data).apps) == 1 for data, _ in parts.values())
    assert {at for _, at in parts.values()} == {NOW}
    launches = {app: daily_of(data).launches for app, (data, _) in parts.items()}
    assert launches == {"firefox": 1, "libreoffice": 5}
    data = parts["libreoffice"][0]
    assert (len(data.launches), len(data.changes)) == (0, 1)
    # The hosts and pressure are the whole fleet's in every part.
    assert len(parts["firefox"][0].pressure) == len(data.pressure) > 0
    stored = SqlFindings(store.engine).get(SLOWER.key)
    assert stored is not None
    assert stored.status == "open"
    runs = SqlFindings(store.engine).last_runs()
    assert sorted((r.apps, r.new, r.open) for r in runs) == [
        (("firefox",), 0, 0),
        (("libreoffice",), 1, 1),
    ]
    value = registry.get_sample_value
    assert value("fleetsight_advisor_findings_open", {"kind": "version_change"}) == 1.0
    assert value("fleetsight_advisor_findings_open", {"kind": "trend"}) == 0.0
    assert value("fleetsight_advisor_job_rows_total", {"job": "analysis", "table": "launches"}) == 6


def test_a_finding_the_runs_no_longer_find_stays_open_four_days_then_is_resolved(
    store: SqlStore, stand_in: StandIn
) -> None:
    write_small_fleet(store)
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


def test_a_failing_part_is_recorded_on_its_row_and_the_other_parts_still_run(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_small_fleet(store)

    def broken_on_firefox(data: FleetData, *, now: float, params: object = None) -> list[Finding]:
        if daily_of(data).apps == ["firefox"]:
            raise ValueError("no cells")
        return [SLOWER]

    monkeypatch.setattr(advisor.analysis.fleet, "analyse", broken_on_firefox)
    job = runner(store.engine, CollectorRegistry(), [NOW])

    report = job.tick()

    assert (report.outcome, report.error) == ("failure", "ValueError: no cells")
    assert report.result == JobResult(rows={"launches": 5, "findings": 1}, total=5)
    [run] = SqlFindings(store.engine).last_runs()
    assert run.apps == ("libreoffice",)
    part = part_of(store.engine)
    rows = {s.job: s for s in SqlJobLeases(store.engine).job_status()}
    assert sorted(rows) == sorted(f"analysis/{part[app]}" for app in ("firefox", "libreoffice"))
    assert rows[f"analysis/{part['firefox']}"].last_error == "ValueError: no cells"
    assert rows[f"analysis/{part['libreoffice']}"].last_outcome == "success"


def test_a_fleet_without_launches_or_findings_has_no_parts_and_nothing_to_do(
    store: SqlStore, stand_in: StandIn
) -> None:
    report = runner(store.engine, CollectorRegistry(), [NOW]).tick()

    assert (report.outcome, report.result) == ("success", JobResult())
    assert stand_in.calls == []
    assert SqlFindings(store.engine).last_runs() == []


def test_the_real_analysis_runs_on_the_stored_fleet(store: SqlStore) -> None:
    write_small_fleet(store)
    work = AnalysisWork(
        SqlFleetFrames(store.engine),
        SqlFindings(store.engine),
        window_days=90,
        metrics=JobMetrics(CollectorRegistry(), {}),
    )

    parts = work.parts(NOW)
    results = [work.run_part(part, NOW, lambda: None) for part in parts]

    # The two apps' rows are stored apart (codes in different partitions): a part each.
    part = part_of(store.engine)
    assert sorted(parts) == sorted(part.values())
    assert len(parts) == 2
    assert sum(r.rows["launches"] for r in results) == 6
    assert work.last is not None
    assert (work.last.summary.analysed_at, work.last.apps, work.last.launches) == (NOW, 2, 6)
    runs = SqlFindings(store.engine).last_runs()
    assert sorted(r.apps or () for r in runs) == [("firefox",), ("libreoffice",)]
    assert work.last.summary.run_id == runs[-1].run_id


def test_two_advisors_ticking_together_share_the_parts_each_part_run_once(
    database_url: str, stand_in: StandIn
) -> None:
    engine = make_engine(database_url)
    try:
        write_small_fleet(SqlStore(engine))
    finally:
        engine.dispose()
    ticks = 3
    now = [NOW]
    ran: list[tuple[str, str]] = []
    # Each advisor's first part waits until the other has one too: they run side by side.
    both_busy = threading.Barrier(2)

    def advisor_job(owner: str) -> tuple[JobRunner, sa.Engine]:
        engine = make_engine(database_url)
        metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
        real = AnalysisWork(
            SqlFleetFrames(engine), SqlFindings(engine), window_days=90, metrics=metrics
        )

        class Watched:
            def parts(self, at: float) -> list[str]:
                return real.parts(at)

            def run_part(self, part: str, at: float, keep_alive: Callable[[], None]) -> JobResult:
                ran.append((owner, part))
                if sum(1 for o, _ in ran if o == owner) == 1:
                    both_busy.wait(WAIT)
                return real.run_part(part, at, keep_alive)

        job = JobRunner(
            ANALYSIS,
            Watched(),
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
    check_engine = first_engine
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for tick in range(ticks):
                now[0] = NOW + tick * INTERVAL + 1
                ran.clear()
                both_busy.reset()
                reports = list(pool.map(lambda job: job.tick(), [first, second]))

                assert [r.outcome for r in reports] == ["success", "success"]
                # Each part once, and each advisor ran one of the two.
                assert sorted(part for _, part in ran) == sorted(part_of(check_engine).values())
                assert sorted(owner for owner, _ in ran) == ["advisor-1", "advisor-2"]
    finally:
        first_engine.dispose()
        second_engine.dispose()

    check = make_engine(database_url)
    try:
        runs = SqlFindings(check).last_runs(limit=20)
    finally:
        check.dispose()
    assert sorted(r.analysed_at for r in runs) == sorted(
        NOW + t * INTERVAL + 1 for t in range(ticks) for _ in range(2)
    )
