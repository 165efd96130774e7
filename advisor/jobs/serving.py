"""The scheduled jobs of ``serve``: built from the configuration, started when the app starts
serving and shut down when it stops."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from advisor.config import AdvisorConfig
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.scheduler import JobScheduler
from advisor.jobs.tasks import JOB_TABLES, build_runners, default_owner
from advisor.store.open import Stores


def build_jobs(
    stores: Stores,
    config: AdvisorConfig,
    registry: CollectorRegistry,
    *,
    clock: Callable[[], float] = time.time,
) -> JobScheduler | None:
    """The scheduled jobs of ``serve``, not started yet (None when ``[jobs] enabled`` is off).

    Their metrics are registered on ``registry`` (the one /metrics serves).
    """
    if not config.jobs.enabled:
        return None
    metrics = JobMetrics(registry, JOB_TABLES)
    runners = build_runners(stores, config, metrics, owner=default_owner(), clock=clock)
    return JobScheduler(list(runners.values()), clock=clock)


def run_while_serving(app: Starlette, scheduler: JobScheduler) -> None:
    """Start ``scheduler`` when ``app`` starts serving and shut it down when it stops.

    Hooked into the app's lifespan: on SIGTERM uvicorn finishes the requests in flight, then
    runs the lifespan shutdown (a job in progress stops at its next chunk and releases its
    lease), and only then exits. A ``finally`` after ``uvicorn.run`` would come too late:
    uvicorn re-raises the signal once it has shut down.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        async with inner(served) as state:
            scheduler.start()
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(scheduler.shutdown)

    app.router.lifespan_context = lifespan
