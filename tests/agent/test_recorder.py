"""The launch recorder: events capped per interval, daily counts always exact."""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest

import agent.launches.recorder as recorder_module
from agent.launches.recorder import FULL, LaunchRecorder, local_day
from agent.shared.wire import LaunchEvent


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


def test_a_new_row_past_the_bound_is_refused_neither_kept_nor_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder_module, "MAX_COUNT_ROWS", 2)
    recorder = LaunchRecorder(day_of=by_day)
    assert recorder.record(event("gimp", 1.0)) is None
    assert recorder.record(event("gimp", 150.0)) is None

    assert recorder.record(event("firefox", 1.0)) == FULL
    assert recorder.record(event("gimp", 2.0)) is None  # a row it has: still counted

    drained = recorder.drain()
    assert [(c.app, c.day, c.count) for c in drained.counts] == [
        ("gimp", "day-1", 2),
        ("gimp", "day-2", 1),
    ]
    assert recorder.refused == 1


def test_record_all_takes_every_event_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "MAX_COUNTED", 3)
    recorder = LaunchRecorder(day_of=by_day)
    assert recorder.record_all([event("gimp", 1.0)] * 2) is None

    assert recorder.record_all([event("gimp", 1.0)] * 2) == FULL
    assert recorder.pending() == 2


def test_a_spool_that_keeps_failing_never_builds_more_than_twice_the_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder_module, "MAX_COUNT_ROWS", 3)
    monkeypatch.setattr(recorder_module, "MAX_COUNTED", 1_000)
    recorder = LaunchRecorder(max_events=2, day_of=str)
    moment = 0.0
    for _ in range(5):  # five intervals whose spool write fails
        drained = recorder.drain()
        # Recorded between the drain and the failed write: three new rows, three events.
        for _ in range(3):
            moment += 1
            recorder.record(event("gimp", moment))
        recorder.restore(drained)
    drained = recorder.drain()
    assert len(drained.counts) == 6
    assert len(drained.events) == 4
    assert drained.dropped <= sum(count.count for count in drained.counts)


def test_launches_timed_before_2000_are_left_out_of_a_dated_drain() -> None:
    recorder = LaunchRecorder()  # the real local day
    recorder.record(event("gimp", 86_400.0))  # 1970, a clock that was not set
    recorder.record(event("gimp", 1_764_000_000.0))

    drained = recorder.drain().dated()

    assert [e.started_at for e in drained.events] == [1_764_000_000.0]
    assert [c.day for c in drained.counts] == [local_day(1_764_000_000.0)]


def test_a_duration_longer_than_the_advisor_takes_is_cut_to_a_day() -> None:
    # A launch followed across a weekend's suspend, whose process then exited.
    recorder = LaunchRecorder(day_of=by_day)
    long = dataclasses.replace(event("gimp", 1.0), duration_seconds=200_000.0)
    probe = dataclasses.replace(
        event("intranet", 2.0), duration_seconds=-1.0, phases={"dns": 0.1, "total": math.nan}
    )
    recorder.record_all([long, probe])

    first, second = recorder.drain().events

    assert first.duration_seconds == 86_400.0
    assert (second.duration_seconds, second.phases) == (0.0, {"dns": 0.1, "total": 0.0})
