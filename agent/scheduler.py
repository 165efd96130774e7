"""Interval jobs for the agent: one timing loop, quick jobs on it, slow ones in small pools.

The agent's jobs are plain repeating timers (sample every 5 s, flush on the minute, ship,
look at the inventory, run probes), so this is the standard library's ``ThreadPoolExecutor``
plus a loop that knows when each job is due. APScheduler 3, which the advisor uses, was the
agent's scheduler until measured: its import path (asyncio, multiprocessing,
importlib.metadata, tzlocal) cost 4 MB of the agent's 35 MB budget, more than all of the
agent's own code (docs/benchmarks.md). The semantics are APScheduler's as the agent used them:

- a run that is due while the previous run of the same job is still going is skipped and
  counted (``coalesce=True, max_instances=1``), never queued behind it;
- after a stall (suspend, a stopped process) a job runs once, not once per missed tick;
- ``jitter`` delays each run by a random fraction, so a fleet does not act on the same second;
- wall-aligned jobs fire on multiples of their interval in Unix time (…:00, …:01:00), the same
  instants on every machine; they follow the wall clock when it is stepped;
- :meth:`IntervalScheduler.shutdown` stops the ticking and waits for the runs under way.

Timing is pure (:func:`next_target`, :func:`first_aligned`); the loop reads clocks injected in
the constructor, so tests drive it without waiting for real intervals.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# The timing thread sleeps until the next job is due (every wake-up costs CPU), but never longer
# than this, so a stepped wall clock is noticed within a minute even with only slow jobs.
_MAX_SLEEP = 60.0


def next_target(previous: float, every: float, now: float) -> float:
    """The next tick after ``previous`` that is still ahead of ``now``; missed ticks are dropped.

    >>> next_target(100.0, 5.0, 101.0)
    105.0
    >>> next_target(100.0, 5.0, 117.5)  # three ticks missed: run once, at the next one
    120.0
    """
    target = previous + every
    if target <= now:
        target += every * (math.floor((now - target) / every) + 1)
    return target


def first_aligned(every: float, now: float) -> float:
    """The first multiple of ``every`` at or after ``now``.

    >>> first_aligned(60.0, 1000.0), first_aligned(60.0, 1020.0)
    (1020.0, 1020.0)
    """
    return math.ceil(now / every) * every


@dataclass(frozen=True, slots=True)
class JobStats:
    """How a job has fared, for the agent's metrics."""

    name: str
    runs: int
    overruns: int
    failures: int
    last_duration: float


@dataclass(eq=False)
class _Job:
    name: str
    func: Callable[[], object]
    every: float
    pool: str | None
    wall_aligned: bool
    jitter: float
    target: float  # the tick, in wall time if wall_aligned, else monotonic
    delay: float = 0.0  # this tick's jitter
    running: Future[None] | None = None
    runs: int = 0
    overruns: int = 0
    failures: int = 0
    last_duration: float = 0.0
    overrun_reported: bool = field(default=False, repr=False)


class IntervalScheduler:
    """Runs registered jobs on their intervals between :meth:`start` and :meth:`shutdown`.

    ``pools`` maps a pool name to its number of threads; a job runs in the pool it names, so
    slow jobs (probes that may take a minute) never hold up others. A job with ``pool=None``
    runs on the timing thread itself (the thread that calls :meth:`run`): for quick jobs
    (sampling takes milliseconds), it saves a thread, and every thread that allocates keeps a
    malloc arena of its own, so the agent's memory would depend on how often jobs happened to
    overlap.
    """

    def __init__(
        self,
        pools: Mapping[str, int] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._rng = rng or random.Random()
        self._jobs: list[_Job] = []
        # Executors start their threads on first use, so an idle pool costs nothing.
        self._pools = {
            name: ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"jobs-{name}")
            for name, size in (pools or {}).items()
        }
        self._lock = threading.Lock()  # guards the counters that workers update
        self._stop = threading.Event()

    def every(
        self,
        seconds: float,
        func: Callable[[], object],
        *,
        name: str,
        first_in: float | None = None,
        wall_aligned: bool = False,
        jitter: float = 0.0,
        pool: str | None = None,
    ) -> None:
        """Run ``func`` every ``seconds``, in ``pool`` or, without one, on the timing thread.

        The first run is ``first_in`` seconds from now (default: one interval), or for a
        ``wall_aligned`` job the next multiple of ``seconds`` in Unix time.
        """
        if not seconds > 0:
            raise ValueError(f"job {name}: the interval must be positive, not {seconds}")
        if pool is not None and pool not in self._pools:
            raise ValueError(f"job {name}: no pool named {pool!r}")
        if any(job.name == name for job in self._jobs):
            raise ValueError(f"job {name}: a job of that name is already scheduled")
        if wall_aligned:
            target = first_aligned(seconds, self._wall())
        else:
            target = self._monotonic() + (seconds if first_in is None else first_in)
        job = _Job(name, func, seconds, pool, wall_aligned, jitter, target)
        job.delay = self._draw_jitter(job)
        self._jobs.append(job)

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        """Time the jobs on the calling thread until ``stop`` is set, ``duration`` passed or
        :meth:`shutdown` was called.

        The agent runs it on its main thread, which would otherwise only wait for SIGTERM:
        one thread fewer, and the inline jobs allocate from the main malloc arena.
        """
        deadline = None if duration is None else self._monotonic() + duration
        while not stop.is_set() and not self._stop.is_set():
            wait = self.run_due()
            if deadline is not None:
                left = deadline - self._monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            stop.wait(wait)

    def run_soon(self, name: str) -> None:
        """Make job ``name`` due now; it keeps its interval from there.

        Called by a job on the timing thread (the flush asking for a ship), it takes effect
        as soon as that job returns; from another thread, at the timing thread's next wake-up.
        """
        job = next((job for job in self._jobs if job.name == name), None)
        if job is None:
            raise KeyError(f"no job named {name!r}")
        job.target = self._now(job)
        job.delay = 0.0

    def shutdown(self) -> None:
        """Stop ticking and wait for the runs under way to finish; nothing new starts."""
        self._stop.set()
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> list[JobStats]:
        with self._lock:
            return [
                JobStats(job.name, job.runs, job.overruns, job.failures, job.last_duration)
                for job in self._jobs
            ]

    def run_due(self) -> float:
        """Hand every job that is due to its pool; the seconds until the next one is due.

        :meth:`run` calls this in a loop; tests call it after moving their clocks.
        """
        wait = _MAX_SLEEP
        for job in self._jobs:
            due_in = self._due_in(job)
            if due_in <= 0:
                self._dispatch(job)
                due_in = self._due_in(job)
            wait = min(wait, due_in)
        return max(wait, 0.0)

    # --- inside the timing loop ------------------------------------------------------------------

    def _now(self, job: _Job) -> float:
        return self._wall() if job.wall_aligned else self._monotonic()

    def _due_in(self, job: _Job) -> float:
        now = self._now(job)
        if job.wall_aligned and job.target - now > job.every:
            # The wall clock was stepped back: wait for the next multiple, not the old one.
            job.target = first_aligned(job.every, now)
        return job.target + job.delay - now

    def _dispatch(self, job: _Job) -> None:
        if job.pool is None:
            self._run(job)
            # After the run: ticks that passed while it ran are dropped, as for pooled jobs.
            job.target = next_target(job.target, job.every, self._now(job))
            job.delay = self._draw_jitter(job)
            return
        if job.running is not None and not job.running.done():
            with self._lock:
                job.overruns += 1
            if not job.overrun_reported:
                log.warning(
                    "job %s is still running after %g s; skipping its runs until it ends",
                    job.name,
                    job.every,
                )
                job.overrun_reported = True
        else:
            job.overrun_reported = False
            job.running = self._pools[job.pool].submit(self._run, job)
        job.target = next_target(job.target, job.every, self._now(job))
        job.delay = self._draw_jitter(job)

    def _draw_jitter(self, job: _Job) -> float:
        return self._rng.uniform(0, job.jitter) if job.jitter > 0 else 0.0

    def _run(self, job: _Job) -> None:
        started = self._monotonic()
        failed = False
        try:
            job.func()
        except Exception:
            failed = True
            log.exception("job %s failed", job.name)
        duration = self._monotonic() - started
        with self._lock:
            job.runs += 1
            job.failures += failed
            job.last_duration = duration
