"""Exceptions raised by the vendor catalog.

FleetsightAdvisorError
└── CatalogError            a catalog input cannot be used; ``source``, ``line`` and ``key``
    │                       say where, and the message names them
    ├── InvalidVersion      a version string is not valid in its ecosystem's scheme
    └── CostsError          config/costs.toml is missing a key or has a bad value

Row-level problems in an organisation catalog file are not raised: they are collected as
:class:`RowProblem` values next to the good rows (see :mod:`advisor.catalog.importers.orgfile`).
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import FleetsightAdvisorError

__all__ = ["CatalogError", "CostsError", "InvalidVersion", "RowProblem"]


def _where(source: str | None, line: int | None, key: str | None) -> str:
    parts = [part for part in (source, f"line {line}" if line else None) if part]
    place = ", ".join(parts)
    if key:
        place = f"{place}: {key}" if place else key
    return place


class CatalogError(FleetsightAdvisorError):
    """A catalog input that cannot be used, located by file, line and key where known."""

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ):
        place = _where(source, line, key)
        super().__init__(f"{place}: {reason}" if place else reason)
        self.reason = reason
        self.source = source
        self.line = line
        self.key = key


class InvalidVersion(CatalogError):  # noqa: N818 - reads as the verdict it is
    """A version string that its scheme's rules reject (``scheme`` and ``version`` kept)."""

    def __init__(self, scheme: str, version: str, *, source: str | None = None):
        super().__init__(f"{version!r} is not a valid {scheme} version", source=source)
        self.scheme = scheme
        self.version = version


class CostsError(CatalogError):
    """The cost settings file is unusable; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One rejected row of an input file: where it is and why it was rejected.

    Example: ``RowProblem("catalog.csv", 7, "price_amount: 'ten' is not a number")``.
    """

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}, line {self.line}: {self.reason}"
