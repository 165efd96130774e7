"""Local calendar arithmetic on Unix seconds: weekdays, hours, days. Pure functions."""

from __future__ import annotations

import math
import time

DAY = 86400.0
HOUR = 3600.0


def local_day(t: float, utc_offset_hours: float) -> int:
    """Days since 1970-01-01 on the local calendar."""
    return math.floor((t + utc_offset_hours * HOUR) / DAY)


def weekday(day: int) -> int:
    """Monday 0 ... Sunday 6 of a local day number (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def is_weekend(t: float, utc_offset_hours: float) -> bool:
    """True on local Saturdays and Sundays."""
    return weekday(local_day(t, utc_offset_hours)) >= 5


def local_hour(t: float, utc_offset_hours: float) -> float:
    """Hours since local midnight, 0 <= h < 24."""
    return ((t + utc_offset_hours * HOUR) % DAY) / HOUR


def at_local(day: int, hour: float, utc_offset_hours: float) -> float:
    """Unix seconds of ``hour`` on local ``day``."""
    return day * DAY + (hour - utc_offset_hours) * HOUR


def iso_day(t: float) -> str:
    """``YYYY-MM-DD`` of a Unix time read as UTC (a host clock already includes its offset)."""
    return time.strftime("%Y-%m-%d", time.gmtime(t))
