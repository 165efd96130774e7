"""Reviews of recommendations by people, and the audit log of what people did.

Only the interface for now (issue 12 prepares it; the next issues implement it with a
migration and a contract suite over SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Verdict = Literal["accept", "reject", "defer"]


@dataclass(frozen=True, slots=True)
class Review:
    """One person's verdict on one recommendation, with their reason."""

    review_id: int
    recommendation_key: str
    user_id: str
    verdict: Verdict
    comment: str | None
    reviewed_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action of a person (or an admin token) on the advisor.

    Example: ``AuditEntry(17, 1787400000.0, "alice", "host.revoke", "host:ws-0042",
    {"reason": "stolen laptop"})``.
    """

    entry_id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class Reviews(Protocol):
    """Reviews and the audit log: append-only history of what people decided and did.

    Contract: :meth:`add_review` stores a review and an audit entry for it in one transaction
    and returns the review with its id; a review of an unknown recommendation raises
    LookupError and stores nothing. Nothing is ever updated or deleted: :meth:`reviews` of a
    recommendation are oldest first; :meth:`audit` is newest first, at most ``limit`` entries,
    of ``actor`` only when given, and :meth:`record` appends one entry with increasing ids.
    """

    def add_review(
        self,
        recommendation_key: str,
        *,
        user_id: str,
        verdict: Verdict,
        comment: str | None,
        now: float,
    ) -> Review: ...

    def reviews(self, recommendation_key: str) -> list[Review]: ...

    def record(
        self, *, actor: str, action: str, target: str, detail: dict[str, Any], now: float
    ) -> AuditEntry: ...

    def audit(self, *, limit: int = 100, actor: str | None = None) -> list[AuditEntry]: ...
