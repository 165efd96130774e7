"""The agent's interval scheduler: when jobs run, what is skipped, and how it stops.

The timing is driven by hand: clocks are injected and ``run_due`` is called after moving them,
so no test waits for a real interval. The jobs themselves run in the scheduler's real pools.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.scheduler import IntervalScheduler, JobStats, first_aligned, next_target

WAIT = 10.0  # generous bound for a pool thread to pick up a job on a loaded machine


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.called = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.called.set()


@pytest.fixture
def mono() -> Clock:
    return Clock(1_000.0)


@pytest.fixture
def wall() -> Clock:
    return Clock(1_700_000_010.0)


@pytest.fixture
def scheduler(mono: Clock, wall: Clock) -> Iterator[IntervalScheduler]:
    built = IntervalScheduler({"default": 2, "probes": 1}, monotonic=mono, wall=wall)
    yield built
    built.shutdown()


def settle(scheduler: IntervalScheduler, job: str, runs: int) -> None:
    """Wait until ``job`` has finished ``runs`` runs in its pool."""
    for _ in range(int(WAIT / 0.01)):
        if stats_of(scheduler, job).runs >= runs:
            return
        time.sleep(0.01)
    raise AssertionError(f"{job} did not reach {runs} runs")


def stats_of(scheduler: IntervalScheduler, name: str) -> JobStats:
    return next(stats for stats in scheduler.stats() if stats.name == name)


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (100.0, 100.0, 105.0),  # on time
        (100.0, 104.9, 105.0),
        (100.0, 105.0, 110.0),  # exactly on the next tick: that one is taken, go to the one after
        (100.0, 117.5, 120.0),  # three ticks missed: one run, then back on the grid
        (100.0, 10_000.0, 10_005.0),  # a long suspend
    ],
)
def test_the_next_tick_stays_on_the_grid_and_drops_missed_ones(
    previous: float, now: float, expected: float
) -> None:
    assert next_target(previous, 5.0, now) == expected


def test_wall_aligned_ticks_fall_on_multiples_of_the_interval() -> None:
    assert first_aligned(60.0, 1_700_000_010.0) == 1_700_000_040.0
    assert first_aligned(60.0, 1_700_000_040.0) == 1_700_000_040.0
    assert first_aligned(300.0, 1_700_000_010.0) % 300 == 0


def test_a_job_runs_once_per_interval_and_not_before(
    scheduler: IntervalScheduler, mono: Clock
) -> None:
    job = Counter()
    scheduler.every(5, job, name="sample", pool="default")
    assert scheduler.run_due() == pytest.approx(5.0)
    mono.now += 4.9
    scheduler.run_due()
    assert job.calls == 0
    mono.now += 0.1
    assert scheduler.run_due() == pytest.approx(5.0)
    settle(scheduler, "sample", 1)
    mono.now += 5
    scheduler.run_due()
    settle(scheduler, "sample", 2)
    assert job.calls == 2


def test_after_a_stall_a_job_runs_once_then_keeps_its_grid(
    scheduler: IntervalScheduler, mono: Clock
) -> None:
    job = Counter()
    scheduler.every(5, job, name="sample")
    mono.now += 17.5  # the ticks at +5, +10 and +15 are all overdue
    assert scheduler.run_due() == pytest.approx(2.5)
    settle(scheduler, "sample", 1)
    scheduler.run_due()
    assert job.calls == 1
    assert stats_of(scheduler, "sample").overruns == 0


def test_first_in_sets_the_first_run(scheduler: IntervalScheduler, mono: Clock) -> None:
    job = Counter()
    scheduler.every(3600, job, name="inventory", first_in=0)
    # The next run is an hour away; the timing thread still wakes within a minute.
    assert scheduler.run_due() == pytest.approx(60)
    settle(scheduler, "inventory", 1)


def test_a_run_due_while_the_previous_one_goes_on_is_skipped_and_counted(
    scheduler: IntervalScheduler, mono: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    running = 0
    most_at_once = 0
    lock = threading.Lock()

    def slow() -> None:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
        release.wait(WAIT)
        with lock:
            running -= 1

    scheduler.every(5, slow, name="ship", pool="default")
    with caplog.at_level(logging.WARNING, logger="agent.scheduler"):
        for _ in range(4):
            mono.now += 5
            scheduler.run_due()
    release.set()
    settle(scheduler, "ship", 1)
    stats = stats_of(scheduler, "ship")
    assert (stats.runs, stats.overruns, most_at_once) == (1, 3, 1)
    # Said once for the whole stretch, not on every skipped tick.
    assert [r.message for r in caplog.records].count(
        "job ship is still running after 5 s; skipping its runs until it ends"
    ) == 1
    mono.now += 5
    scheduler.run_due()
    settle(scheduler, "ship", 2)


def test_a_failing_job_is_counted_logged_and_runs_again(
    scheduler: IntervalScheduler, mono: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Counter()

    def broken() -> None:
        calls()
        raise OSError("disk full")

    scheduler.every(5, broken, name="flush")
    for runs in (1, 2):
        mono.now += 5
        scheduler.run_due()
        settle(scheduler, "flush", runs)
    assert stats_of(scheduler, "flush").failures == 2
    assert "job flush failed" in caplog.text
    assert "OSError: disk full" in caplog.text


def test_a_slow_probe_does_not_hold_up_sampling(scheduler: IntervalScheduler, mono: Clock) -> None:
    release = threading.Event()
    scheduler.every(5, lambda: release.wait(WAIT), name="probe", pool="probes")
    sample = Counter()
    scheduler.every(5, sample, name="sample", pool="default")
    mono.now += 5
    scheduler.run_due()
    assert sample.called.wait(WAIT)
    release.set()


def test_wall_aligned_jobs_fire_on_the_minute_and_follow_a_stepped_clock(
    scheduler: IntervalScheduler, wall: Clock
) -> None:
    flush = Counter()
    scheduler.every(60, flush, name="flush", wall_aligned=True)
    assert scheduler.run_due() == pytest.approx(30.0)  # …:40 is the next whole minute
    wall.now += 30
    scheduler.run_due()
    settle(scheduler, "flush", 1)
    wall.now -= 3600  # NTP steps the clock back an hour
    assert scheduler.run_due() <= 60
    wall.now = first_aligned(60, wall.now)
    scheduler.run_due()
    settle(scheduler, "flush", 2)


def test_jitter_delays_each_run_by_at_most_its_bound(mono: Clock, wall: Clock) -> None:
    scheduler = IntervalScheduler({"default": 1}, monotonic=mono, wall=wall, rng=random.Random(7))
    scheduler.every(30, lambda: None, name="ship", jitter=1.0)
    tick = mono.now + 30
    delays = []
    for runs in range(1, 21):
        delay = mono.now + scheduler.run_due() - tick
        delays.append(delay)
        mono.now = tick + delay
        scheduler.run_due()
        settle(scheduler, "ship", runs)
        tick += 30
    scheduler.shutdown()
    assert all(0 <= delay <= 1.0 for delay in delays)
    assert len({round(delay, 6) for delay in delays}) == 20  # drawn afresh for every run


def test_shutdown_waits_for_the_run_under_way(scheduler: IntervalScheduler, mono: Clock) -> None:
    started = threading.Event()
    finish = threading.Event()
    finished = threading.Event()

    def writing() -> None:
        started.set()
        finish.wait(WAIT)
        finished.set()

    scheduler.every(5, writing, name="flush", pool="default")
    mono.now += 5
    scheduler.run_due()
    assert started.wait(WAIT)
    stopper = threading.Thread(target=scheduler.shutdown)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive(), "shutdown returned while the flush was still writing"
    finish.set()
    stopper.join(WAIT)
    assert finished.is_set()
    assert not stopper.is_alive()


def test_an_inline_job_runs_on_the_timing_thread_and_drops_ticks_it_overran(
    scheduler: IntervalScheduler, mono: Clock
) -> None:
    threads = []

    def sample() -> None:
        threads.append(threading.current_thread())
        mono.now += 12  # a run that took longer than two intervals

    scheduler.every(5, sample, name="sample")
    mono.now += 5
    assert scheduler.run_due() == pytest.approx(3.0)  # next on the grid: +20, not +10 or +15
    assert threads == [threading.current_thread()]
    stats = stats_of(scheduler, "sample")
    assert (stats.runs, stats.overruns, stats.last_duration) == (1, 0, 12)


def test_run_times_the_jobs_on_the_calling_thread_until_stopped() -> None:
    scheduler = IntervalScheduler({"default": 1})
    stop = threading.Event()
    threads = []

    def sample() -> None:
        threads.append(threading.current_thread())
        if len(threads) == 3:
            stop.set()  # as SIGTERM's handler does, between two jobs

    scheduler.every(0.01, sample, name="sample", first_in=0)
    scheduler.run(stop)
    assert threads == [threading.current_thread()] * 3
    scheduler.run(threading.Event(), duration=0.05)  # or until the duration is over
    assert len(threads) > 3
    scheduler.shutdown()


def test_run_soon_makes_a_job_due_now_and_it_keeps_its_interval_from_there(
    scheduler: IntervalScheduler, mono: Clock
) -> None:
    ship = Counter()
    scheduler.every(15, ship, name="ship", pool="default")
    mono.now += 4
    scheduler.run_soon("ship")
    assert scheduler.run_due() == pytest.approx(15.0)
    settle(scheduler, "ship", 1)
    with pytest.raises(KeyError, match="no job named 'nope'"):
        scheduler.run_soon("nope")


def test_the_timing_loop_runs_jobs_on_real_clocks_until_shut_down() -> None:
    scheduler = IntervalScheduler({"default": 1})
    job = Counter()
    scheduler.every(0.01, job, name="tick", first_in=0, pool="default")
    timing = threading.Thread(target=scheduler.run, args=(threading.Event(),))
    timing.start()
    settle(scheduler, "tick", 3)
    scheduler.shutdown()
    timing.join(WAIT)
    assert not timing.is_alive()
    after = job.calls
    time.sleep(0.05)
    assert job.calls == after


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("j", {"seconds": 0}, "job j: the interval must be positive, not 0"),
        ("j", {"seconds": 5, "pool": "nope"}, "job j: no pool named 'nope'"),
        ("taken", {"seconds": 5}, "job taken: a job of that name is already scheduled"),
    ],
)
def test_bad_jobs_are_refused_with_a_reason(
    name: str, kwargs: dict[str, Any], message: str
) -> None:
    scheduler = IntervalScheduler({"default": 1})
    scheduler.every(60, lambda: None, name="taken")
    with pytest.raises(ValueError, match=message):
        scheduler.every(func=lambda: None, name=name, **kwargs)
