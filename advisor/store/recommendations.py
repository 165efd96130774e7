"""Recommendations: what the advisor proposes to do about a finding or an outdated product.

Only the interface for now (issue 12 prepares it; the next issues implement it with a
migration and a contract suite over SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

RecommendationState = Literal["proposed", "accepted", "rejected", "done", "obsolete"]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One proposal. ``key`` is stable across the runs that propose it again (like a finding's
    key); ``reason_key`` names the finding or catalog row it answers.

    Example: ``Recommendation("upgrade|postgresql|finance", "upgrade", "postgresql",
    "finance", "15.20", "postgresql/15 ends 2027-11-11", "catalog:outdated|...", "proposed",
    1787400000.0, 1787400000.0)``.
    """

    key: str
    action: str
    product: str
    department: str | None
    target: str | None
    summary: str
    reason_key: str
    state: RecommendationState
    created_at: float
    updated_at: float


class Recommendations(Protocol):
    """The advisor's recommendations and their state.

    Contract: :meth:`propose` stores the run's recommendations as of ``now`` in one
    transaction: a new key is ``proposed``; a key proposed again keeps its state and its
    ``created_at``, with ``summary`` and ``target`` updated; a ``proposed`` key the run no
    longer proposes becomes ``obsolete`` (accepted, rejected and done ones stay as people set
    them). :meth:`set_state` is False for an unknown key. :meth:`list` is newest first,
    filtered by ``state`` when given; :meth:`get` is None for an unknown key.
    """

    def propose(self, recommendations: list[Recommendation], *, now: float) -> None: ...

    def set_state(self, key: str, state: RecommendationState, *, now: float) -> bool: ...

    def list(self, *, state: RecommendationState | None = None) -> list[Recommendation]: ...

    def get(self, key: str) -> Recommendation | None: ...
