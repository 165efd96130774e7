"""Where every launch timing goes, whichever way it was measured (passive, probe, reported).

Thread-safe: the launch watcher, the probes and the report endpoint record from their own
threads; the batch builder drains once per interval. Events beyond the per-interval cap are
dropped but still counted, so daily launch counts stay exact.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from agent.wire import LaunchCount, LaunchEvent


@dataclass(frozen=True, slots=True)
class Drained:
    events: list[LaunchEvent]
    counts: list[LaunchCount]
    dropped: int


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
        self._dropped = 0

    def record(self, event: LaunchEvent) -> None:
        with self._lock:
            self._counts[(event.app, self._day_of(event.started_at), event.method)] += 1
            if len(self._events) < self._max_events:
                self._events.append(event)
            else:
                self._dropped += 1
        if self._on_record is not None:
            self._on_record(event)

    def pending(self) -> int:
        with self._lock:
            return len(self._events)

    def drain(self) -> Drained:
        with self._lock:
            events, self._events = self._events, []
            counts, self._counts = self._counts, Counter()
            dropped, self._dropped = self._dropped, 0
        return Drained(
            events=sorted(events, key=lambda event: event.started_at),
            counts=[
                LaunchCount(app=app, day=day, method=method, count=count)  # type: ignore[arg-type]
                for (app, day, method), count in sorted(counts.items())
            ],
            dropped=dropped,
        )

    def restore(self, drained: Drained) -> None:
        """Put drained data back, e.g. when writing the batch to the spool failed."""
        with self._lock:
            self._events[:0] = drained.events
            for count in drained.counts:
                self._counts[(count.app, count.day, count.method)] += count.count
            self._dropped += drained.dropped
