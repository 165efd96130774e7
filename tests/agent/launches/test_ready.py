"""Ready signals and the cold/warm rule, fed synthetic readings (no clock, no /proc)."""

from __future__ import annotations

import pytest

from agent.launches.ready import (
    CpuSettled,
    LibrariesSettled,
    LogLineSeen,
    PortListening,
    ProcessStarted,
    classify_start,
)


def feed_cpu(signal: CpuSettled, readings: list[tuple[float, float]]) -> list[float | None]:
    return [signal.observe(at, cpu) for at, cpu in readings]


def cpu_signal(**overrides: float) -> CpuSettled:
    settings = {"threshold": 0.05, "settle_for": 1.0, "resolution": 0.01} | overrides
    return CpuSettled(100.0, **settings)


def test_cpu_settled_answers_the_start_of_the_quiet_window_not_when_it_noticed() -> None:
    signal = cpu_signal()
    # Busy at one core until 101.0, then idle; readings every 0.1 s from 100.3.
    readings = [(100.0 + step / 10, min(step / 10, 1.0)) for step in range(3, 22)]
    answers = feed_cpu(signal, readings)
    assert answers[:-3] == [None] * (len(readings) - 3)
    assert answers[-1] == pytest.approx(101.0)


def test_cpu_settled_interpolates_the_end_of_work_within_the_last_busy_step() -> None:
    signal = cpu_signal()
    # One core until 100.84: the step 100.8-100.9 holds 0.04 s of CPU.
    readings = [(100.0 + step / 10, min(step / 10, 0.84)) for step in range(1, 21)]
    assert feed_cpu(signal, readings)[-1] == pytest.approx(100.84)


def test_cpu_settled_uses_the_speed_of_the_previous_step_on_a_loaded_machine() -> None:
    signal = cpu_signal()
    # Half a core (the machine is shared) until 100.85: the last busy step holds 0.025 s.
    readings = [(100.0 + step / 10, min(step / 20, 0.425)) for step in range(1, 21)]
    assert feed_cpu(signal, readings)[-1] == pytest.approx(100.85)


def test_cpu_settled_takes_work_done_before_the_first_reading_as_one_core_from_creation() -> None:
    signal = cpu_signal()
    # First seen at 100.25 with 0.12 s used, idle since.
    readings = [(100.25, 0.12)] + [(100.25 + step / 10, 0.12) for step in range(1, 11)]
    assert feed_cpu(signal, readings)[-1] == pytest.approx(100.12)


def test_cpu_settled_is_not_ready_while_the_tree_stays_busy() -> None:
    signal = cpu_signal()
    readings = [(100.0 + step / 10, step / 10) for step in range(1, 60)]
    assert feed_cpu(signal, readings) == [None] * len(readings)


def test_cpu_settled_ignores_a_single_clock_tick_in_a_short_step() -> None:
    signal = cpu_signal()
    # Busy until 100.5; afterwards one tick every 0.5 s (2 %): idle enough.
    readings = [(100.0 + step / 10, min(step / 10, 0.5)) for step in range(1, 6)]
    readings += [(100.5 + step / 10, 0.5 + 0.01 * (step // 5)) for step in range(1, 12)]
    assert feed_cpu(signal, readings)[-1] == pytest.approx(100.5)


def test_cpu_settled_counts_a_steady_trickle_above_the_threshold_as_busy() -> None:
    signal = cpu_signal()
    # One tick every step: 10 % of a core, each step too small to count alone.
    readings = [(100.0 + step / 10, 0.01 * step) for step in range(1, 40)]
    assert feed_cpu(signal, readings) == [None] * len(readings)


def test_cpu_settled_restarts_the_quiet_window_after_a_late_burst() -> None:
    signal = cpu_signal(settle_for=0.5)
    readings = [(100.1, 0.1), (100.2, 0.1), (100.3, 0.1), (100.4, 0.1), (100.5, 0.2)]
    readings += [(100.5 + step / 10, 0.2) for step in range(1, 7)]
    answers = feed_cpu(signal, readings)
    assert answers[3] is None
    assert answers[-1] == pytest.approx(100.5)


def test_cpu_settled_keeps_its_answer_once_ready() -> None:
    signal = cpu_signal(settle_for=0.2)
    feed_cpu(signal, [(100.1, 0.1), (100.2, 0.1), (100.3, 0.1), (100.4, 0.1)])
    assert signal.observe(100.5, 5.0) == pytest.approx(100.1)


def test_libraries_settled_answers_the_middle_of_the_step_of_the_last_growth() -> None:
    signal = LibrariesSettled(100.0, settle_for=0.5)
    counts = [12, 14, 14, 20, 20, 20, 20, 20, 20]
    answers = [signal.observe(100.0 + n / 10, c) for n, c in enumerate(counts, start=1)]
    assert answers[-2] is None
    assert answers[-1] == pytest.approx(100.35)


def test_libraries_settled_does_not_count_a_reload_after_an_unload_as_growth() -> None:
    signal = LibrariesSettled(100.0, settle_for=0.3)
    answers = [signal.observe(100.1, 10), signal.observe(100.2, 9), signal.observe(100.3, 10)]
    answers.append(signal.observe(100.4, 10))
    assert answers == [None, None, None, pytest.approx(100.05)]


def test_port_listening_answers_the_middle_of_the_step_that_first_saw_the_port() -> None:
    signal = PortListening(100.0)
    answers = [signal.observe(100.2, False), signal.observe(100.3, True)]
    answers.append(signal.observe(100.4, False))
    assert answers == [None, pytest.approx(100.25), pytest.approx(100.25)]


def test_log_line_uses_the_write_time_clamped_to_the_step() -> None:
    exact, early, late = LogLineSeen(100.0), LogLineSeen(100.0), LogLineSeen(100.0)
    for signal in (exact, early, late):
        assert signal.observe(100.2, False) is None
    assert exact.observe(100.3, True, written_at=100.27) == pytest.approx(100.27)
    assert early.observe(100.3, True, written_at=99.0) == pytest.approx(100.2)
    assert late.observe(100.3, True, written_at=101.0) == pytest.approx(100.3)


def test_log_line_without_a_write_time_answers_the_middle_of_the_step() -> None:
    signal = LogLineSeen(100.0)
    assert signal.observe(100.4, True) == pytest.approx(100.2)


def test_process_start_is_ready_at_creation() -> None:
    assert ProcessStarted(100.0).observe(100.3) == 100.0


@pytest.mark.parametrize(
    ("faults", "complete", "kind"),
    [
        (0, True, "warm"),
        (2, True, "warm"),
        (3, True, "unknown"),
        (15, True, "unknown"),
        (16, True, "cold"),
        (900, False, "cold"),
        (0, False, "unknown"),
        (None, True, "unknown"),
    ],
)
def test_start_kind_follows_major_page_faults(
    faults: int | None, complete: bool, kind: str
) -> None:
    assert classify_start(faults, complete=complete) == kind
