"""The audit log: who did what to what, when and why. Append-only.

Every decision people take on a recommendation, and every step the advisor takes on its own
in a recommendation's lifecycle, writes one entry in the transaction of the change
(advisor.store.recommendations: actor ``advisor`` for the automatic ones); other parts of the
advisor :meth:`AuditLog.record` theirs. Nothing updates or deletes an entry, and the database
refuses to (triggers of migration 0010); retention leaves the log alone.

A recommendation's entries have the target :func:`recommendation_target` of its key:

>>> recommendation_target("upgrade|libreoffice|7.6.4|finance")
'recommendation:upgrade|libreoffice|7.6.4|finance'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.fields import finite, json_object, one_line
from advisor.store.models import AuditEntryRow, table_of

AUDIT = table_of(AuditEntryRow)

MAX_ACTOR = 200
MAX_ACTION = 100
MAX_TARGET = 1000
MAX_DETAIL_BYTES = 1 << 20
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def recommendation_target(key: str) -> str:
    """The audit log's target for the recommendation ``key``."""
    return f"recommendation:{key}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action of a person (or of the advisor itself) at ``at``.

    Example: ``AuditEntry(17, 1787400000.0, "alice", "recommendation.rejected",
    "recommendation:ram|hr-ws-12|16GiB", {"from": "proposed", "to": "rejected", "reason":
    "machine retires in March"})``.
    """

    entry_id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


class AuditLog(Protocol):
    """The audit log (the module docstring).

    Contract: times are Unix seconds. :meth:`record` appends one entry in its own transaction
    and returns it; entries get increasing ids. It refuses (ValueError naming the field,
    nothing written) an ``actor`` that is empty, longer than 200 characters or not one line,
    an ``action`` that is not dotted lower-case words (``recommendation.approved``, at most
    100 characters), a ``target`` empty, over 1000 characters or not one line, a ``detail``
    that is not a JSON object of finite numbers under 1 MiB, a ``now`` that is not a finite
    number. Actor and target are stored stripped. Nothing is ever updated or deleted.
    """

    def record(
        self, *, actor: str, action: str, target: str, detail: dict[str, Any], now: float
    ) -> AuditEntry:
        """Append one entry: ``actor`` did ``action`` to ``target`` at ``now``; ``detail``
        says how and why."""
        ...

    def entries(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        target: str | None = None,
        before: int | None = None,
    ) -> list[AuditEntry]:
        """At most ``limit`` entries (at least 1, else ValueError), newest first (by id: the
        order they were appended in), of ``actor`` and of ``target`` when given, with an id
        under ``before`` when given (the next page: the last id of this one)."""
        ...


def checked_entry(
    *, actor: object, action: object, target: object, detail: object, now: object
) -> dict[str, Any]:
    """The row of one entry, or ValueError naming what cannot be stored (see
    :class:`AuditLog`)."""
    checked_action = one_line(action, field="action", limit=MAX_ACTION)
    if not _ACTION.fullmatch(checked_action):
        raise ValueError(
            f"action must be dotted lower-case words like recommendation.approved, "
            f"not {checked_action!r}"
        )
    return {
        "at": finite(now, field="now"),
        "actor": one_line(actor, field="actor", limit=MAX_ACTOR),
        "action": checked_action,
        "target": one_line(target, field="target", limit=MAX_TARGET),
        "detail": json_object(detail, field="detail", limit_bytes=MAX_DETAIL_BYTES),
    }


def append(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append the entries ``rows`` (from :func:`checked_entry`) in the caller's transaction."""
    if rows:
        conn.execute(AUDIT.insert(), list(rows))


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        entry_id=int(row.id),
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        detail=dict(row.detail),
    )


class SqlAuditLog:
    """:class:`AuditLog` on the ``audit_log`` table of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    def record(
        self, *, actor: str, action: str, target: str, detail: dict[str, Any], now: float
    ) -> AuditEntry:
        row = checked_entry(actor=actor, action=action, target=target, detail=detail, now=now)
        with self._writer.begin() as conn:
            entry_id = conn.execute(AUDIT.insert().values(**row).returning(AUDIT.c.id))
            return AuditEntry(entry_id=int(entry_id.scalar_one()), **row)

    def entries(
        self,
        *,
        limit: int = 100,
        actor: str | None = None,
        target: str | None = None,
        before: int | None = None,
    ) -> list[AuditEntry]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        query = sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(AUDIT.c.actor == actor)
        if target is not None:
            query = query.where(AUDIT.c.target == target)
        if before is not None:
            query = query.where(AUDIT.c.id < before)
        with self._engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]
