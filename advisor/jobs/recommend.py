"""The recommendation job: after each analysis, the engine's recommendations and the loop.

Its own job, ticking every ``[jobs] recommend_interval`` (10 minutes) under its own lease and
tick like the others, so one advisor runs each tick. A tick runs the recommendation run
(advisor.recommend_job: the loop, the facts a part at a time, the engine, the store) only
when an analysis has finished since the last run it followed, and none is running:

- **running**: a part of the analysis (``analysis/<part>`` in the job table) holds its lease:
  the tick waits for the next (the findings are being rewritten);
- **finished since**: the newest end of any analysis part (scheduled, ``jobs run analysis``
  or ``analyse``) is later than the analysis end the last successful run followed. That end
  is kept in the job table as the tick of ``recommend/after-analysis`` (claimed and finished
  after each run that succeeds), so every advisor sees it and a failed run is tried again.

So it runs once per analysis tick however many advisors share the database, within one
interval of the analysis' end. The ``recommend`` command runs it whatever (``always``).
Everything heavy (the engine, scikit-learn) is imported when a run starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from advisor.jobs.names import ANALYSIS, RECOMMEND
from advisor.jobs.runner import JobResult
from advisor.store.job_state import SUCCESS, JobLeases, JobStatus

if TYPE_CHECKING:
    from advisor.jobs.metrics import JobMetrics
    from advisor.recommend_job import RecommendOutcome
    from advisor.recommend_job_settings import RecommendSettings
    from advisor.store.open import Stores

log = logging.getLogger(__name__)

RECOMMEND_TABLES = ("recommendations",)
"""What a run's rows count: recommendations new, changed, obsoleted, rolled out, verified,
reopened."""
FOLLOWED = f"{RECOMMEND}/after-analysis"
"""The job-table row whose tick is the analysis end the last successful run followed."""


class RecommendWork:
    """The job's work (:data:`advisor.jobs.runner.Work`).

    ``at`` runs as of that time instead of the run's ``now`` (``recommend --at``: a replay);
    ``always`` runs whether or not an analysis finished since (the command). ``last`` is the
    latest run's outcome (None before one, or when a tick had nothing to follow);
    ``progress`` hears what a run is doing; with ``metrics``, each run sets the
    recommendations-by-state gauge.
    """

    def __init__(
        self,
        stores: Stores,
        settings: RecommendSettings,
        *,
        owner: str,
        lease_seconds: float,
        at: float | None = None,
        always: bool = False,
        progress: Callable[[str], None] = lambda text: None,
        metrics: JobMetrics | None = None,
    ) -> None:
        self._stores = stores
        self._metrics = metrics
        self._settings = settings
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._at = at
        self._always = always
        self._progress = progress
        self.last: RecommendOutcome | None = None

    def __call__(self, now: float, keep_alive: Callable[[], None]) -> JobResult:
        self.last = None
        leases = self._stores.leases
        followed: float | None = None
        if not self._always:
            statuses = leases.job_status()
            if analysis_running(statuses, now):
                log.debug("recommend: an analysis is running; waiting for it to finish")
                return JobResult()
            followed = analysis_finished(statuses)
            if followed is None or followed <= last_followed(statuses):
                return JobResult()
        from advisor.recommend_job import run_recommend

        outcome = run_recommend(
            self._stores,
            now=now if self._at is None else self._at,
            settings=self._settings,
            keep_alive=keep_alive,
            progress=self._progress,
        )
        self.last = outcome
        if self._metrics is not None:
            self._metrics.set_recommendations(self._stores.recommendations.state_counts())
        if followed is not None:
            self._follow(leases, followed, now)
        return JobResult(rows={"recommendations": outcome.changed}, total=outcome.changed)

    def _follow(self, leases: JobLeases, followed: float, now: float) -> None:
        """Record ``followed`` as the analysis end this run followed."""
        lease = self._lease_seconds
        claimed = leases.claim(
            FOLLOWED, owner=self._owner, now=now, lease_seconds=lease, tick=followed
        ) or leases.claim(FOLLOWED, owner=self._owner, now=now, lease_seconds=lease)
        if claimed:
            leases.finish(FOLLOWED, owner=self._owner, now=now, outcome=SUCCESS)


def analysis_running(statuses: list[JobStatus], now: float) -> bool:
    """Whether a part of the analysis holds its lease at ``now``."""
    return any(
        _of_analysis(s.job)
        and s.lease_owner is not None
        and s.lease_expires_at is not None
        and s.lease_expires_at > now
        for s in statuses
    )


def analysis_finished(statuses: list[JobStatus]) -> float | None:
    """The newest end of an analysis part (None: none ever finished)."""
    ends = [s.last_finished_at for s in statuses if _of_analysis(s.job) and s.last_finished_at]
    return max(ends) if ends else None


def last_followed(statuses: list[JobStatus]) -> float:
    """The analysis end the last successful run followed (-inf: none)."""
    for s in statuses:
        if s.job == FOLLOWED and s.last_tick is not None and s.last_outcome == SUCCESS:
            return s.last_tick
    return float("-inf")


def _of_analysis(job: str) -> bool:
    return job == ANALYSIS or job.startswith(ANALYSIS + "/")
