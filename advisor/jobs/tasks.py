"""The advisor's scheduled jobs: what each one does, and its runner built from the config.

=========  =======================  ===================================================
job        default interval         work
=========  =======================  ===================================================
rollup     5 min (``[jobs]``)       ``Upkeep.roll_up`` (advisor.store.analysis_data):
                                    merge the summaries of batches received before this
                                    hour into hourly and daily rollups
retention  1 h                      ``Upkeep.apply_retention`` with the
                                    ``[retention]`` policy
analysis   6 h                      advisor.jobs.analysis: the fleet analysis of the last
                                    ``[analysis] window_days`` days; findings recorded
recommend  10 min                   advisor.jobs.recommend: after each analysis (when one
                                    finished since, and none is running), the loop of
                                    approved recommendations and the engine's new ones
=========  =======================  ===================================================
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

from advisor.config import AdvisorConfig
from advisor.jobs.analysis import ANALYSIS_TABLES, AnalysisWork
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.names import ANALYSIS, RECOMMEND, RETENTION, ROLLUP
from advisor.jobs.recommend import RECOMMEND_TABLES, RecommendWork
from advisor.jobs.runner import JobResult, JobRunner, PartedWork, Work
from advisor.recommend_job_settings import LoopSettings, RecommendSettings
from advisor.store.analysis_data import Upkeep
from advisor.store.open import Stores
from advisor.store.retention import TABLES, RetentionPolicy
from advisor.store.rollup import HOUR, bucket_start

JOB_TABLES: dict[str, tuple[str, ...]] = {
    ROLLUP: ("metric_summaries", "batches"),
    RETENTION: TABLES,
    ANALYSIS: ANALYSIS_TABLES,
    RECOMMEND: RECOMMEND_TABLES,
}
"""Every job, and the tables its rows are counted by in fleetsight_advisor_job_rows_total."""


def rollup_work(upkeep: Upkeep, *, chunk_batches: int) -> Work:
    """The rollup job: every batch received before this hour and not rolled up yet,
    ``chunk_batches`` per transaction (whole host-hours: see advisor.store.rollup)."""

    def work(now: float, keep_alive: Callable[[], None]) -> JobResult:
        done = upkeep.roll_up(
            now=now,
            chunk_batches=chunk_batches,
            between_chunks=keep_alive,
            received_before=bucket_start(now, HOUR),
        )
        return JobResult(
            rows={"metric_summaries": done.summaries, "batches": done.batches},
            total=done.summaries,
        )

    return work


def retention_work(upkeep: Upkeep, policy: RetentionPolicy) -> Work:
    """The retention job: delete what ``policy`` no longer keeps."""

    def work(now: float, keep_alive: Callable[[], None]) -> JobResult:
        deleted = upkeep.apply_retention(policy, now=now, between_chunks=keep_alive)
        return JobResult(rows=deleted, total=sum(deleted.values()))

    return work


def retention_policy(config: AdvisorConfig) -> RetentionPolicy:
    """The ``[retention]`` section as a policy."""
    section = config.retention
    return RetentionPolicy(
        launches_days=section.launches_days,
        summaries_days=section.summaries_days,
        hourly_days=section.hourly_days,
        daily_days=section.daily_days,
        batches_days=section.batches_days,
        launch_daily_days=section.launch_daily_days,
        finding_history_days=section.finding_history_days,
        chunk_rows=section.chunk_rows,
    )


def recommend_settings(config: AdvisorConfig) -> RecommendSettings:
    """The ``[recommend]`` section as the recommendation run's settings."""
    section = config.recommend
    return RecommendSettings(
        loop=LoopSettings(rollout_share=section.rollout_share, verify_days=section.verify_days)
    )


def default_owner() -> str:
    """This process's name in leases: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def build_runners(
    stores: Stores,
    config: AdvisorConfig,
    metrics: JobMetrics,
    *,
    owner: str,
    clock: Callable[[], float] = time.time,
) -> dict[str, JobRunner]:
    """A runner per job, by name, with the intervals, lease and backoff of ``[jobs]``."""
    jobs = config.jobs
    works: dict[str, tuple[Work | PartedWork, float]] = {
        ROLLUP: (
            rollup_work(stores.upkeep, chunk_batches=jobs.rollup_chunk_batches),
            jobs.rollup_interval,
        ),
        RETENTION: (
            retention_work(stores.upkeep, retention_policy(config)),
            jobs.retention_interval,
        ),
        ANALYSIS: (
            AnalysisWork(
                stores.frames,
                stores.findings,
                window_days=config.analysis.window_days,
                metrics=metrics,
                clock=clock,
            ),
            jobs.analysis_interval,
        ),
        RECOMMEND: (
            RecommendWork(
                stores,
                recommend_settings(config),
                owner=owner,
                lease_seconds=jobs.lease,
                metrics=metrics,
            ),
            jobs.recommend_interval,
        ),
    }
    return {
        name: JobRunner(
            name,
            work,
            stores.leases,
            interval=interval,
            lease_seconds=jobs.lease,
            max_backoff=jobs.max_backoff,
            metrics=metrics,
            owner=owner,
            clock=clock,
        )
        for name, (work, interval) in works.items()
    }
