"""Local calendar arithmetic on Unix seconds: offsets, weekdays, hours, days off. Pure.

A :class:`Calendar` is where the fleet works: its offset from UTC over time (fixed, or a time
zone's daylight-saving rules read once from ``zoneinfo`` for the run's span) and its holidays.
Every local-time question of the simulator (is the machine on, when does the working day
start, which launch is the day's first) goes through one, in both the batch and the columnar
path, scalar or vectorised, so the two agree.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import time
import zoneinfo
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY = 86400.0
HOUR = 3600.0
_EPOCH = dt.date(1970, 1, 1)

FloatArray = npt.NDArray[np.float64]


def weekday(day: int) -> int:
    """Monday 0 ... Sunday 6 of a local day number (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def day_number(date: dt.date) -> int:
    """The day number (days since 1970-01-01) of a calendar date."""
    return (date - _EPOCH).days


def iso_day(t: float) -> str:
    """``YYYY-MM-DD`` of a Unix time read as UTC (a host clock already includes its offset)."""
    return time.strftime("%Y-%m-%d", time.gmtime(t))


@dataclass(frozen=True, slots=True)
class Calendar:
    """A fleet's local time: UTC offset ``offsets[i]`` (seconds) from ``since[i]`` on, and the
    local day numbers that are ``holidays`` (office machines stay off, as at weekends).

    >>> berlin = Calendar.of_zone("Europe/Berlin", 1761350400.0, 1761609600.0)  # 25-28 Oct 2025
    >>> [berlin.offset(t) / HOUR for t in (1761350400.0, 1761609600.0)]
    [2.0, 1.0]
    """

    since: tuple[float, ...] = (-math.inf,)
    offsets: tuple[float, ...] = (0.0,)
    holidays: frozenset[int] = frozenset()

    @staticmethod
    def fixed(utc_offset_hours: float, holidays: frozenset[int] = frozenset()) -> Calendar:
        """A calendar at a constant offset from UTC."""
        return Calendar((-math.inf,), (utc_offset_hours * HOUR,), holidays)

    @staticmethod
    def of_zone(
        name: str, start: float, end: float, holidays: frozenset[int] = frozenset()
    ) -> Calendar:
        """The offsets of time zone ``name`` over ``[start, end]`` (two days' margin each side).

        Offsets are probed at each UTC midnight; a change between two is placed to the second
        by bisection (no zone changes twice in a day). ZoneInfoNotFoundError for a bad name.
        """
        zone = zoneinfo.ZoneInfo(name)

        def offset(t: float) -> float:
            delta = dt.datetime.fromtimestamp(t, zone).utcoffset()
            return delta.total_seconds() if delta is not None else 0.0

        first = math.floor(start / DAY) * DAY - 2 * DAY
        since, offsets = [-math.inf], [offset(first)]
        t = first
        while t < end + 2 * DAY:
            nxt = t + DAY
            after = offset(nxt)
            if after != offsets[-1]:
                lo, hi = t, nxt  # offset(lo) is the old one, offset(hi) the new one
                while hi - lo > 1.0:
                    mid = math.floor((lo + hi) / 2)
                    lo, hi = (mid, hi) if offset(mid) == offsets[-1] else (lo, mid)
                since.append(hi)
                offsets.append(after)
            t = nxt
        return Calendar(tuple(since), tuple(offsets), holidays)

    def with_holidays(self, holidays: frozenset[int]) -> Calendar:
        """The same offsets with ``holidays`` as days off."""
        return Calendar(self.since, self.offsets, holidays)

    def transitions(self) -> list[tuple[float, float, float]]:
        """Each offset change: ``(at, offset before, offset after)`` in seconds."""
        return [
            (self.since[i], self.offsets[i - 1], self.offsets[i]) for i in range(1, len(self.since))
        ]

    # --- scalars -------------------------------------------------------------------------

    def offset(self, t: float) -> float:
        """Seconds east of UTC at true time ``t``."""
        if len(self.offsets) == 1:
            return self.offsets[0]
        return self.offsets[bisect.bisect_right(self.since, t) - 1]

    def day(self, t: float) -> int:
        """Days since 1970-01-01 on the local calendar."""
        return math.floor((t + self.offset(t)) / DAY)

    def hour(self, t: float) -> float:
        """Hours since local midnight, 0 <= h < 24."""
        return ((t + self.offset(t)) % DAY) / HOUR

    def at(self, day: int, hour: float) -> float:
        """Unix seconds of local wall-clock ``hour`` on local ``day`` (in a spring-forward
        gap, the hour after; on a fall-back repeat, the later one)."""
        wall = day * DAY + hour * HOUR
        guess = wall - self.offset(wall - self.offsets[0])
        return wall - self.offset(guess)

    def is_workday(self, day: int) -> bool:
        """Monday to Friday and not a holiday."""
        return weekday(day) < 5 and day not in self.holidays

    def is_day_off(self, t: float) -> bool:
        """True on local weekends and holidays."""
        return not self.is_workday(self.day(t))

    # --- columns -------------------------------------------------------------------------

    def offsets_at(self, t: npt.ArrayLike) -> FloatArray:
        """:meth:`offset` of every time in ``t`` (any shape)."""
        times = np.asarray(t, dtype=np.float64)
        if len(self.offsets) == 1:
            return np.full(times.shape, self.offsets[0])
        index = np.searchsorted(np.asarray(self.since), times, side="right") - 1
        return np.asarray(self.offsets)[index]

    def days(self, t: npt.ArrayLike) -> FloatArray:
        """:meth:`day` of every time in ``t``, as floats."""
        times = np.asarray(t, dtype=np.float64)
        return np.floor((times + self.offsets_at(times)) / DAY)

    def hours(self, t: npt.ArrayLike) -> FloatArray:
        """:meth:`hour` of every time in ``t``."""
        shifted = np.asarray(t, dtype=np.float64) + self.offsets_at(t)
        return (shifted - np.floor(shifted / DAY) * DAY) / HOUR

    def at_many(self, days: npt.ArrayLike, hours: npt.ArrayLike) -> FloatArray:
        """:meth:`at` of days and hours broadcast together."""
        wall = np.asarray(days, dtype=np.float64) * DAY + np.asarray(hours) * HOUR
        guess = wall - self.offsets_at(wall - self.offsets[0])
        result: FloatArray = wall - self.offsets_at(guess)
        return result

    def workdays(self, days: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """:meth:`is_workday` of every day number in ``days``."""
        numbers = np.asarray(days, dtype=np.float64)
        work: npt.NDArray[np.bool_] = (numbers + 3) % 7 < 5
        if self.holidays:
            work &= ~np.isin(numbers, np.array(sorted(self.holidays), dtype=np.float64))
        return work
