"""A stored finding's status: ``open`` while analysis runs find it, ``resolved`` once one no
longer does (advisor.store.findings says when each changes).

A module of its own, importing nothing, so the command line can offer the statuses in
``--help`` without loading the store.
"""

from __future__ import annotations

from typing import Final, Literal

Status = Literal["open", "resolved"]
OPEN: Final = "open"
RESOLVED: Final = "resolved"
STATUSES: Final[tuple[Status, ...]] = (OPEN, RESOLVED)
