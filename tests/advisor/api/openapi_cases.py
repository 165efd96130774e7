"""Shared by the OpenAPI tests: the advisor's document, and what turns a batch the Batch
schema allows into one ingest takes, by keeping the rules the schema states only in words.

Only those rules are kept here (the clock window, the order of quantiles, totals over a list,
integers written without a fraction); a rule a schema can state is never repaired, so a rule
the document leaves out shows as a valid batch refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import CollectorRegistry

from advisor.api import batch_rules
from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.engine import make_engine
from tests.advisor.api.admin_routes import admin_routes

from .memory_store import MemoryStore

T0 = 1_764_000_000.0
NOW = T0 + 3600
"""The advisor's clock in these tests."""
QUANTITIES = ("min", "p50", "p90", "p99", "max")


def advisor_document() -> dict[str, Any]:
    """The advisor's OpenAPI document, with the admin routes; it does not depend on the data,
    so no database is opened (an engine connects to nothing until it is used)."""
    app = create_app(
        MemoryStore(),
        ApiSettings(),
        registry=CollectorRegistry(),
        **admin_routes(make_engine("sqlite://")),
    )
    return app.openapi()


def in_the_clock_window(seconds: float) -> float:
    """A time the advisor's clock takes (EARLIEST_TIME..NOW), from any the schema allows."""
    earliest = batch_rules.EARLIEST_TIME
    if earliest <= seconds <= NOW:
        return seconds
    return earliest + (seconds - earliest) % (NOW - earliest)


def keep_the_rules_stated_in_words(batch: dict[str, Any]) -> dict[str, Any]:
    """``batch`` (a valid one by the schema) made to keep the Batch description's rules too."""
    batch["created_at"] = in_the_clock_window(batch["created_at"])
    summaries = 0
    for interval in batch.get("intervals", []):
        start, end = sorted(
            (in_the_clock_window(interval["start"]), in_the_clock_window(interval["end"]))
        )
        interval["start"] = start
        interval["end"] = min(end, start + batch_rules.MAX_INTERVAL_SECONDS)
        del interval["metrics"][batch_rules.MAX_METRIC_SUMMARIES - summaries :]
        summaries += len(interval["metrics"])
        for metric in interval["metrics"]:
            ordered = sorted(metric[quantity] for quantity in QUANTITIES)
            metric.update(zip(QUANTITIES, ordered, strict=True))
    for launch in batch.get("launches", []):
        launch["started_at"] = in_the_clock_window(launch["started_at"])
    counts = batch.get("launch_counts", [])
    today = dt.datetime.fromtimestamp(NOW, dt.UTC).date().isoformat()
    for item in counts:
        if not batch_rules.EARLIEST_DAY <= item["day"] <= today:
            item["day"] = today
        item["count"] = min(item["count"], batch_rules.MAX_LAUNCHES_COUNTED // len(counts))
    if isinstance(batch.get("inventory"), dict):
        inventory = batch["inventory"]
        inventory["collected_at"] = in_the_clock_window(inventory["collected_at"])
    written: dict[str, Any] = integers_written_as_integers(batch)
    return written


def integers_written_as_integers(value: Any) -> Any:
    """``value`` with every float that is a 64-bit integer made an int: JSON Schema takes 5.0
    for an integer, ingest (strict) reads only 5; a number field takes either."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [integers_written_as_integers(item) for item in value]
    if isinstance(value, dict):
        return {key: integers_written_as_integers(item) for key, item in value.items()}
    return value
