"""The analysis job: load the window's data, find degradation, record the findings.

Three steps, each behind its own module: advisor.store.frames (database -> columns),
advisor.analysis.fleet (columns -> findings, pure) and advisor.store.findings (findings ->
the stored lifecycle). The lease is renewed between them. The analysis module is imported when
a run starts, so the advisor starts (and ``serve`` answers) without paying for scipy and
scikit-learn until the first run.

The job runs in parts (:class:`AnalysisWork` is a :class:`~advisor.jobs.runner.PartedWork`):
advisors sharing a database lease the parts of a tick one at a time each, so a second
advisor adds analysis capacity, and one advisor holds one part's rows at a time, not the
fleet's. A part is the apps whose daily rows are stored together (one PostgreSQL partition:
``FleetFrames.parts``), so a run reads the rows once. Every finding is about one app, and
the analysis runs each app apart with its own false discovery control (docs/analysis.md,
"Parts"), so a run's findings are the same whoever ran which part. The apps of a run are
those with launches in the window and those with open or candidate findings (an app whose
launches stopped is analysed with no data, which lets its findings resolve).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
    parts: int = 1


def run_analysis(
    frames: FleetFrames,
    findings: Findings,
    *,
    now: float,
    window_days: int,
    apps: Sequence[str] | None = None,
    keep_alive: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> AnalysisOutcome:
    """Analyse the ``window_days`` days up to ``now`` and record the findings as of ``now``:
    of ``apps`` only when given (one part: the other apps' findings are left alone).

    ``clock`` stamps the run's history row (started, finished); ``keep_alive`` is called
    between the steps (the job runner renews its lease there).
    """
    from advisor.analysis.daily import daily_of
    from advisor.analysis.fleet import analyse

    started_at = clock()
    began = monotonic()
    data = frames.load(now=now, days=window_days, apps=apps)
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
        apps=apps,
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
    """The job's work in parts (advisor.jobs.runner.PartedWork): one part per app.

    ``at`` analyses the data as of that time instead of the run's ``now`` (``analyse --at``:
    a replay of simulated or old data); the leases still run on the wall clock. ``outcomes``
    are those of the parts this advisor ran in its latest call, ``last`` them combined (for
    the command that prints it; None before any part ran).
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
        self.outcomes: list[AnalysisOutcome] = []
        self._apps: dict[str, list[str]] = {}

    def parts(self, now: float) -> list[str]:
        """The parts with apps with launches in the window or open or candidate findings."""
        self.outcomes = []
        at = now if self._at is None else self._at
        tracked = self._findings.tracked_apps()
        self._apps = self._frames.parts(now=at, days=self._window_days, also=tracked)
        return list(self._apps)

    def run_part(self, part: str, now: float, keep_alive: Callable[[], None]) -> JobResult:
        """Analyse and record the apps of one part (named by the latest :meth:`parts`)."""
        outcome = run_analysis(
            self._frames,
            self._findings,
            now=now if self._at is None else self._at,
            window_days=self._window_days,
            apps=self._apps[part],
            keep_alive=keep_alive,
            clock=self._clock,
        )
        self.outcomes.append(outcome)
        self._metrics.set_open_findings(outcome.summary.open_by_kind)
        summary = outcome.summary
        changed = summary.new + summary.updated + summary.reopened + summary.resolved
        return JobResult(
            rows={"launches": outcome.launches, "findings": changed}, total=outcome.launches
        )

    @property
    def last(self) -> AnalysisOutcome | None:
        """The latest call's parts as one outcome: counts summed, the fleet's open findings
        as the last part left them, hosts the most any part saw, ``apps`` summed over the
        parts run (an app is in one part)."""
        if not self.outcomes:
            return None
        first, final = self.outcomes[0].summary, self.outcomes[-1].summary
        summaries = [o.summary for o in self.outcomes]
        summary = replace(
            final,
            run_id=first.run_id,
            new=sum(s.new for s in summaries),
            updated=sum(s.updated for s in summaries),
            reopened=sum(s.reopened for s in summaries),
            resolved=sum(s.resolved for s in summaries),
            pending=sum(s.pending for s in summaries),
            missing=sum(s.missing for s in summaries),
            expired=sum(s.expired for s in summaries),
            notes=tuple(note for s in summaries for note in s.notes),
            part=None,
            apps=tuple(a for s in summaries for a in (s.apps or ())),
        )
        return AnalysisOutcome(
            summary=summary,
            hosts=max(o.hosts for o in self.outcomes),
            apps=sum(o.apps for o in self.outcomes),
            launches=sum(o.launches for o in self.outcomes),
            load_seconds=sum(o.load_seconds for o in self.outcomes),
            analyse_seconds=sum(o.analyse_seconds for o in self.outcomes),
            parts=len(self.outcomes),
        )
