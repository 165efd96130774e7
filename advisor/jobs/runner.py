"""One job, run at most once per tick across every advisor, never letting a failure escape.

A :class:`JobRunner` is what the scheduler calls. Each call claims the job's lease (and, for a
scheduled tick, the tick itself) in the store (advisor.store.job_state.JobLeases); if another
advisor holds it or ran that tick, the call is skipped quietly. The job's work gets ``keep_alive``,
which it calls between chunks: that renews the lease, and raises when the lease was lost or the
advisor is shutting down, so a long run stops at a chunk boundary.

A failure is logged with its traceback, counted, recorded in the database and followed by
exponential backoff (doubling from one interval up to ``max_backoff``); it never propagates
to the scheduler or the server.

A job in parts (:class:`PartedWork`: the analysis, one part per app) has a lease per part,
``job/part``, and no lease of its own: each call goes through the parts of ``now`` in order
and runs every one whose lease (and tick) it can claim, so advisors that tick together share
the parts between them, and one that is busy with a long part leaves the next ones to the
others. A failed part is recorded on its own row and the others still run; the call counts
as one run of the job (its rows summed, failed if any part failed).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Protocol, runtime_checkable

from advisor.jobs.metrics import JobMetrics
from advisor.store.job_state import JobLeases
from agent.shared.backoff import backoff_ceiling

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a run did: rows per table (rolled up, deleted) and the one number to show."""

    rows: Mapping[str, int] = field(default_factory=dict)
    total: int = 0


Work = Callable[[float, Callable[[], None]], JobResult]
"""A job's work: ``work(now, keep_alive) -> JobResult``; ``keep_alive()`` between chunks."""


@runtime_checkable
class PartedWork(Protocol):
    """A job's work in parts that advisors lease one at a time each (module docstring)."""

    def parts(self, now: float) -> list[str]:
        """The parts of a run at ``now``, in the order to take them (names without ``/``)."""
        ...

    def run_part(self, part: str, now: float, keep_alive: Callable[[], None]) -> JobResult:
        """Run ``part``; like :data:`Work`, ``keep_alive()`` between chunks."""
        ...


@dataclass(frozen=True, slots=True)
class RunReport:
    """How one call went: ``outcome`` is one of advisor.jobs.metrics.OUTCOMES."""

    job: str
    outcome: str
    result: JobResult | None = None
    error: str | None = None


class JobStopped(Exception):  # noqa: N818 - a signal to unwind, not an error
    """Raised by ``keep_alive`` when the advisor is shutting down."""


class LeaseLost(Exception):  # noqa: N818 - reads as what happened
    """Raised by ``keep_alive`` when another runner took the job over (the lease expired)."""


LEASE_LOST = "its lease expired and another advisor took the job over; raise [jobs] lease"


def tick_of(now: float, interval: float) -> float:
    """The scheduled time ``now`` belongs to on the grid of ``interval`` shared by all advisors.

    >>> tick_of(1_764_000_299.0, 300.0), tick_of(1_764_000_300.5, 300.0)
    (1764000000.0, 1764000300.0)
    """
    return math.floor(now / interval) * interval


class JobRunner:
    """Runs ``work`` as job ``name`` under ``leases``, one runner at a time across advisors.

    ``owner`` names this process in leases (``host:pid:random``); ``clock`` gives wall-clock
    time for leases and ticks, ``monotonic`` measures durations (both injected for tests).
    """

    def __init__(
        self,
        name: str,
        work: Work | PartedWork,
        leases: JobLeases,
        *,
        interval: float,
        lease_seconds: float,
        max_backoff: float,
        metrics: JobMetrics,
        owner: str,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.interval = interval
        self._work = work
        self._leases = leases
        self._lease_seconds = lease_seconds
        self._max_backoff = max_backoff
        self._metrics = metrics
        self._owner = owner
        self._clock = clock
        self._monotonic = monotonic
        self._stopping = threading.Event()
        self._failures = 0
        self._resume_at = -math.inf

    @property
    def work(self) -> Work | PartedWork:
        """The job's work (for a command that prints what it did)."""
        return self._work

    def tick(self) -> RunReport:
        """A scheduled run: skipped while backing off, or when another advisor has the tick."""
        now = self._clock()
        if now < self._resume_at:
            log.debug("job %s backing off until %.0f", self.name, self._resume_at)
            return self._counted(RunReport(self.name, "backing_off"))
        return self._run(now, tick=tick_of(now, self.interval))

    def run_now(self) -> RunReport:
        """A manual run (``jobs run``): backoff and ticks do not apply, the lease does."""
        return self._run(self._clock(), tick=None)

    def stop(self) -> None:
        """Make a run in progress stop at its next chunk boundary (shutdown)."""
        self._stopping.set()

    def _run(self, now: float, *, tick: float | None) -> RunReport:
        started = self._monotonic()
        work = self._work
        if isinstance(work, PartedWork):
            report = self._run_parts(work, now, tick)
        else:
            report = self._run_lease(self.name, work, now, tick)
        return self._settle(now, report, started)

    def _run_parts(self, work: PartedWork, now: float, tick: float | None) -> RunReport:
        try:
            parts = work.parts(now)
        except Exception as exc:
            log.exception("job %s: cannot list its parts", self.name)
            return RunReport(self.name, "failure", error=_describe(exc))
        reports = []
        for part in parts:
            if self._stopping.is_set():
                reports.append(RunReport(self.name, "stopped", error="stopped for shutdown"))
                break
            run_part = partial(work.run_part, part)
            reports.append(self._run_lease(f"{self.name}/{part}", run_part, now, tick))
            if reports[-1].outcome == "stopped":
                break
        return _combined(self.name, reports)

    def _run_lease(self, lease: str, work: Work, now: float, tick: float | None) -> RunReport:
        """Claim ``lease`` (and ``tick``), run ``work`` under it and record how it went."""
        try:
            claimed = self._leases.claim(
                lease, owner=self._owner, now=now, lease_seconds=self._lease_seconds, tick=tick
            )
        except Exception as exc:
            log.exception("job %s: cannot claim it (database trouble)", lease)
            return RunReport(self.name, "failure", error=_describe(exc))
        if not claimed:
            log.debug("job %s: another advisor runs it, or ran this tick", lease)
            return RunReport(self.name, "skipped")
        report = self._work_once(lease, work, now, tick)
        # After a lost lease this records nothing: the row belongs to the new holder.
        self._record(lease, now, report)
        return report

    def _settle(self, now: float, report: RunReport, started: float) -> RunReport:
        """Count the call in the metrics, and back off after a failure."""
        if report.outcome == "skipped":
            self._refresh_last_success()
            return self._counted(report)
        self._metrics.duration.labels(job=self.name).observe(self._monotonic() - started)
        if report.result is not None:
            for table, rows in report.result.rows.items():
                self._metrics.rows.labels(job=self.name, table=table).inc(rows)
        if report.outcome == "success":
            self._failures = 0
            self._resume_at = -math.inf
            self._counted(report)
        elif report.outcome == "stopped":
            self._counted(report)
        else:
            self._failed(now, report)
        self._refresh_last_success()
        return report

    def _work_once(self, lease: str, work: Work, now: float, tick: float | None) -> RunReport:
        try:
            result = work(now, partial(self._keep_alive, lease))
        except JobStopped:
            log.info("job %s stopped at a chunk boundary for shutdown", lease)
            return RunReport(self.name, "stopped", error="stopped for shutdown")
        except LeaseLost:
            log.error("job %s: %s", lease, LEASE_LOST)
            return RunReport(self.name, "failure", error=LEASE_LOST)
        except Exception as exc:
            log.exception("job %s failed", lease)
            return RunReport(self.name, "failure", error=_describe(exc))
        # The tick in the log line shows which advisor ran which tick.
        log.info("job %s done (%s): %s", lease, _tick_text(tick), _rows_text(result))
        return RunReport(self.name, "success", result=result)

    def _keep_alive(self, lease: str) -> None:
        if self._stopping.is_set():
            raise JobStopped
        renewed = self._leases.renew(
            lease,
            owner=self._owner,
            now=self._clock(),
            lease_seconds=self._lease_seconds,
        )
        if not renewed:
            raise LeaseLost

    def _record(self, lease: str, started_at: float, report: RunReport) -> None:
        """Write the run's outcome to the database and release the lease (best effort)."""
        try:
            self._leases.finish(
                lease,
                owner=self._owner,
                now=self._clock(),
                outcome=report.outcome,
                rows=report.result.total if report.result else None,
                error=report.error,
            )
        except Exception:
            # The lease expires on its own; the run's outcome is still counted and logged.
            log.exception("job %s: cannot record its run of %.0f", lease, started_at)

    def _failed(self, now: float, report: RunReport) -> RunReport:
        self._failures += 1
        pause = backoff_ceiling(self._failures, base=self.interval, cap=self._max_backoff)
        self._resume_at = now + pause
        log.warning(
            "job %s failed %d time(s) in a row; next try in %.0f s",
            self.name,
            self._failures,
            pause,
        )
        return self._counted(report)

    def _counted(self, report: RunReport) -> RunReport:
        self._metrics.runs.labels(job=self.name, outcome=report.outcome).inc()
        return report

    def _refresh_last_success(self) -> None:
        """Show the job's last success in any advisor, so every advisor's gauge is current."""
        try:
            parted = isinstance(self._work, PartedWork)
            found = self._leases.job_status(None if parted else self.name)
        except Exception:
            log.debug("job %s: cannot read its state", self.name, exc_info=True)
            return
        # A job in parts: its newest success is its parts' newest.
        times = [
            s.last_success_at
            for s in found
            if s.last_success_at is not None and _part_of(s.job, self.name)
        ]
        if times:
            self._metrics.last_success.labels(job=self.name).set(max(times))


def _part_of(lease: str, job: str) -> bool:
    """Whether ``lease`` is ``job``'s own, or one of its parts'."""
    return lease == job or lease.startswith(job + "/")


def _combined(job: str, reports: list[RunReport]) -> RunReport:
    """One report for a call over a job's parts: a success with nothing done when there
    were none, skipped when other advisors had them all; otherwise the rows of the parts it
    ran, summed, and failed (first error, and how many) if any failed, stopped if it
    stopped."""
    if not reports:
        return RunReport(job, "success", result=JobResult())
    ran = [r.result for r in reports if r.result is not None]
    failed = [r for r in reports if r.outcome == "failure"]
    stopped = any(r.outcome == "stopped" for r in reports)
    if not ran and not failed and not stopped:
        return RunReport(job, "skipped")
    rows: dict[str, int] = {}
    for result in ran:
        for table, count in result.rows.items():
            rows[table] = rows.get(table, 0) + count
    summed = JobResult(rows=rows, total=sum(r.total for r in ran)) if ran else None
    if failed:
        error = failed[0].error or "failed"
        if len(failed) > 1:
            error = f"{len(failed)} parts failed; first: {error}"
        return RunReport(job, "failure", result=summed, error=error)
    if stopped:
        return RunReport(job, "stopped", result=summed, error="stopped for shutdown")
    return RunReport(job, "success", result=summed)


def _describe(exc: BaseException) -> str:
    """The exception in one line, for the job's row and `jobs status`."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _tick_text(tick: float | None) -> str:
    if tick is None:
        return "run by hand"
    return "tick " + datetime.fromtimestamp(tick, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows_text(result: JobResult) -> str:
    if not any(result.rows.values()):
        return "nothing to do"
    return ", ".join(f"{rows} {table}" for table, rows in result.rows.items())
