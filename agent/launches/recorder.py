"""Where every launch timing goes, whichever way it was measured (passive, probe, reported).

Thread-safe: the launch watcher, the probes and the report endpoint record from their own
threads; the batch builder drains once per interval. Events beyond the per-interval cap are
dropped but still counted, so daily launch counts stay exact.

What one interval may hold is bounded so that a batch always passes the advisor's limits
(advisor/api/batch_rules.py; a refused batch is a lost minute): at most
:data:`MAX_COUNT_ROWS` distinct (app, day, method) rows and :data:`MAX_COUNTED` launches.
Only a runaway reporter on the loopback endpoint (apps need no configuration there) comes
near them; past them a launch is refused, neither kept nor counted, and the endpoint says so.
A batch whose spool write failed carries two intervals' worth, hence half the advisor's limits
(and agent.config.MAX_EVENTS_PER_INTERVAL for the events kept).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.shared.wire import LaunchCount, LaunchEvent
from agent.summary import EARLIEST_TIME

MAX_COUNT_ROWS = 5_000
"""Distinct (app, day, method) rows per interval: half the advisor's 10,000 per batch."""
MAX_COUNTED = 500_000
"""Launches counted per interval: half the advisor's 1,000,000 per batch."""
EARLIEST_DAY = "1999-12-31"
"""The advisor's earliest local day: agent.summary.EARLIEST_TIME, twelve hours west of UTC."""

MAX_DURATION_SECONDS = 86_400.0
"""The advisor's longest launch duration or probe phase. Config bounds every timeout by it;
what still passes it (a launch followed across a suspend, whose process then exits) is cut to
it by :meth:`LaunchRecorder.record_all`, as a timeout would have been."""

FULL = "too many launches this interval"
"""Why :meth:`LaunchRecorder.record` refused a launch."""


@dataclass(frozen=True, slots=True)
class Drained:
    events: list[LaunchEvent]
    counts: list[LaunchCount]
    dropped: int

    def dated(self) -> Drained:
        """Without the events and counts timed before :data:`EARLIEST_TIME`.

        Such times come from a wall clock that was not set yet (a dead RTC battery reads
        1970): the advisor refuses a batch holding one, and nothing tells the real time.
        """
        events = [event for event in self.events if event.started_at >= EARLIEST_TIME]
        counts = [count for count in self.counts if count.day >= EARLIEST_DAY]
        if len(events) == len(self.events) and len(counts) == len(self.counts):
            return self
        return Drained(events, counts, self.dropped)


def local_day(timestamp: float) -> str:
    """The host's local calendar day of a Unix time, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


class LaunchRecorder:
    def __init__(
        self,
        max_events: int = 1000,
        day_of: Callable[[float], str] = local_day,
        on_record: Callable[[LaunchEvent], None] | None = None,
    ):
        self._max_events = max_events
        self._day_of = day_of
        self._on_record = on_record
        self._lock = threading.Lock()
        self._events: list[LaunchEvent] = []
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._counted = 0
        self._dropped = 0
        self.refused = 0

    def record(self, event: LaunchEvent) -> str | None:
        """Keep (or only count) ``event``; None, or why it was refused (:data:`FULL`)."""
        return self.record_all([event])

    def record_all(self, events: Iterable[LaunchEvent]) -> str | None:
        """Record every event, or none of them when they do not all fit: None, or why not."""
        keyed = [
            ((event.app, self._day_of(event.started_at), event.method), _within_a_day(event))
            for event in events
        ]
        with self._lock:
            new_rows = {key for key, _ in keyed if key not in self._counts}
            if (
                len(self._counts) + len(new_rows) > MAX_COUNT_ROWS
                or self._counted + len(keyed) > MAX_COUNTED
            ):
                self.refused += len(keyed)
                return FULL
            for key, event in keyed:
                self._counts[key] += 1
                if len(self._events) < self._max_events:
                    self._events.append(event)
                else:
                    self._dropped += 1
            self._counted += len(keyed)
        if self._on_record is not None:
            for _, event in keyed:
                self._on_record(event)
        return None

    def pending(self) -> int:
        with self._lock:
            return len(self._events)

    def drain(self) -> Drained:
        with self._lock:
            events, self._events = self._events, []
            counts, self._counts = self._counts, Counter()
            dropped, self._dropped = self._dropped, 0
            self._counted = 0
        return Drained(
            events=sorted(events, key=lambda event: event.started_at),
            counts=[
                LaunchCount(app=app, day=day, method=method, count=count)  # type: ignore[arg-type]
                for (app, day, method), count in sorted(counts.items())
            ],
            dropped=dropped,
        )

    def restore(self, drained: Drained) -> None:
        """Put drained data back, e.g. when writing the batch to the spool failed.

        What was recorded in between joins it, within twice the per-interval bounds (the
        advisor's limits): events past twice the cap are dropped (still counted), counts
        that would pass the bounds are refused. So a spool that keeps failing never builds a
        batch the advisor would refuse.
        """
        with self._lock:
            merged: Counter[tuple[str, str, str]] = Counter()
            for count in drained.counts:
                merged[(count.app, count.day, count.method)] += count.count
            counted = sum(merged.values())
            for key, number in self._counts.items():
                fits = key in merged or len(merged) < 2 * MAX_COUNT_ROWS
                if fits and counted + number <= 2 * MAX_COUNTED:
                    merged[key] += number
                    counted += number
                else:
                    self.refused += number
            self._counts, self._counted = merged, counted
            events = drained.events + self._events
            keep = 2 * self._max_events
            self._events = events[:keep]
            self._dropped = min(
                self._dropped + drained.dropped + max(len(events) - keep, 0), counted
            )


def _within_a_day(event: LaunchEvent) -> LaunchEvent:
    duration, phases = event.duration_seconds, event.phases
    if (duration is None or 0.0 <= duration <= MAX_DURATION_SECONDS) and all(
        0.0 <= seconds <= MAX_DURATION_SECONDS for seconds in phases.values()
    ):
        return event
    return dataclasses.replace(
        event,
        duration_seconds=None if duration is None else _clamp(duration),
        phases={name: _clamp(seconds) for name, seconds in phases.items()},
    )


def _clamp(seconds: float) -> float:
    # NaN compares false: it becomes 0.
    return min(seconds, MAX_DURATION_SECONDS) if seconds >= 0.0 else 0.0
