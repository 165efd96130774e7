"""Findings across analysis runs: recorded, updated, resolved, reopened; and read back.

Each analysis run hands its findings to :meth:`Findings.record_run`, which applies them in one
transaction, by key (advisor.analysis.findings.finding_key):

=========================================  ==================================================
the run                                    the stored finding
=========================================  ==================================================
finds a key never seen                     inserted, ``open``, first and last detected now
finds an open key                          updated: effect, cause, hosts, evidence...;
                                           last detected now
finds a resolved key                       reopened: ``open`` again, ``resolved_at`` cleared
does not find an open key                  ``resolved``, ``resolved_at`` = now
=========================================  ==================================================

So "the degradation went away" is "a run no longer finds it". Every run also leaves a row in
``analysis_runs`` with its counts. Runs are serialised by the analysis job's lease; the
transaction (IMMEDIATE on SQLite, row locks on PostgreSQL) keeps a manual run beside it safe.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from advisor.analysis.finding_status import OPEN, RESOLVED, Status
from advisor.analysis.findings import Effect, Finding
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import AnalysisRunRow, FindingRow, table_of

FINDINGS = table_of(FindingRow)
RUNS = table_of(AnalysisRunRow)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run did to the stored findings; ``open_by_kind`` counts every open finding
    after the run (kinds without any are left out)."""

    run_id: int
    analysed_at: float
    new: int
    updated: int
    reopened: int
    resolved: int
    open: int
    open_by_kind: dict[str, int]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as stored, with its lifecycle; ``evidence`` is the JSON form of
    :class:`advisor.analysis.findings.Evidence` (before/after quantiles, p and q values...)."""

    key: str
    kind: str
    app: str
    scope: dict[str, str]
    direction: str
    effect: Effect
    cause: str
    confidence: float
    since: float
    first_detected_at: float
    last_detected_at: float
    resolved_at: float | None
    status: str
    hosts: tuple[str, ...]
    departments: tuple[str, ...]
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN, for a figure the database could not hold, becomes None)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["effect"] = {
            "estimate": _finite(self.effect.estimate),
            "low": _finite(self.effect.low),
            "high": _finite(self.effect.high),
        }
        values["confidence"] = _finite(self.confidence)
        values["since"] = _finite(self.since)
        values["hosts"] = list(self.hosts)
        values["departments"] = list(self.departments)
        return values


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Which findings a list shows; None matches anything. ``department`` matches a finding
    that affects that department."""

    status: Status | None = OPEN
    app: str | None = None
    kind: str | None = None
    cause: str | None = None
    department: str | None = None


def _record(
    conn: sa.Connection,
    found: list[Finding],
    *,
    now: float,
    started_at: float,
    finished_at: float,
    launches: int,
    notes: list[str],
) -> RunSummary:
    run_id = conn.execute(
        RUNS.insert()
        .values(
            analysed_at=now,
            started_at=started_at,
            finished_at=finished_at,
            launches=launches,
            findings_new=0,
            findings_updated=0,
            findings_reopened=0,
            findings_resolved=0,
            findings_open=0,
            notes=notes,
        )
        .returning(RUNS.c.id)
    ).scalar_one()
    # Every stored status, locked: a finding's row decides insert, update or reopen.
    stored: dict[str, str] = {
        row.key: row.status
        for row in conn.execute(sa.select(FINDINGS.c.key, FINDINGS.c.status).with_for_update())
    }
    inserts = [
        {**_values(f), **_first(now), "last_run_id": run_id} for f in found if f.key not in stored
    ]
    updates = [
        {
            **{f"new_{name}": value for name, value in _values(f).items() if name != "key"},
            "k_key": f.key,
            "new_last_run_id": run_id,
            "new_now": now,
        }
        for f in found
        if f.key in stored
    ]
    reopened = sum(1 for f in found if stored.get(f.key) == RESOLVED)
    if inserts:
        conn.execute(FINDINGS.insert(), inserts)
    if updates:
        conn.execute(_UPDATE, updates)
    seen = {f.key for f in found}
    gone = [key for key, status in stored.items() if status == OPEN and key not in seen]
    if gone:
        conn.execute(
            FINDINGS.update()
            .where(FINDINGS.c.key == sa.bindparam("k_key"))
            .values(status=RESOLVED, resolved_at=now),
            [{"k_key": key} for key in gone],
        )
    open_by_kind = {
        str(kind): int(count)
        for kind, count in conn.execute(
            sa.select(FINDINGS.c.kind, sa.func.count())
            .where(FINDINGS.c.status == OPEN)
            .group_by(FINDINGS.c.kind)
            .order_by(FINDINGS.c.kind)
        )
    }
    summary = RunSummary(
        run_id=int(run_id),
        analysed_at=now,
        new=len(inserts),
        updated=len(updates) - reopened,
        reopened=reopened,
        resolved=len(gone),
        open=sum(open_by_kind.values()),
        open_by_kind=open_by_kind,
        notes=tuple(notes),
    )
    conn.execute(
        RUNS.update()
        .where(RUNS.c.id == run_id)
        .values(
            findings_new=summary.new,
            findings_updated=summary.updated,
            findings_reopened=summary.reopened,
            findings_resolved=summary.resolved,
            findings_open=summary.open,
        )
    )
    return summary


_CHANGING = (
    "kind",
    "app",
    "scope",
    "direction",
    "effect_estimate",
    "effect_low",
    "effect_high",
    "cause",
    "confidence",
    "since",
    "hosts",
    "departments",
    "evidence",
)
_UPDATE = (
    FINDINGS.update()
    .where(FINDINGS.c.key == sa.bindparam("k_key"))
    .values(
        status=OPEN,
        resolved_at=None,
        last_detected_at=sa.bindparam("new_now"),
        last_run_id=sa.bindparam("new_last_run_id"),
        **{name: sa.bindparam(f"new_{name}") for name in _CHANGING},
    )
)
"""Updates a stored finding from a run's: its ``_CHANGING`` columns, status and times."""


def _first(now: float) -> dict[str, Any]:
    return {
        "first_detected_at": now,
        "last_detected_at": now,
        "resolved_at": None,
        "status": OPEN,
    }


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "key": finding.key,
        "kind": finding.kind,
        "app": finding.app,
        "scope": dict(finding.scope),
        "direction": finding.direction,
        "effect_estimate": _finite(finding.effect.estimate),
        "effect_low": _finite(finding.effect.low),
        "effect_high": _finite(finding.effect.high),
        "cause": finding.cause,
        "confidence": _finite(finding.confidence),
        "since": _finite(finding.since),
        "hosts": sorted(finding.hosts),
        "departments": sorted(finding.departments),
        "evidence": _json_ready(dataclasses.asdict(finding.evidence)),
    }


def _finite(value: float | None) -> float | None:
    """A number a database and JSON can hold: NaN and infinities become None."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json_ready(value: Any) -> Any:
    """``value`` with non-finite floats as None: JSONB refuses NaN, and so does strict JSON."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _order(finding: StoredFinding) -> tuple[int, float, str]:
    size = abs(finding.effect.estimate) if math.isfinite(finding.effect.estimate) else 0.0
    return (0 if finding.status == OPEN else 1, -size, finding.key)


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _stored(row: sa.Row[Any]) -> StoredFinding:
    return StoredFinding(
        key=row.key,
        kind=row.kind,
        app=row.app,
        scope=dict(row.scope),
        direction=row.direction,
        effect=Effect(
            _number(row.effect_estimate), _number(row.effect_low), _number(row.effect_high)
        ),
        cause=row.cause,
        confidence=_number(row.confidence),
        since=_number(row.since),
        first_detected_at=row.first_detected_at,
        last_detected_at=row.last_detected_at,
        resolved_at=row.resolved_at,
        status=row.status,
        hosts=tuple(row.hosts),
        departments=tuple(row.departments),
        evidence=dict(row.evidence),
    )


class Findings(Protocol):
    """The analysis runs' findings and their lifecycle (the table in the module docstring).

    Contract: times are Unix seconds. :meth:`record_run` applies one run as one transaction
    (all of it or nothing) and returns its counts; a key found again stays one finding
    (updated, or reopened when it was resolved); an open key a run does not find is resolved
    at that run's ``now``. Figures a database cannot hold (NaN, infinities) are stored as
    NULL and read back as NaN (:meth:`StoredFinding.to_dict` makes them None). Nothing raises
    for an unknown key: :meth:`get` is None.
    """

    def record_run(
        self,
        findings: Sequence[Finding],
        *,
        now: float,
        started_at: float | None = None,
        finished_at: float | None = None,
        launches: int = 0,
        notes: Sequence[str] = (),
    ) -> RunSummary:
        """Apply one run's ``findings`` as of ``now`` and record the run.

        ``started_at``/``finished_at`` are the run's wall-clock times for its history row
        (default ``now``); ``launches`` and ``notes`` say what it analysed. Two findings with
        one key (the analysis should not produce them) keep the last; the run's notes say so.
        """
        ...

    def find(
        self, where: FindingFilter = FindingFilter(), *, limit: int | None = None
    ) -> list[StoredFinding]:
        """Findings matching ``where`` (open ones by default), at most ``limit``: open ones
        first, then by largest absolute effect (an unknown one counts as 0), then by key."""
        ...

    def get(self, key: str) -> StoredFinding | None:
        """The finding of ``key`` whatever its status, or None."""
        ...

    def last_runs(self, limit: int = 10) -> list[RunSummary]:
        """The newest ``limit`` runs, newest first (``open_by_kind`` is empty: it is not kept
        per run)."""
        ...


class SqlFindings:
    """:class:`Findings` on the ``findings`` and ``analysis_runs`` tables of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # A run reads every stored status, then writes: on SQLite it takes the write lock first.
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    def record_run(
        self,
        findings: Sequence[Finding],
        *,
        now: float,
        started_at: float | None = None,
        finished_at: float | None = None,
        launches: int = 0,
        notes: Sequence[str] = (),
    ) -> RunSummary:
        by_key = {finding.key: finding for finding in findings}
        found = list(by_key.values())
        all_notes = list(notes)
        if len(findings) > len(found):
            repeated = len(findings) - len(found)
            all_notes.append(f"{repeated} finding(s) with a repeated key: last kept")
        with self._writer.begin() as conn:
            return _record(
                conn,
                found,
                now=now,
                started_at=now if started_at is None else started_at,
                finished_at=now if finished_at is None else finished_at,
                launches=launches,
                notes=all_notes,
            )

    def find(
        self, where: FindingFilter = FindingFilter(), *, limit: int | None = None
    ) -> list[StoredFinding]:
        query = sa.select(FINDINGS)
        for column, wanted in (
            (FINDINGS.c.status, where.status),
            (FINDINGS.c.app, where.app),
            (FINDINGS.c.kind, where.kind),
            (FINDINGS.c.cause, where.cause),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        with self._engine.connect() as conn:
            rows = [_stored(row) for row in conn.execute(query)]
        if where.department is not None:
            # JSON arrays are queried differently on each database; findings are few.
            rows = [r for r in rows if where.department in r.departments]
        rows.sort(key=_order)
        return rows[:limit] if limit is not None else rows

    def get(self, key: str) -> StoredFinding | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(FINDINGS).where(FINDINGS.c.key == key)).first()
        return None if row is None else _stored(row)

    def last_runs(self, limit: int = 10) -> list[RunSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(RUNS).order_by(RUNS.c.id.desc()).limit(limit))
            return [
                RunSummary(
                    run_id=int(row.id),
                    analysed_at=row.analysed_at,
                    new=row.findings_new,
                    updated=row.findings_updated,
                    reopened=row.findings_reopened,
                    resolved=row.findings_resolved,
                    open=row.findings_open,
                    open_by_kind={},
                    notes=tuple(row.notes),
                )
                for row in rows
            ]
