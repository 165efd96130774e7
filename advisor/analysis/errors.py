"""Exceptions raised by the analysis.

FleetsightAdvisorError (advisor.errors)
└── SeriesFormatError    a series file cannot be read as ``t,value`` rows; names the file
                         (``source``) and the 1-based ``line`` (None for the whole file)
"""

from __future__ import annotations

from advisor.errors import FleetsightAdvisorError

__all__ = ["SeriesFormatError"]


class SeriesFormatError(FleetsightAdvisorError):
    """A series file that is not ``t,value`` rows in time order."""

    def __init__(self, source: str, line: int | None, message: str):
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
