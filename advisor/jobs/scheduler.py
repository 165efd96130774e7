"""The scheduler that ticks the job runners in ``serve`` (APScheduler 3, background threads).

Ticks fall on wall-clock multiples of each job's interval (…:00, …:05 for 5 minutes), the same
instants in every advisor, so the tick claim in the database lets exactly one of them run it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from advisor.jobs.runner import JobRunner

log = logging.getLogger(__name__)


class JobScheduler:
    """Ticks ``runners`` on a background scheduler between :meth:`start` and :meth:`shutdown`."""

    def __init__(
        self, runners: Sequence[JobRunner], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._runners = list(runners)
        self._clock = clock
        self._scheduler: Any = None

    def start(self) -> None:
        """Schedule every runner from its next tick on; returns at once."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            # A thread per job: a long retention run does not hold up the rollup.
            executors={"default": ThreadPoolExecutor(max_workers=max(1, len(self._runners)))},
            # A tick missed while the previous run went on is dropped, not queued.
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        now = self._clock()
        for runner in self._runners:
            first = math.ceil(now / runner.interval) * runner.interval
            scheduler.add_job(
                runner.tick,
                "interval",
                seconds=runner.interval,
                start_date=datetime.fromtimestamp(first, UTC),
                misfire_grace_time=max(1, int(runner.interval / 2)),
                id=runner.name,
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info(
            "scheduled jobs: %s",
            ", ".join(f"{r.name} every {r.interval:g} s" for r in self._runners),
        )

    def shutdown(self) -> None:
        """Stop ticking; a run in progress stops at its next chunk, and is waited for."""
        if self._scheduler is None:
            return
        for runner in self._runners:
            runner.stop()
        self._scheduler.shutdown(wait=True)
        self._scheduler = None
        log.info("scheduled jobs stopped")

    def next_run_times(self) -> dict[str, float]:
        """Each job's next scheduled tick (Unix time), by job name; empty when not started."""
        if self._scheduler is None:
            return {}
        return {
            job.id: job.next_run_time.timestamp()
            for job in self._scheduler.get_jobs()
            if job.next_run_time is not None
        }

    @property
    def running(self) -> bool:
        """Whether the scheduler is started and not shut down."""
        return self._scheduler is not None and bool(self._scheduler.running)
