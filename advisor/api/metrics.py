"""The advisor API's Prometheus metrics, on a registry the caller gives (tests use their own).

==============================================  ============================================
metric                                          meaning
==============================================  ============================================
fleetsight_advisor_ingest_requests_total        ingest requests by ``outcome`` (stored,
                                                duplicate, rejected, error) and, for
                                                rejected ones, ``reason`` (auth, too_large,
                                                bad_encoding, invalid, wrong_host, overloaded,
                                                host_quota, slow_body, unstorable)
fleetsight_advisor_ingest_duration_seconds      time to answer an ingest request (histogram)
fleetsight_advisor_ingests_in_progress          ingests holding a concurrency slot now
fleetsight_advisor_batches_stored_total         batches stored (retries not counted)
fleetsight_advisor_launch_events_stored_total   launch events in the stored batches
fleetsight_advisor_metric_summaries_stored_total  metric summaries in the stored batches
fleetsight_advisor_inventories_stored_total     inventories in the stored batches
fleetsight_advisor_enrolments_total             enrolment requests by ``outcome`` (enrolled,
                                                unknown, revoked, expired, used_up,
                                                host_enrolled, host_revoked,
                                                other_department, refused, invalid)
==============================================  ============================================

Every label combination is created up front, so a rate over a counter that has not moved yet
reads 0 instead of nothing.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.multiprocess import MultiProcessCollector

from advisor.api.ingest import REJECT_REASONS, RejectReason
from agent.shared.wire import Batch

# "refused" is a refusal for a reason this advisor has no status for (a newer store).
ENROLMENT_OUTCOMES = (
    "enrolled",
    "unknown",
    "revoked",
    "expired",
    "used_up",
    "host_enrolled",
    "host_revoked",
    "other_department",
    "refused",
    "invalid",
)
# Spans a fast SQLite insert (milliseconds) to an agent's patience (its HTTP timeout).
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_registry() -> CollectorRegistry:
    """A registry that reads the sum of every worker's metrics from $PROMETHEUS_MULTIPROC_DIR
    (``[server] workers`` > 1; see advisor.serve). Process metrics are per process and are left
    out: prometheus-client cannot sum them."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
    return registry


def process_registry() -> CollectorRegistry:
    """A fresh registry with the process and Python metrics (memory, CPU, file descriptors)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class ApiMetrics:
    """The counters the API updates; thread-safe (prometheus-client locks each value)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ingest_requests = Counter(
            "fleetsight_advisor_ingest_requests",
            "Ingest requests by outcome, and by reason for rejected ones.",
            ["outcome", "reason"],
            registry=registry,
        )
        self.ingest_duration = Histogram(
            "fleetsight_advisor_ingest_duration_seconds",
            "Time to answer an ingest request, rejections included.",
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.ingests_in_progress = Gauge(
            "fleetsight_advisor_ingests_in_progress",
            "Ingest requests holding one of the max_concurrent_ingests slots.",
            registry=registry,
            multiprocess_mode="livesum",  # with several workers: the sum over live ones
        )
        self.batches_stored = Counter(
            "fleetsight_advisor_batches_stored",
            "Batches stored (a retried batch id is not stored again).",
            registry=registry,
        )
        self.launch_events_stored = Counter(
            "fleetsight_advisor_launch_events_stored",
            "Launch events in stored batches.",
            registry=registry,
        )
        self.metric_summaries_stored = Counter(
            "fleetsight_advisor_metric_summaries_stored",
            "Metric summaries (one series over one interval) in stored batches.",
            registry=registry,
        )
        self.inventories_stored = Counter(
            "fleetsight_advisor_inventories_stored",
            "Hardware and software inventories in stored batches.",
            registry=registry,
        )
        self.enrolments = Counter(
            "fleetsight_advisor_enrolments",
            "Enrolment requests by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("stored", "duplicate", "error"):
            self.ingest_requests.labels(outcome=outcome, reason="")
        for reason in REJECT_REASONS:
            self.ingest_requests.labels(outcome="rejected", reason=reason)
        for outcome in ENROLMENT_OUTCOMES:
            self.enrolments.labels(outcome=outcome)

    def stored(self, batch: Batch) -> None:
        """A batch was stored for the first time."""
        self.ingest_requests.labels(outcome="stored", reason="").inc()
        self.batches_stored.inc()
        self.launch_events_stored.inc(len(batch.launches))
        self.metric_summaries_stored.inc(sum(len(interval.metrics) for interval in batch.intervals))
        if batch.inventory is not None:
            self.inventories_stored.inc()

    def duplicate(self) -> None:
        """A batch id that was stored before arrived again and was acknowledged."""
        self.ingest_requests.labels(outcome="duplicate", reason="").inc()

    def rejected(self, reason: RejectReason) -> None:
        """An ingest request was refused with a 4xx."""
        self.ingest_requests.labels(outcome="rejected", reason=reason).inc()

    def error(self) -> None:
        """The store failed on a valid batch (the agent keeps it and retries)."""
        self.ingest_requests.labels(outcome="error", reason="").inc()

    def enrolment(self, outcome: str) -> None:
        """An enrolment request ended with ``outcome`` (one of ENROLMENT_OUTCOMES)."""
        self.enrolments.labels(outcome=outcome).inc()
