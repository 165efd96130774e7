"""Calendar quarters, as a budget is planned for one (``2026Q3``). Light: the command line
parses ``--quarter`` with it before anything heavy is imported."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["Quarter"]

_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    """A calendar quarter in UTC.

    >>> q = Quarter.parse("2026Q3")
    >>> str(q), q.first_day.isoformat(), q.end_day.isoformat(), str(Quarter.parse("2026-q4"))
    ('2026Q3', '2026-07-01', '2026-10-01', '2026Q4')
    >>> str(Quarter.of(dt.datetime(2026, 12, 31, 23, tzinfo=dt.UTC).timestamp()))
    '2026Q4'
    """

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``YYYYQn`` (or ``YYYY-Qn``, any case); ValueError naming the expected form."""
        match = _QUARTER.fullmatch(text.strip())
        if match is None or not 1 <= int(match[1]) <= 9998:
            raise ValueError(f"{text!r} is not a quarter: write it as YYYYQn, e.g. 2026Q3")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, timestamp: float) -> Quarter:
        """The quarter the Unix time ``timestamp`` falls in."""
        day = dt.datetime.fromtimestamp(timestamp, dt.UTC)
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end_day(self) -> dt.date:
        """The day after the quarter's last."""
        if self.number == 4:
            return dt.date(self.year + 1, 1, 1)
        return dt.date(self.year, 3 * self.number + 1, 1)

    @property
    def end(self) -> float:
        """When the quarter ends: the Unix time of :attr:`end_day`'s midnight UTC."""
        return dt.datetime.combine(self.end_day, dt.time(), dt.UTC).timestamp()

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"
