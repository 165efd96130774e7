"""The scheduled jobs' Prometheus metrics, on the advisor's registry (the one /metrics serves).

=======================================================  =====================================
metric                                                   meaning
=======================================================  =====================================
fleetsight_advisor_job_runs_total                        ticks and manual runs by ``job`` and
                                                         ``outcome`` (success, failure,
                                                         skipped: another advisor has it,
                                                         backing_off, stopped: shutdown)
fleetsight_advisor_job_duration_seconds                  time of each run this process made
fleetsight_advisor_job_last_success_timestamp_seconds    the job's last success in *any*
                                                         advisor (from the database): alert
                                                         when it grows old
fleetsight_advisor_job_rows_total                        rows by ``job`` and ``table``: rolled
                                                         up (rollup), deleted (retention),
                                                         launches analysed and findings
                                                         changed (analysis)
fleetsight_advisor_findings_open                         open findings by ``kind`` after the
                                                         newest analysis run this process
                                                         made (several workers: the newest)
fleetsight_advisor_recommendations                       recommendations by ``state``
                                                         (proposed, approved, rolled_out,
                                                         verified, reopened, ...) after the
                                                         newest recommend run this process
                                                         made
=======================================================  =====================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from advisor.analysis.findings import KINDS
from advisor.store.recommendations import STATES, RecommendationState

OUTCOMES = ("success", "failure", "skipped", "backing_off", "stopped")
# From a rollup of a few new batches (milliseconds) to retention's first run on a big backlog.
_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class JobMetrics:
    """Counters for every job in ``tables`` (job name -> tables its rows are counted by)."""

    def __init__(self, registry: CollectorRegistry, tables: Mapping[str, Sequence[str]]) -> None:
        self.runs = Counter(
            "fleetsight_advisor_job_runs",
            "Scheduled job runs by outcome (skipped: another advisor runs it).",
            ["job", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "fleetsight_advisor_job_duration_seconds",
            "Time taken by each run of a scheduled job in this advisor.",
            ["job"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.last_success = Gauge(
            "fleetsight_advisor_job_last_success_timestamp_seconds",
            "When the job last succeeded in any advisor sharing the database (0: never).",
            ["job"],
            registry=registry,
            multiprocess_mode="max",  # with several workers: the latest any of them saw
        )
        self.rows = Counter(
            "fleetsight_advisor_job_rows",
            "Rows rolled up (rollup), deleted (retention) or analysed and changed (analysis).",
            ["job", "table"],
            registry=registry,
        )
        self.findings_open = Gauge(
            "fleetsight_advisor_findings_open",
            "Open findings by kind after the newest analysis run.",
            ["kind"],
            registry=registry,
            multiprocess_mode="mostrecent",  # with several workers: the newest run's
        )
        self.recommendations = Gauge(
            "fleetsight_advisor_recommendations",
            "Recommendations by review state after the newest recommend run.",
            ["state"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        for kind in KINDS:
            self.findings_open.labels(kind=kind)
        for state in STATES:
            self.recommendations.labels(state=state)
        for job, job_tables in tables.items():
            for outcome in OUTCOMES:
                self.runs.labels(job=job, outcome=outcome)
            self.duration.labels(job=job)
            self.last_success.labels(job=job)
            for table in job_tables:
                self.rows.labels(job=job, table=table)

    def set_recommendations(self, by_state: Mapping[RecommendationState, int]) -> None:
        """Show how many recommendations are in each state after a run."""
        for state in STATES:
            self.recommendations.labels(state=state).set(by_state.get(state, 0))

    def set_open_findings(self, open_by_kind: Mapping[str, int]) -> None:
        """Show the open findings per kind after a run (a kind not mentioned has none)."""
        for kind in sorted(set(KINDS) | set(open_by_kind)):
            self.findings_open.labels(kind=kind).set(open_by_kind.get(kind, 0))
