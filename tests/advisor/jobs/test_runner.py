"""The job runner on SQLite and PostgreSQL: leases, ticks, records, backoff, shutdown."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from advisor.jobs.metrics import JobMetrics
from advisor.jobs.runner import LEASE_LOST, JobResult, JobRunner, Work, tick_of
from advisor.store.job_state import SqlJobLeases

T0 = 1_764_000_000.0  # a multiple of the 300 s interval: a tick
INTERVAL = 300.0
LEASE = 600.0


class Clock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A job's work that records each call and does what the test tells it."""

    def __init__(self, action: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.calls: list[float] = []
        self.action = action

    def __call__(self, now: float, keep_alive: Callable[[], None]) -> JobResult:
        self.calls.append(now)
        if self.action is not None:
            self.action(keep_alive)
        return JobResult(rows={"launches": 2}, total=2)


def runner(
    engine: sa.Engine,
    work: Work,
    clock: Clock,
    *,
    owner: str = "advisor-1",
    registry: CollectorRegistry | None = None,
) -> JobRunner:
    return JobRunner(
        "retention",
        work,
        SqlJobLeases(engine),
        interval=INTERVAL,
        lease_seconds=LEASE,
        max_backoff=4 * INTERVAL,
        metrics=JobMetrics(registry or CollectorRegistry(), {"retention": ("launches",)}),
        owner=owner,
        clock=clock,
    )


def runs(registry: CollectorRegistry, outcome: str) -> float | None:
    return registry.get_sample_value(
        "fleetsight_advisor_job_runs_total", {"job": "retention", "outcome": outcome}
    )


def test_a_tick_runs_the_job_and_records_the_run(engine: sa.Engine) -> None:
    clock, work, registry = Clock(T0 + 0.2), Recorder(), CollectorRegistry()

    report = runner(engine, work, clock, registry=registry).tick()

    assert report.outcome == "success"
    assert work.calls == [T0 + 0.2]
    [status] = SqlJobLeases(engine).job_status()
    assert (status.job, status.last_tick, status.last_outcome, status.last_rows) == (
        "retention",
        T0,
        "success",
        2,
    )
    assert (status.lease_owner, status.last_success_at, status.failures) == (None, T0 + 0.2, 0)
    assert runs(registry, "success") == 1
    assert (
        registry.get_sample_value(
            "fleetsight_advisor_job_rows_total", {"job": "retention", "table": "launches"}
        )
        == 2
    )
    assert (
        registry.get_sample_value(
            "fleetsight_advisor_job_last_success_timestamp_seconds", {"job": "retention"}
        )
        == T0 + 0.2
    )


def test_a_second_advisor_skips_a_tick_the_first_one_ran(engine: sa.Engine) -> None:
    first, second = Recorder(), Recorder()
    registry = CollectorRegistry()
    runner(engine, first, Clock(T0 + 0.1), owner="advisor-1").tick()

    # Its scheduler fired a moment later, after the first advisor had finished.
    report = runner(engine, second, Clock(T0 + 2.0), owner="advisor-2", registry=registry).tick()

    assert report.outcome == "skipped"
    assert second.calls == []
    assert runs(registry, "skipped") == 1
    # Its gauge shows the other advisor's success: an alert on any advisor sees the truth.
    assert (
        registry.get_sample_value(
            "fleetsight_advisor_job_last_success_timestamp_seconds", {"job": "retention"}
        )
        == T0 + 0.1
    )


def test_the_next_tick_runs_again(engine: sa.Engine) -> None:
    clock, work = Clock(T0), Recorder()
    job = runner(engine, work, clock)
    job.tick()

    clock.now = T0 + INTERVAL + 0.5
    report = job.tick()

    assert report.outcome == "success"
    assert work.calls == [T0, T0 + INTERVAL + 0.5]


def test_a_job_held_by_another_advisor_is_skipped_until_its_lease_expires(
    engine: sa.Engine,
) -> None:
    # Another advisor claimed it and died without finishing.
    assert SqlJobLeases(engine).claim("retention", owner="crashed", now=T0, lease_seconds=LEASE)
    clock, work = Clock(T0 + INTERVAL), Recorder()
    job = runner(engine, work, clock)

    held = job.tick()
    clock.now = T0 + LEASE + 1
    taken_over = job.tick()

    assert (held.outcome, taken_over.outcome) == ("skipped", "success")
    assert work.calls == [T0 + LEASE + 1]


def test_a_manual_run_ignores_the_tick_but_not_the_lease(engine: sa.Engine) -> None:
    clock, work = Clock(T0), Recorder()
    job = runner(engine, work, clock)
    job.tick()

    again = job.run_now()
    assert SqlJobLeases(engine).claim("retention", owner="other", now=T0, lease_seconds=LEASE)
    blocked = job.run_now()

    assert (again.outcome, blocked.outcome) == ("success", "skipped")
    assert len(work.calls) == 2
    [status] = SqlJobLeases(engine).job_status()
    assert status.last_tick == T0  # a manual run does not use up a tick


def test_a_failing_job_is_counted_recorded_and_backs_off(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    failing = True

    def action(_: Callable[[], None]) -> None:
        if failing:
            raise RuntimeError("disk full\nsecond line")

    clock, work, registry = Clock(T0), Recorder(action), CollectorRegistry()
    job = runner(engine, work, clock, registry=registry)

    first = job.tick()  # failure 1: pause one interval, i.e. the next tick
    clock.now = T0 + INTERVAL
    second = job.tick()  # failure 2: pause two intervals
    clock.now = T0 + 2 * INTERVAL
    paused = job.tick()
    failing = False
    clock.now = T0 + 3 * INTERVAL
    recovered = job.tick()

    assert [r.outcome for r in (first, second, paused, recovered)] == [
        "failure",
        "failure",
        "backing_off",
        "success",
    ]
    assert first.error == "RuntimeError: disk full"
    assert len(work.calls) == 3
    assert (runs(registry, "failure"), runs(registry, "backing_off")) == (2, 1)
    assert "job retention failed" in caplog.text
    [status] = SqlJobLeases(engine).job_status()
    assert (status.last_outcome, status.failures, status.lease_owner) == ("success", 0, None)


def test_a_failure_is_recorded_with_the_count_of_failures_in_a_row(engine: sa.Engine) -> None:
    def action(_: Callable[[], None]) -> None:
        raise ValueError("bad row")

    runner(engine, Recorder(action), Clock(T0)).tick()

    [status] = SqlJobLeases(engine).job_status()
    assert (status.last_outcome, status.last_error, status.failures) == (
        "failure",
        "ValueError: bad row",
        1,
    )
    assert status.last_success_at is None
    assert status.lease_owner is None  # released: the next tick may run anywhere


def test_a_database_that_cannot_be_reached_is_a_failure_not_a_crash() -> None:
    broken = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    registry = CollectorRegistry()
    try:
        report = runner(broken, Recorder(), Clock(T0), registry=registry).tick()
    finally:
        broken.dispose()

    assert report.outcome == "failure"
    assert runs(registry, "failure") == 1


def test_keep_alive_renews_the_lease_between_chunks(engine: sa.Engine) -> None:
    clock = Clock(T0)

    def chunks(keep_alive: Callable[[], None]) -> None:
        for _ in range(3):
            clock.now += LEASE / 2  # each chunk takes half a lease
            keep_alive()

    work = Recorder(chunks)
    job = runner(engine, work, clock)
    report = job.tick()

    assert report.outcome == "success"
    [status] = SqlJobLeases(engine).job_status()
    assert status.last_outcome == "success"


def test_a_job_whose_lease_was_taken_over_stops_at_its_next_chunk(engine: sa.Engine) -> None:
    clock = Clock(T0)
    other = Recorder()

    def too_slow(keep_alive: Callable[[], None]) -> None:
        clock.now = T0 + LEASE + 1  # a chunk that outlived the lease: another advisor took over
        runner(engine, other, Clock(clock.now), owner="advisor-2").run_now()
        keep_alive()

    report = runner(engine, Recorder(too_slow), clock).tick()

    assert report.outcome == "failure"
    assert report.error == LEASE_LOST
    assert len(other.calls) == 1


def test_a_job_stops_at_a_chunk_boundary_on_shutdown(engine: sa.Engine) -> None:
    clock = Clock(T0)
    chunks: list[int] = []
    job: JobRunner

    def long(keep_alive: Callable[[], None]) -> None:
        for chunk in range(5):
            chunks.append(chunk)
            if chunk == 1:
                job.stop()
            keep_alive()

    job = runner(engine, Recorder(long), clock)
    report = job.tick()

    assert report.outcome == "stopped"
    assert chunks == [0, 1]
    [status] = SqlJobLeases(engine).job_status()
    assert (status.last_outcome, status.lease_owner) == ("stopped", None)


def test_ticks_lie_on_a_grid_shared_by_every_advisor() -> None:
    assert tick_of(T0 + 299.9, INTERVAL) == T0
    assert tick_of(T0 + 300.0, INTERVAL) == T0 + INTERVAL
