"""The catalog as stored and read back, and what an import did: plain values.

The store (advisor.store.catalog) returns these; the CLI and the API show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.catalog.errors import RowProblem
from advisor.catalog.matching import Matcher
from advisor.catalog.model import ProductRecord

ImportKind = str
"""``endoflife``, ``org``, ``package-manager`` or ``costs``."""


@dataclass(frozen=True, slots=True)
class Change:
    """One row an import added, changed or removed. ``detail`` maps each changed field to
    ``[old, new]`` (as text); it is empty for added and removed rows.

    Example: ``Change("cycle", "postgresql/15", "changed", {"life_ends_on": ["2027-11-11",
    "2027-12-01"]})``.
    """

    entity: str
    key: str
    action: str
    detail: dict[str, list[str | None]] = field(default_factory=dict)

    def __str__(self) -> str:
        fields = "; ".join(f"{name}: {old} -> {new}" for name, (old, new) in self.detail.items())
        return f"{self.action} {self.entity} {self.key}" + (f" ({fields})" if fields else "")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did; ``problems`` are the rejected rows (nothing of them was stored)."""

    import_id: int
    kind: str
    source: str
    imported_at: float
    changes: tuple[Change, ...]
    problems: tuple[RowProblem, ...] = ()

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def summary(self) -> str:
        """``no changes`` or ``3 added, 1 changed, 0 removed``, plus rejected rows if any."""
        counts = [self.count(action) for action in ("added", "changed", "removed")]
        text = (
            "no changes"
            if not any(counts)
            else f"{counts[0]} added, {counts[1]} changed, {counts[2]} removed"
        )
        if self.problems:
            text += f"; {len(self.problems)} rejected"
        return text


@dataclass(frozen=True, slots=True)
class ImportLogEntry:
    """A ``catalog_imports`` row as listed by ``catalog log``."""

    import_id: int
    kind: str
    source: str
    imported_at: float
    summary: str


@dataclass(frozen=True, slots=True)
class Catalog:
    """The whole catalog as read from the database: records by slug, and the aliases."""

    records: dict[str, ProductRecord]
    aliases: dict[str, str]

    def matcher(self) -> Matcher:
        """A :class:`Matcher` over every product and alias."""
        return Matcher([record.product for record in self.records.values()], self.aliases)
