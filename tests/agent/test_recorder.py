"""The launch recorder: events capped per interval, daily counts always exact."""

from __future__ import annotations

import threading

from agent.launches.recorder import LaunchRecorder
from agent.wire import LaunchEvent


def event(app: str, started_at: float, method: str = "passive") -> LaunchEvent:
    return LaunchEvent(
        app=app,
        version=None,
        method=method,  # type: ignore[arg-type]
        outcome="ok",
        started_at=started_at,
        duration_seconds=1.0,
        ready_signal="cpu_settled",
    )


def by_day(timestamp: float) -> str:
    return "day-1" if timestamp < 100 else "day-2"


def test_events_over_the_cap_are_dropped_but_still_counted() -> None:
    recorder = LaunchRecorder(max_events=2, day_of=by_day)
    for moment in (3.0, 1.0, 2.0, 150.0):
        recorder.record(event("gimp", moment))
    drained = recorder.drain()
    assert [e.started_at for e in drained.events] == [1.0, 3.0]
    assert drained.dropped == 2
    assert [(c.app, c.day, c.count) for c in drained.counts] == [
        ("gimp", "day-1", 3),
        ("gimp", "day-2", 1),
    ]


def test_drain_resets_and_restore_puts_everything_back() -> None:
    recorder = LaunchRecorder(day_of=by_day)
    recorder.record(event("gimp", 1.0))
    first = recorder.drain()
    assert recorder.drain().events == []
    recorder.restore(first)
    recorder.record(event("gimp", 2.0, method="reported"))
    again = recorder.drain()
    assert len(again.events) == 2
    assert sorted((c.method, c.count) for c in again.counts) == [("passive", 1), ("reported", 1)]


def test_recording_from_many_threads_loses_nothing() -> None:
    recorder = LaunchRecorder(max_events=10_000, day_of=by_day)
    seen: list[LaunchEvent] = []
    recorder = LaunchRecorder(max_events=10_000, day_of=by_day, on_record=seen.append)

    def work() -> None:
        for moment in range(500):
            recorder.record(event("firefox", float(moment % 50)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drained = recorder.drain()
    assert len(drained.events) == 4000 == len(seen)
    assert sum(count.count for count in drained.counts) == 4000
