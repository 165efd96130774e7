"""Ready signals: when has a launching application finished starting?

Pure: each signal is fed readings taken by the watcher (``at`` is the watcher's monotonic
clock) and answers ``None`` ("not yet") or the moment, on the same clock, the app became
ready. A signal is created with ``started``, the process's creation time on that clock, and
treats it as a reading of zero: a new process has used no CPU and mapped nothing.

The watcher polls every ~0.1 s, so a change happens somewhere between two readings. Signals
that only know "it changed in this step" answer the middle of the step (an unbiased guess,
error at most half a step) rather than its end (always late by half a step on average).
Once ready, a signal keeps answering the same moment.
"""

from __future__ import annotations

from typing import Literal

StartKind = Literal["cold", "warm", "unknown"]

COLD_MIN_MAJOR_FAULTS = 16
"""At least this many major faults during start-up means a cold start.

A major fault is a page that had to be read from disk (or swap): a warm start, with the
app's files in the page cache, takes almost none (Python's start-up: 0). Each fault reads a
read-around window of up to 128 KiB, so 16 faults is at least ~16 disk requests and ~0.2 s on a
spinning disk: the disk is then part of what the user waited for. Big apps starting cold
(LibreOffice, a browser) take hundreds to thousands.
"""
WARM_MAX_MAJOR_FAULTS = 2
"""At most this many over a completed start-up means warm; a stray evicted page is not cold.
Counts in between are a partly cached start and reported as unknown."""

_EPSILON = 1e-9


def _midpoint(low: float, high: float) -> float:
    return low + (high - low) / 2


class CpuSettled:
    """Ready when the process tree's CPU stays below ``threshold`` for ``settle_for`` seconds.

    Fed the tree's cumulative CPU seconds (never decreasing). The answer is the START of the
    quiet window: the end of the last busy step. Within that step the work is assumed to have
    gone on at the speed of the step before (one core when there is none) and then stopped,
    so the step's CPU tells how far into it the work went.

    CPU counters tick every ``resolution`` seconds (10 ms), so one tick in a 0.1 s step reads
    as 10 % even for an idle app: a step is busy only when it used more than one tick and more
    than ``threshold`` of its length, and the quiet window as a whole must stay under
    ``threshold`` of its length plus one tick.

    Start-up work done before the first reading: the first step runs from ``started`` with
    zero CPU. Its work is taken as one core from the process's creation, which is how
    start-ups run on an idle machine, giving ``started + cpu`` (never past the first reading).
    That is the earliest the work can have ended; the first reading is the latest.
    """

    name = "cpu_settled"

    def __init__(
        self, started: float, *, threshold: float, settle_for: float, resolution: float = 0.01
    ):
        self._threshold = threshold
        self._settle_for = settle_for
        self._resolution = resolution
        self._last_at = started
        self._last_cpu = 0.0
        self._first = True
        self._previous_busy_rate: float | None = None
        self._quiet_since = started
        self._quiet_cpu = 0.0
        self._quiet_readings: list[tuple[float, float]] = []
        self._ready: float | None = None

    def observe(self, at: float, cpu_seconds: float) -> float | None:
        if self._ready is not None or at <= self._last_at:
            return self._ready
        cpu_seconds = max(cpu_seconds, self._last_cpu)
        step = at - self._last_at
        used = cpu_seconds - self._last_cpu
        rate = used / step
        if self._first and used > 0:
            self._mark_busy(min(at, self._last_at + used), cpu_seconds)
            self._previous_busy_rate = rate
        elif used > max(self._threshold * step, self._resolution) + _EPSILON:
            speed = max(self._previous_busy_rate or 1.0, rate)
            self._mark_busy(min(at, self._last_at + used / speed), cpu_seconds)
            self._previous_busy_rate = rate
        else:
            self._quiet_readings.append((at, cpu_seconds))
            self._previous_busy_rate = None
        self._first = False
        self._last_at, self._last_cpu = at, cpu_seconds
        self._drop_trickle(at, cpu_seconds)
        if at - self._quiet_since >= self._settle_for:
            self._ready = self._quiet_since
        return self._ready

    def _mark_busy(self, busy_until: float, cpu_seconds: float) -> None:
        self._quiet_since, self._quiet_cpu = busy_until, cpu_seconds
        self._quiet_readings.clear()

    def _drop_trickle(self, at: float, cpu_seconds: float) -> None:
        """Steps each too small to count as busy can add up; start the window after them."""
        while self._quiet_readings and cpu_seconds - self._quiet_cpu > (
            self._threshold * (at - self._quiet_since) + self._resolution + _EPSILON
        ):
            self._quiet_since, self._quiet_cpu = self._quiet_readings.pop(0)


class LibrariesSettled:
    """Ready when the main process maps no new shared object for ``settle_for`` seconds.

    Fed the number of distinct shared objects mapped; the answer is the middle of the step in
    which the count last grew (a library unloaded and loaded again is not growth).
    """

    name = "libraries_settled"

    def __init__(self, started: float, *, settle_for: float):
        self._settle_for = settle_for
        self._last_at = started
        self._most = 0
        self._last_growth = started
        self._ready: float | None = None

    def observe(self, at: float, shared_objects: int) -> float | None:
        if self._ready is not None or at <= self._last_at:
            return self._ready
        if shared_objects > self._most:
            self._most = shared_objects
            self._last_growth = _midpoint(self._last_at, at)
        self._last_at = at
        if at - self._last_growth >= self._settle_for:
            self._ready = self._last_growth
        return self._ready


class PortListening:
    """Ready when the configured TCP port is in LISTEN state: the middle of the first step
    that sees it (the port opened after the reading before)."""

    name = "port"

    def __init__(self, started: float):
        self._last_at = started
        self._ready: float | None = None

    def observe(self, at: float, listening: bool) -> float | None:
        if self._ready is None and at > self._last_at:
            if listening:
                self._ready = _midpoint(self._last_at, at)
            self._last_at = at
        return self._ready


class LogLineSeen:
    """Ready when the ready line appears in the app's log.

    ``written_at`` is the log file's modification time (converted to the watcher's clock)
    when the line was read: the line was written after the previous reading and no later than
    the last write, so it is clamped to the step; without it, the middle of the step.
    """

    name = "log_line"

    def __init__(self, started: float):
        self._last_at = started
        self._ready: float | None = None

    def observe(self, at: float, seen: bool, written_at: float | None = None) -> float | None:
        if self._ready is None and at > self._last_at:
            if seen:
                guess = _midpoint(self._last_at, at) if written_at is None else written_at
                self._ready = min(max(guess, self._last_at), at)
            self._last_at = at
        return self._ready


class ProcessStarted:
    """Ready as soon as the process exists (duration 0): counts launches of apps whose
    readiness cannot be seen."""

    name = "process_start"

    def __init__(self, started: float):
        self._started = started

    def observe(self, at: float) -> float | None:
        return self._started


def classify_start(major_faults: int | None, *, complete: bool) -> StartKind:
    """Cold or warm from the tree's major page faults during start-up.

    ``complete`` says the faults cover the whole start-up (it became ready or timed out while
    watched); a partial count can prove a cold start but not a warm one.

    >>> classify_start(420, complete=True), classify_start(0, complete=True)
    ('cold', 'warm')
    """
    if major_faults is None:
        return "unknown"
    if major_faults >= COLD_MIN_MAJOR_FAULTS:
        return "cold"
    if complete and major_faults <= WARM_MAX_MAJOR_FAULTS:
        return "warm"
    return "unknown"
