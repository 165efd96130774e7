"""The analysis job: load the window's data, find degradation, record the findings.

Three steps, each behind its own module: advisor.store.frames (database -> columns),
advisor.analysis.fleet (columns -> findings, pure) and advisor.store.findings (findings ->
the stored lifecycle). The lease is renewed between them. The analysis module is imported when
a run starts, so the advisor starts (and ``serve`` answers) without paying for scipy and
scikit-learn until the first run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from advisor.jobs.metrics import JobMetrics
from advisor.jobs.runner import JobResult
from advisor.store.analysis_data import FleetFrames
from advisor.store.findings import Findings, RunSummary

ANALYSIS_TABLES = ("launches", "findings")
"""What an analysis run's rows count: launches analysed, findings added, updated or resolved."""


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """One run: what it read, what it recorded, and how long each half took (seconds)."""

    summary: RunSummary
    hosts: int
    apps: int
    launches: int
    load_seconds: float
    analyse_seconds: float


def run_analysis(
    frames: FleetFrames,
    findings: Findings,
    *,
    now: float,
    window_days: int,
    keep_alive: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> AnalysisOutcome:
    """Analyse the ``window_days`` days up to ``now`` and record the findings as of ``now``.

    ``clock`` stamps the run's history row (started, finished); ``keep_alive`` is called
    between the steps (the job runner renews its lease there).
    """
    from advisor.analysis.daily import daily_of
    from advisor.analysis.fleet import analyse

    started_at = clock()
    began = monotonic()
    data = frames.load(now=now, days=window_days)
    # Derived once (a producer without daily rows): the analysis and the count read the same.
    daily = daily_of(data)
    data = replace(data, daily=daily)
    launches = daily.launches
    loaded = monotonic()
    keep_alive()
    found = analyse(data, now=now)
    analysed = monotonic()
    keep_alive()
    summary = findings.record_run(
        found,
        now=now,
        started_at=started_at,
        finished_at=clock(),
        launches=launches,
        notes=data.notes,
    )
    return AnalysisOutcome(
        summary=summary,
        hosts=len(data.launches.hosts),
        apps=len(data.launches.apps),
        launches=launches,
        load_seconds=loaded - began,
        analyse_seconds=analysed - loaded,
    )


class AnalysisWork:
    """The job's work (advisor.jobs.runner.Work): one analysis per call.

    ``at`` analyses the data as of that time instead of the run's ``now`` (``analyse --at``:
    a replay of simulated or old data); the lease still runs on the wall clock. ``last`` is
    the newest outcome, for the command that printed it.
    """

    def __init__(
        self,
        frames: FleetFrames,
        findings: Findings,
        *,
        window_days: int,
        metrics: JobMetrics,
        at: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._frames = frames
        self._findings = findings
        self._window_days = window_days
        self._metrics = metrics
        self._at = at
        self._clock = clock
        self.last: AnalysisOutcome | None = None

    def __call__(self, now: float, keep_alive: Callable[[], None]) -> JobResult:
        outcome = run_analysis(
            self._frames,
            self._findings,
            now=now if self._at is None else self._at,
            window_days=self._window_days,
            keep_alive=keep_alive,
            clock=self._clock,
        )
        self.last = outcome
        self._metrics.set_open_findings(outcome.summary.open_by_kind)
        summary = outcome.summary
        changed = summary.new + summary.updated + summary.reopened + summary.resolved
        return JobResult(
            rows={"launches": outcome.launches, "findings": changed}, total=outcome.launches
        )
