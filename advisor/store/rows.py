"""A batch as the rows of the store's tables: pure, shared by both ingest paths."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent.shared.wire import Batch


def canonical_labels(labels: Mapping[str, str]) -> str:
    """Labels as stored: JSON with sorted keys and no spaces, so equal sets compare equal.

    >>> canonical_labels({"device": "sda", "app": "firefox"})
    '{"app":"firefox","device":"sda"}'
    """
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def summary_rows(host_id: str, batch: Batch) -> list[dict[str, Any]]:
    """One ``metric_summaries`` row per metric of every interval."""
    return [
        {
            "host_id": host_id,
            "batch_id": batch.batch_id,
            "interval_start": interval.start,
            "interval_end": interval.end,
            "name": metric.name,
            "labels": canonical_labels(metric.labels),
            "count": metric.count,
            "sum": metric.sum,
            "min": metric.min,
            "max": metric.max,
            "p50": metric.p50,
            "p90": metric.p90,
            "p99": metric.p99,
        }
        for interval in batch.intervals
        for metric in interval.metrics
    ]


def launch_rows(host_id: str, batch: Batch) -> list[dict[str, Any]]:
    """One ``launches`` row per launch event."""
    return [
        {
            "host_id": host_id,
            "batch_id": batch.batch_id,
            "app": event.app,
            "version": event.version,
            "method": event.method,
            "outcome": event.outcome,
            "started_at": event.started_at,
            "duration_seconds": event.duration_seconds,
            "ready_signal": event.ready_signal,
            "start_kind": event.start_kind,
            "phases": dict(event.phases),
            "probe": event.probe,
            "detail": event.detail,
        }
        for event in batch.launches
    ]


def launch_count_rows(host_id: str, batch: Batch) -> list[dict[str, Any]]:
    """``launch_counts`` increments, one per (app, day, method), in key order.

    Counts for the same key within a batch are summed, so an upsert sees each key once, and
    the order is fixed so that concurrent batches of one host lock rows in the same order and
    queue instead of deadlocking.
    """
    totals: dict[tuple[str, str, str], int] = {}
    for item in batch.launch_counts:
        key = (item.app, item.day, item.method)
        totals[key] = totals.get(key, 0) + item.count
    return [
        {"host_id": host_id, "app": app, "day": day, "method": method, "count": count}
        for (app, day, method), count in sorted(totals.items())
    ]
