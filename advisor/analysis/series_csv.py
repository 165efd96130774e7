"""One series from CSV text: a ``t,value`` header, then one row per point in time order.

``t`` is seconds (any epoch) or an ISO 8601 time (without a zone it is taken as UTC);
``value`` a number, or empty (also ``nan``/``NA``) for a missing point. Blank lines are
skipped. The text is passed in as bytes, so this module does no I/O; every error names the
source and the line (:class:`~advisor.analysis.errors.SeriesFormatError`).

    t,value
    2025-03-01T08:12:00,2.31
    2025-03-01T09:40:00,
    2025-03-01T10:02:00,2.05
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from advisor.analysis.errors import SeriesFormatError

__all__ = ["HEADER", "Series", "parse_series_csv"]

HEADER = ("t", "value")
MISSING = frozenset({"", "nan", "na", "null", "none"})


@dataclass(frozen=True, slots=True)
class Series:
    """Times ``t`` (seconds since the epoch) and ``values`` (NaN where missing)."""

    t: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


def parse_series_csv(data: bytes, source: str) -> Series:
    """Parse CSV ``data``; ``source`` names it in errors (a path, or ``<stdin>``).

    >>> parse_series_csv(b"t,value\\n1,2.5\\n2,\\n", "x.csv").values.tolist()
    [2.5, nan]
    """
    times: list[float] = []
    values: list[float] = []
    header_seen = False
    previous: tuple[float, int] | None = None
    for number, raw in enumerate(data.splitlines(), start=1):
        line = _decode(raw, source, number).strip()
        if number == 1:
            line = line.lstrip("\ufeff")  # spreadsheets write a byte-order mark
        if not line:
            continue
        fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
        if not header_seen:
            _check_header(fields, source, number)
            header_seen = True
            continue
        if len(fields) != len(HEADER):
            raise SeriesFormatError(
                source, number, f"expected 2 columns (t,value), found {len(fields)}: {line!r}"
            )
        t = _time(fields[0], source, number)
        if previous is not None and t < previous[0]:
            raise SeriesFormatError(
                source,
                number,
                f"t {fields[0]!r} is earlier than the t of line {previous[1]}; "
                "rows must be in time order",
            )
        previous = (t, number)
        times.append(t)
        values.append(_value(fields[1], source, number))
    if not header_seen:
        raise SeriesFormatError(
            source, None, "the file is empty; expected a header `t,value` and one row per point"
        )
    return Series(np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64))


def _decode(raw: bytes, source: str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SeriesFormatError(
            source, number, f"not UTF-8 text (byte {exc.start + 1} of the line)"
        ) from None


def _check_header(fields: list[str], source: str, number: int) -> None:
    if tuple(f.lower() for f in fields) == HEADER:
        return
    shown = ",".join(fields)
    if fields and _is_number(fields[0]):
        raise SeriesFormatError(
            source, number, f"missing header: expected `t,value` before the data, found {shown!r}"
        )
    raise SeriesFormatError(source, number, f"expected the header `t,value`, found {shown!r}")


def _time(text: str, source: str, number: int) -> float:
    if not text:
        raise SeriesFormatError(source, number, "t is empty; every row needs a time")
    if _is_number(text):
        t = float(text)
        if math.isfinite(t):
            return t
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    raise SeriesFormatError(
        source, number, f"t {text!r} is neither a number of seconds nor an ISO 8601 time"
    )


def _value(text: str, source: str, number: int) -> float:
    if text.lower() in MISSING:
        return math.nan
    if not _is_number(text):
        raise SeriesFormatError(source, number, f"value {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise SeriesFormatError(source, number, f"value {text!r} is not a finite number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
