"""argparse value types shared by the commands: a bad value is refused with one line saying
what was expected (argparse adds the option's name and exits with status 2)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable

from agent.shared.config_values import duration


def int_at_least(least: int) -> Callable[[str], int]:
    """A whole number no smaller than ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
"""A whole number, 1 or more."""

non_negative_int = int_at_least(0)
"""A whole number, 0 or more."""


def positive_float(text: str) -> float:
    """A number above 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A number, 0 or more."""
    value = _float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text!r}")
    return value


def duration_seconds(text: str) -> float:
    """A duration as the config files write it (``90s``, ``15m``, ``7d``), in seconds."""
    try:
        return duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def date(text: str) -> dt.date:
    """A day, ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def end_of_day_or_instant(text: str) -> float:
    """A date (the end of that UTC day) or an ISO date and time (UTC unless it says), as a
    Unix time: what ``analyse --at`` replays up to."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
        ) from None
    return _utc(when)


def start_of_day_or_instant(text: str) -> float:
    """A date (its midnight UTC) or an ISO date and time (UTC unless it says), as a Unix
    time: where ``simulate --start`` begins."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2025-11-03 or 2025-11-03T06:00, got {text!r}"
        ) from None
    return _utc(when)


def _utc(when: dt.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
