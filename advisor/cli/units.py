"""Numbers and times as a person reads them in a table: ISO 8601 UTC instants, rounded
durations, sizes and percentages. JSON and CSV carry the exact values instead (times as ISO
8601 too, so every format agrees on what a time looks like)."""

from __future__ import annotations

import datetime as dt
import math

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def iso_utc(timestamp: float | None, *, exact: bool = False) -> str | None:
    """A Unix time as ISO 8601 UTC with a ``Z``; None for None or NaN. ``exact`` keeps the
    fraction of a second (for JSON and CSV), otherwise whole seconds.

    >>> iso_utc(1796626080.0)
    '2026-12-07T06:48:00Z'
    >>> iso_utc(1796626080.25, exact=True)
    '2026-12-07T06:48:00.250000Z'
    """
    if timestamp is None or math.isnan(timestamp):
        return None
    when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    text = when.isoformat(timespec="auto" if exact else "seconds")
    return text.removesuffix("+00:00") + "Z"


def when(timestamp: float | None, missing: str = "-") -> str:
    """:func:`iso_utc` to the second, or ``missing``."""
    return iso_utc(timestamp) or missing


def duration(seconds: float | None) -> str:
    """A duration rounded to what matters at its size.

    >>> [duration(s) for s in (0.0123, 2.34, 42.0, 95.0, 3900.0, 93600.0)]
    ['12 ms', '2.3 s', '42 s', '1 min 35 s', '1 h 5 min', '1 d 2 h']
    """
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = round(seconds)
    for big, big_name, small, small_name in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "min"),
        (60, "min", 1, "s"),
    ):
        if whole >= big:
            major, rest = divmod(whole, big)
            minor = rest // small
            return f"{major} {big_name}" + (f" {minor} {small_name}" if minor else "")
    return f"{whole} s"  # pragma: no cover - 59.5 s rounds to 60 and is caught above


def size(n_bytes: float | None) -> str:
    """A size in binary units, one decimal from KiB up.

    >>> [size(b) for b in (512, 1536, 3.3 * 1024**3)]
    ['512 B', '1.5 KiB', '3.3 GiB']
    """
    if n_bytes is None or math.isnan(n_bytes):
        return "-"
    value = float(n_bytes)
    for unit in _SIZE_UNITS:
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def percent(share: float | None, *, signed: bool = False) -> str:
    """A share (0.25 is 25 %) as a percentage: one decimal under 10 %, none above.

    >>> [percent(x) for x in (0.25, 0.034, 0.0)], percent(-0.4, signed=True)
    (['25%', '3.4%', '0%'], '-40%')
    """
    if share is None or math.isnan(share):
        return "?"
    value = share * 100
    sign = "+" if signed else ""
    if value == 0:
        return "0%"
    digits = 1 if abs(value) < 10 else 0
    return f"{value:{sign}.{digits}f}%"
