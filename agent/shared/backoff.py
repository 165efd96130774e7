"""Retry timing: exponential backoff with full jitter, and the HTTP ``Retry-After`` header.

Pure: no clock and no global random state; the caller passes ``now`` and a ``random.Random``.
Full jitter (a uniform draw between 0 and the exponential ceiling) spreads a fleet of agents
that all lost the advisor at the same moment, so they do not come back as one thundering herd.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

# 2**64 times any sane base is far beyond any cap; bounding the exponent avoids OverflowError.
_MAX_EXPONENT = 64
_DELTA_SECONDS = re.compile(r"\s*(-?\d{1,12}(?:\.\d+)?)\s*")


def backoff_ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The exponential ceiling ``min(cap, base * 2 ** (attempt - 1))``; ``attempt`` counts from 1.

    >>> [backoff_ceiling(n, base=2.0, cap=60.0) for n in (1, 2, 3, 6, 7)]
    [2.0, 4.0, 8.0, 60.0, 60.0]
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return min(cap, base * 2.0**exponent)


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = first retry), with full jitter.

    A uniform draw in ``[0, backoff_ceiling(attempt)]``: the ceiling doubles with each failure
    up to ``cap``; the jitter keeps many agents from retrying in lockstep.
    """
    return rng.uniform(0.0, backoff_ceiling(attempt, base=base, cap=cap))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value: delta-seconds or an HTTP-date.

    A date in the past or a negative number gives 0; anything unreadable gives None, so the
    caller falls back to its own backoff.

    >>> parse_retry_after("120", now=0.0)
    120.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:02:00 GMT", now=60.0)
    60.0
    >>> parse_retry_after("soon", now=0.0) is None
    True
    """
    if value is None:
        return None
    match = _DELTA_SECONDS.fullmatch(value)
    if match:
        return max(0.0, float(match[1]))
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    delay = when.timestamp() - now
    if not math.isfinite(delay):
        return None
    return max(0.0, delay)
