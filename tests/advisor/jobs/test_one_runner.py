"""Two advisors on one database, ticking at the same instants: each tick runs in one of them.

Each advisor has its own engine (its own connections), as separate processes would. Both call
``tick()`` at once, released by a barrier; the winner's work waits until the other advisor has
given up, so every tick really is contested while a run is in progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from advisor.jobs.metrics import JobMetrics
from advisor.jobs.runner import JobResult, JobRunner, RunReport
from advisor.store.engine import make_engine
from advisor.store.job_state import SqlJobLeases

T0 = 1_764_000_000.0
INTERVAL = 300.0
TICKS = 6
WAIT = 30.0  # only a guard against a hang; nothing is timed


class Contest:
    """The shared view of one tick: who ran, and whether the other advisor has given up."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2)
        self.gave_up = threading.Event()
        self.ran: list[str] = []
        self.overlapped: list[bool] = []

    def work(self, owner: str) -> Callable[[float, Callable[[], None]], JobResult]:
        def run(now: float, keep_alive: Callable[[], None]) -> JobResult:
            self.ran.append(owner)
            self.overlapped.append(self.gave_up.wait(WAIT))
            keep_alive()
            return JobResult(rows={"metric_summaries": 1}, total=1)

        return run


def advisor(
    url: str, owner: str, contest: Contest, now: list[float]
) -> tuple[JobRunner, sa.Engine]:
    engine = make_engine(url)
    job = JobRunner(
        "rollup",
        contest.work(owner),
        SqlJobLeases(engine),
        interval=INTERVAL,
        lease_seconds=600.0,
        max_backoff=3600.0,
        metrics=JobMetrics(CollectorRegistry(), {"rollup": ("metric_summaries",)}),
        owner=owner,
        clock=lambda: now[0],
    )
    return job, engine


def contest_tick(job: JobRunner, contest: Contest) -> RunReport:
    contest.barrier.wait(WAIT)
    report = job.tick()
    if report.outcome == "skipped":
        contest.gave_up.set()
    return report


def test_each_tick_runs_in_exactly_one_of_two_advisors(database_url: str) -> None:
    now = [T0]
    contest = Contest()
    first, first_engine = advisor(database_url, "advisor-1", contest, now)
    second, second_engine = advisor(database_url, "advisor-2", contest, now)
    winners: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for tick in range(TICKS):
                now[0] = T0 + tick * INTERVAL + 0.01
                contest.gave_up.clear()
                contest.ran.clear()
                reports = list(pool.map(lambda job: contest_tick(job, contest), [first, second]))

                assert sorted(r.outcome for r in reports) == ["skipped", "success"]
                assert len(contest.ran) == 1
                winners.extend(contest.ran)
    finally:
        first_engine.dispose()
        second_engine.dispose()

    assert all(contest.overlapped)  # the loser tried while the winner was running
    assert len(winners) == TICKS
    check = make_engine(database_url)
    try:
        [status] = SqlJobLeases(check).job_status()
    finally:
        check.dispose()
    assert (status.last_tick, status.last_outcome, status.lease_owner) == (
        T0 + (TICKS - 1) * INTERVAL,
        "success",
        None,
    )
