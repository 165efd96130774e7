""":class:`~advisor.store.recommendations.Recommendations` on SQL (SQLite and PostgreSQL).

Every write reads the rows it changes locked, decides with advisor.store.recommendation_rules
and writes the change and its audit entries in the same transaction. On SQLite a writer takes
the write lock first (IMMEDIATE), which serialises everything. On PostgreSQL a run holds an
advisory lock, so runs (from several advisors) follow each other and never race to insert one
new key, and reads every stored recommendation ``FOR UPDATE`` (in key order); a decision or a
loop step locks its one row. A run and a decision on one key therefore follow each other,
each reading what the other committed: neither is lost.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from advisor.errors import InvalidRecommendationInput, UnknownRecommendation
from advisor.store import audit
from advisor.store.audit import recommendation_target
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.fields import finite
from advisor.store.models import RecommendationDepartmentRow, RecommendationRow, table_of
from advisor.store.recommendation_rules import (
    Change,
    checked_decision,
    checked_json,
    checked_proposals,
    checked_reason_text,
    next_state,
    plan_run,
)
from advisor.store.recommendations import (
    ADVISOR,
    COUNTED_STATES,
    STATES,
    DepartmentTotal,
    Proposal,
    ProposeSummary,
    RecommendationFilter,
    RecommendationState,
    StoredRecommendation,
    Verdict,
)

RECOMMENDATIONS = table_of(RecommendationRow)
DEPARTMENTS = table_of(RecommendationDepartmentRow)

_EVERY = RecommendationFilter()
_RUN_LOCK = 1179862579
"""PostgreSQL advisory lock (first key; the second is 0) a run holds while it proposes."""

_FIGURES = (
    "kind",
    "category",
    "app",
    "target",
    "title",
    "departments",
    "hosts",
    "finding_keys",
    "score",
    "net_benefit_per_year",
    "currency",
    "document",
)
"""What a run rewrites of a stored recommendation: everything a Proposal holds but the key."""

_RUN_UPDATE = (
    RECOMMENDATIONS.update()
    .where(RECOMMENDATIONS.c.key == sa.bindparam("k_key"))
    .values(
        **{
            name: sa.bindparam(f"new_{name}")
            for name in (
                *_FIGURES,
                "state",
                "state_reason",
                "deferred_until",
                "updated_at",
                "last_proposed_at",
            )
        }
    )
)
"""Rewrites a key proposed again whose figures or state change."""
_SEEN_UPDATE = (
    RECOMMENDATIONS.update()
    .where(RECOMMENDATIONS.c.key == sa.bindparam("k_key"))
    .values(last_proposed_at=sa.bindparam("new_now"))
)
"""Marks a key proposed again, as it was, as proposed by this run."""
_STATE_UPDATE = (
    RECOMMENDATIONS.update()
    .where(RECOMMENDATIONS.c.key == sa.bindparam("k_key"))
    .values(
        state=sa.bindparam("new_state"),
        state_reason=sa.bindparam("new_state_reason"),
        deferred_until=None,
        updated_at=sa.bindparam("new_updated_at"),
    )
)
"""Changes the state of a key the run does not propose (obsolete)."""


class SqlRecommendations:
    """:class:`~advisor.store.recommendations.Recommendations` on the ``recommendations``,
    ``recommendation_departments`` and ``audit_log`` tables of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    def propose(self, proposals: Sequence[Proposal], *, now: float) -> ProposeSummary:
        rows = checked_proposals(proposals)
        at = finite(now, field="now", error=InvalidRecommendationInput)
        with self._writer.begin() as conn:
            return propose_in(conn, rows, at)

    def decide(
        self,
        key: str,
        *,
        verdict: Verdict,
        actor: str,
        reason: str | None = None,
        until: float | None = None,
        now: float,
    ) -> StoredRecommendation:
        decision = checked_decision(
            verdict=verdict, actor=actor, reason=reason, until=until, now=now
        )
        with self._writer.begin() as conn:
            row = locked(conn, key)
            state = next_state(key, row.state, decision.verdict)
            detail: dict[str, Any] = {"reason": decision.reason}
            if decision.until is not None:
                detail["until"] = decision.until
            return _step(
                conn,
                row,
                state,
                actor=decision.actor,
                now=decision.now,
                values={
                    "state_reason": decision.reason,
                    "deferred_until": decision.until,
                    "decided_by": decision.actor,
                    "decided_at": decision.now,
                },
                detail=detail,
            )

    def mark_rolled_out(
        self, key: str, *, now: float, detail: dict[str, Any] | None = None
    ) -> StoredRecommendation:
        at = finite(now, field="now", error=InvalidRecommendationInput)
        rollout = checked_json({} if detail is None else detail, field="detail")
        return self._advisor_step(
            key,
            "roll out",
            now=at,
            values={"state_reason": None, "rolled_out_at": at},
            detail={"rollout": rollout},
        )

    def mark_verified(
        self, key: str, *, now: float, realised: dict[str, Any]
    ) -> StoredRecommendation:
        at = finite(now, field="now", error=InvalidRecommendationInput)
        measured = checked_json(realised, field="realised")
        return self._advisor_step(
            key,
            "verify",
            now=at,
            values={"state_reason": None, "verified_at": at, "realised": measured},
            detail={"realised": measured},
        )

    def reopen(
        self, key: str, *, now: float, reason: str, realised: dict[str, Any]
    ) -> StoredRecommendation:
        at = finite(now, field="now", error=InvalidRecommendationInput)
        why = checked_reason_text(reason)
        if why is None:
            raise InvalidRecommendationInput("reopening needs a reason: what got worse")
        measured = checked_json(realised, field="realised")
        return self._advisor_step(
            key,
            "reopen",
            now=at,
            values={"state_reason": why, "realised": measured},
            detail={"reason": why, "realised": measured},
        )

    def _advisor_step(
        self,
        key: str,
        action: str,
        *,
        now: float,
        values: dict[str, Any],
        detail: dict[str, Any],
    ) -> StoredRecommendation:
        """One of the steps the advisor takes on its own (``action`` as :func:`next_state`
        names it), in one transaction: lock, check the transition, move and audit."""
        with self._writer.begin() as conn:
            row = locked(conn, key)
            state = next_state(key, row.state, action)
            return _step(conn, row, state, actor=ADVISOR, now=now, values=values, detail=detail)

    def get(self, key: str) -> StoredRecommendation | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(RECOMMENDATIONS).where(RECOMMENDATIONS.c.key == key)
            ).first()
        return None if row is None else stored(row)

    def list(
        self, where: RecommendationFilter = _EVERY, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredRecommendation]:
        if limit is not None and limit < 1:
            raise InvalidRecommendationInput(f"limit must be at least 1 (None: all), not {limit}")
        if offset < 0:
            raise InvalidRecommendationInput(f"offset must be 0 or more, not {offset}")
        if where.state is not None:
            _known_states([where.state])
        query = sa.select(RECOMMENDATIONS)
        if where.states is not None:
            _known_states(where.states)
            query = query.where(RECOMMENDATIONS.c.state.in_(list(where.states)))
        for column, wanted in (
            (RECOMMENDATIONS.c.state, where.state),
            (RECOMMENDATIONS.c.category, where.category),
            (RECOMMENDATIONS.c.kind, where.kind),
            (RECOMMENDATIONS.c.app, where.app),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        if where.department is not None:
            query = query.where(
                sa.exists().where(
                    DEPARTMENTS.c.key == RECOMMENDATIONS.c.key,
                    DEPARTMENTS.c.department == where.department,
                )
            )
        # Score, then key: a total order (keys are unique), so pages neither skip nor repeat.
        query = query.order_by(RECOMMENDATIONS.c.score.desc(), RECOMMENDATIONS.c.key)
        with self._engine.connect() as conn:
            return [stored(row) for row in conn.execute(query.limit(limit).offset(offset))]

    def state_counts(self) -> dict[RecommendationState, int]:
        query = sa.select(RECOMMENDATIONS.c.state, sa.func.count()).group_by(
            RECOMMENDATIONS.c.state
        )
        with self._engine.connect() as conn:
            found = {str(state): int(n) for state, n in conn.execute(query)}
        return {state: found.get(state, 0) for state in STATES}

    def department_totals(
        self, *, states: Sequence[RecommendationState] = COUNTED_STATES
    ) -> builtins.list[DepartmentTotal]:
        _known_states(states)
        query = (
            sa.select(
                DEPARTMENTS.c.department,
                RECOMMENDATIONS.c.currency,
                RECOMMENDATIONS.c.net_benefit_per_year,
            )
            .join(RECOMMENDATIONS, RECOMMENDATIONS.c.key == DEPARTMENTS.c.key)
            .where(RECOMMENDATIONS.c.state.in_(list(states)))
        )
        # Summed here, exactly: SQLite has no decimal type to sum the amounts in.
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        with self._engine.connect() as conn:
            for department, currency, amount in conn.execute(query):
                counted = counts[department, currency]
                counted[0] += 1
                if amount is None:
                    counted[1] += 1
                else:
                    sums[department, currency] += Decimal(amount)
        return [
            DepartmentTotal(department, currency, count, sums[department, currency], unpriced)
            for (department, currency), (count, unpriced) in sorted(counts.items())
        ]


def _known_states(states: Sequence[str]) -> None:
    unknown = [state for state in states if state not in STATES]
    if isinstance(states, str) or unknown:
        raise InvalidRecommendationInput(
            f"states must be among {', '.join(STATES)}, not {unknown or states!r}"
        )


def propose_in(conn: sa.Connection, rows: list[dict[str, Any]], now: float) -> ProposeSummary:
    """Apply one run's checked figure ``rows`` as of ``now`` in the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_RUN_LOCK, 0)))
    before = {
        row.key: row
        for row in conn.execute(
            sa.select(RECOMMENDATIONS).order_by(RECOMMENDATIONS.c.key).with_for_update()
        )
    }
    changes = plan_run(
        {key: (row.state, row.deferred_until) for key, row in before.items()},
        (row["key"] for row in rows),
        now,
    )
    new = [row for row in rows if row["key"] not in before]
    again = [row for row in rows if row["key"] in before]
    changed = {row["key"] for row in again if _figures_changed(row, before[row["key"]])}
    _insert(conn, new, now)
    rewritten = [row for row in again if row["key"] in changed or row["key"] in changes]
    if rewritten:
        conn.execute(
            _RUN_UPDATE,
            [_proposed_again(row, before[row["key"]], changes, now) for row in rewritten],
        )
    same = [row["key"] for row in again if row["key"] not in changed and row["key"] not in changes]
    if same:
        conn.execute(_SEEN_UPDATE, [{"k_key": key, "new_now": now} for key in same])
    _replace_departments(conn, [row for row in again if row["key"] in changed], before)
    proposed = {row["key"] for row in rows}
    gone = [key for key in changes if key not in proposed]
    if gone:
        conn.execute(
            _STATE_UPDATE,
            [
                {
                    "k_key": key,
                    "new_state": changes[key].state,
                    "new_state_reason": changes[key].reason,
                    "new_updated_at": now,
                }
                for key in gone
            ],
        )
    audit.append(
        conn,
        [_entry(row["key"], None, "proposed", now, {"reason": None}) for row in new]
        + [
            _entry(key, before[key].state, change.state, now, {"reason": change.reason})
            for key, change in changes.items()
        ],
    )
    came_from = {key: before[key].state for key in changes}
    return ProposeSummary(
        new=len(new),
        updated=len(again),
        changed=len(changed),
        obsoleted=sum(1 for change in changes.values() if change.state == "obsolete"),
        returned_from_deferral=sum(
            1
            for key, change in changes.items()
            if came_from[key] == "deferred" and change.state == "proposed"
        ),
        reproposed=sum(1 for state in came_from.values() if state == "obsolete"),
    )


def _insert(conn: sa.Connection, rows: list[dict[str, Any]], now: float) -> None:
    if not rows:
        return
    conn.execute(
        RECOMMENDATIONS.insert(),
        [
            {
                **row,
                "state": "proposed",
                "state_reason": None,
                "created_at": now,
                "updated_at": now,
                "last_proposed_at": now,
            }
            for row in rows
        ],
    )
    _insert_departments(conn, rows)


def _insert_departments(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    pairs = [
        {"key": row["key"], "department": department}
        for row in rows
        for department in row["departments"]
    ]
    if pairs:
        conn.execute(DEPARTMENTS.insert(), pairs)


def _replace_departments(
    conn: sa.Connection, rows: list[dict[str, Any]], before: dict[str, sa.Row[Any]]
) -> None:
    moved = [row for row in rows if row["departments"] != list(before[row["key"]].departments)]
    if not moved:
        return
    conn.execute(DEPARTMENTS.delete().where(DEPARTMENTS.c.key.in_([row["key"] for row in moved])))
    _insert_departments(conn, moved)


def _figures_changed(row: dict[str, Any], stored_row: sa.Row[Any]) -> bool:
    return any(row[name] != getattr(stored_row, name) for name in _FIGURES)


def _proposed_again(
    row: dict[str, Any], stored_row: sa.Row[Any], changes: dict[str, Change], now: float
) -> dict[str, Any]:
    """The parameters of :data:`_RUN_UPDATE` for a key proposed again whose figures or state
    change."""
    change = changes.get(row["key"])
    return {
        "k_key": row["key"],
        **{f"new_{name}": row[name] for name in _FIGURES},
        "new_state": stored_row.state if change is None else change.state,
        "new_state_reason": stored_row.state_reason if change is None else change.reason,
        "new_deferred_until": stored_row.deferred_until if change is None else None,
        "new_updated_at": now,
        "new_last_proposed_at": now,
    }


def _entry(
    key: str,
    before: str | None,
    after: str,
    now: float,
    detail: dict[str, Any],
    actor: str = ADVISOR,
) -> dict[str, Any]:
    """The audit entry of ``key`` going from ``before`` (None: new) to ``after``."""
    return {
        "at": now,
        "actor": actor,
        "action": f"recommendation.{after}",
        "target": recommendation_target(key),
        "detail": {"from": before, "to": after, **detail},
    }


def locked(conn: sa.Connection, key: str) -> sa.Row[Any]:
    """The row of ``key``, locked until the transaction ends; UnknownRecommendation if none."""
    row = conn.execute(
        sa.select(RECOMMENDATIONS).where(RECOMMENDATIONS.c.key == key).with_for_update()
    ).first()
    if row is None:
        raise UnknownRecommendation(key)
    return row


def _step(
    conn: sa.Connection,
    row: sa.Row[Any],
    state: RecommendationState,
    *,
    actor: str,
    now: float,
    values: dict[str, Any],
    detail: dict[str, Any],
) -> StoredRecommendation:
    """Move the locked ``row`` to ``state`` with ``values``, and audit it."""
    if state != "deferred":
        values = {**values, "deferred_until": None}
    conn.execute(
        RECOMMENDATIONS.update()
        .where(RECOMMENDATIONS.c.key == row.key)
        .values(state=state, updated_at=now, **values)
    )
    audit.append(conn, [_entry(row.key, row.state, state, now, detail, actor)])
    after = conn.execute(sa.select(RECOMMENDATIONS).where(RECOMMENDATIONS.c.key == row.key)).one()
    return stored(after)


def stored(row: sa.Row[Any]) -> StoredRecommendation:
    """A row of ``recommendations`` as the value the interface returns."""
    money = row.net_benefit_per_year
    return StoredRecommendation(
        key=row.key,
        kind=row.kind,
        category=row.category,
        app=row.app,
        target=row.target,
        title=row.title,
        departments=tuple(row.departments),
        hosts=tuple(row.hosts),
        finding_keys=tuple(row.finding_keys),
        score=row.score,
        net_benefit_per_year=None if money is None else Decimal(money),
        currency=row.currency,
        document=dict(row.document),
        state=row.state,
        state_reason=row.state_reason,
        deferred_until=row.deferred_until,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        rolled_out_at=row.rolled_out_at,
        verified_at=row.verified_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_proposed_at=row.last_proposed_at,
        realised=None if row.realised is None else dict(row.realised),
    )
