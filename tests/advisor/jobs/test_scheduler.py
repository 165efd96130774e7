"""The scheduler in ``serve``: ticks on a wall-clock grid, runs while the app serves."""

from __future__ import annotations

import anyio
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.config import parse_config
from advisor.jobs.metrics import OUTCOMES
from advisor.jobs.scheduler import JobScheduler
from advisor.jobs.serving import build_jobs, run_while_serving
from advisor.store.open import stores_on
from advisor.store.sql import SqlStore

T0 = 4_102_444_800.0
"""2100-01-01 00:00 UTC: APScheduler fires from real time on, so the test starts in the future."""


def jobs(
    engine: sa.Engine, toml: str = "", registry: CollectorRegistry | None = None
) -> JobScheduler:
    scheduler = build_jobs(
        stores_on(engine),
        parse_config(toml),
        registry or CollectorRegistry(),
        clock=lambda: T0 + 10,
    )
    assert scheduler is not None
    return scheduler


def is_running(scheduler: JobScheduler) -> bool:
    # A call, not the property: mypy would keep an asserted property narrowed past shutdown().
    return scheduler.running


def test_jobs_start_on_the_next_tick_of_their_grid_and_stop_cleanly(engine: sa.Engine) -> None:
    scheduler = jobs(engine, '[jobs]\nrollup_interval = "5m"\nretention_interval = "1h"\n')

    scheduler.start()
    try:
        assert is_running(scheduler)
        assert scheduler.next_run_times() == {
            "rollup": T0 + 300,
            "retention": T0 + 3600,
            "analysis": T0 + 6 * 3600,
            "recommend": T0 + 600,
        }
    finally:
        scheduler.shutdown()

    assert not scheduler.running
    scheduler.shutdown()  # a second shutdown (the CLI's fallback) is harmless


def test_the_job_metrics_are_on_the_registry_with_every_outcome(engine: sa.Engine) -> None:
    registry = CollectorRegistry()
    jobs(engine, registry=registry)

    text = generate_latest(registry).decode()

    for outcome in OUTCOMES:
        assert f'fleetsight_advisor_job_runs_total{{job="rollup",outcome="{outcome}"}} 0.0' in text
    assert 'fleetsight_advisor_job_rows_total{job="retention",table="launches"} 0.0' in text
    assert 'fleetsight_advisor_job_last_success_timestamp_seconds{job="rollup"} 0.0' in text


def test_jobs_can_be_left_to_other_advisors(engine: sa.Engine) -> None:
    registry = CollectorRegistry()

    scheduler = build_jobs(stores_on(engine), parse_config("[jobs]\nenabled = false\n"), registry)

    assert scheduler is None
    assert "fleetsight_advisor_job" not in generate_latest(registry).decode()


def test_the_jobs_run_while_the_app_serves(store: SqlStore, engine: sa.Engine) -> None:
    app = create_app(store, ApiSettings(), registry=CollectorRegistry())
    scheduler = jobs(engine)
    run_while_serving(app, scheduler)
    seen: list[bool] = []

    async def serve() -> None:
        # What uvicorn does around serving: lifespan startup, then shutdown on SIGTERM.
        async with app.router.lifespan_context(app):
            seen.append(scheduler.running)

    assert not scheduler.running
    anyio.run(serve)

    assert seen == [True]
    assert not scheduler.running
