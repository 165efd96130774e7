"""Findings across analysis runs, with their history; and read back.

Each analysis run hands its findings to :meth:`Findings.record_run`, which applies them in one
transaction, by key (advisor.analysis.findings.finding_key). The stored status follows the
runs with hysteresis (advisor.analysis.stability, whose ``StabilityPolicy`` has the numbers):

=========================================  ==================================================
the run                                    the stored finding
=========================================  ==================================================
finds a key never seen                     inserted: ``open`` on strong evidence, else
                                           ``candidate``; first and last detected now
finds a stored key                         updated: effect, cause, hosts, evidence...;
                                           last detected now; a candidate opens, a resolved
                                           finding reopens (``resolved_at`` cleared) when
                                           the evidence confirms it
does not find an open key                  ``resolved`` (``resolved_at`` = now) once missed
                                           for enough runs and days; until then still open,
                                           its ``missed_runs`` counting
=========================================  ==================================================

Every run that finds a key adds a point to the key's history (``finding_history``: effect
with its interval, q-value, hosts, cause); every status change an event (``finding_events``:
opened, resolved, reopened). Points older than ``history_days`` are deleted by the run; both
go with their finding. Every run also leaves a row in ``analysis_runs`` with its counts. Runs
are serialised by the analysis job's lease; the transaction (IMMEDIATE on SQLite, row locks on
PostgreSQL) keeps a manual run beside it safe.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from advisor.analysis.finding_status import (
    OPEN,
    OPENED,
    REOPENED,
    RESOLVED,
    RESOLVED_EVENT,
    STATUSES,
    Status,
)
from advisor.analysis.findings import Effect, Finding
from advisor.analysis.stability import (
    DAY,
    Decision,
    StabilityPolicy,
    Tracked,
    decide,
    sighting,
)
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import (
    AnalysisRunRow,
    FindingEventRow,
    FindingHistoryRow,
    FindingRow,
    table_of,
)

FINDINGS = table_of(FindingRow)
RUNS = table_of(AnalysisRunRow)
HISTORY = table_of(FindingHistoryRow)
EVENTS = table_of(FindingEventRow)

HISTORY_DAYS = 730
"""Days a finding's history points are kept (0: forever): as long as the daily rollups they
summarise ([retention] daily_days). At one run every 6 h that is under 3,000 points per
finding; status events are few and kept with their finding."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run did to the stored findings.

    ``new``: findings opened for the first time; ``updated``: open ones found again;
    ``pending``: found but not (re)confirmed yet (candidates, resolved ones seen once);
    ``missing``: open ones this run did not find, not resolved yet. ``open_by_kind`` counts
    every open finding after the run (kinds without any are left out).
    """

    run_id: int
    analysed_at: float
    new: int
    updated: int
    reopened: int
    resolved: int
    open: int
    pending: int
    missing: int
    open_by_kind: dict[str, int]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as stored, with its lifecycle; ``evidence`` is the JSON form of
    :class:`advisor.analysis.findings.Evidence` (before/after quantiles, p and q values...).

    ``opened_at`` is when it last became open (None for a candidate), ``runs_seen`` how many
    runs found it, ``missed_runs`` how many runs since the last that did (0: the newest run
    found it), ``reopen_count`` how often it was reopened.
    """

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
    opened_at: float | None = None
    runs_seen: int = 1
    missed_runs: int = 0
    reopen_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN, for a figure the database could not hold, becomes None)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["effect"] = _effect_dict(self.effect)
        values["confidence"] = _finite(self.confidence)
        values["since"] = _finite(self.since)
        values["hosts"] = list(self.hosts)
        values["departments"] = list(self.departments)
        return values


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One run's figures for a finding it found (NaN: not a number)."""

    detected_at: float
    run_id: int | None
    effect: Effect
    q_value: float
    hosts: int
    cause: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN becomes None)."""
        return {
            "detected_at": self.detected_at,
            "run_id": self.run_id,
            "effect": _effect_dict(self.effect),
            "q_value": _finite(self.q_value),
            "hosts": self.hosts,
            "cause": self.cause,
            "confidence": _finite(self.confidence),
        }


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A change of a finding's status (advisor.analysis.finding_status.EVENTS) at ``at``;
    ``run_id`` is the run that made it (None: written by a migration)."""

    at: float
    event: str
    run_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "event": self.event, "run_id": self.run_id}


@dataclass(frozen=True, slots=True)
class FindingHistory:
    """A finding's history, oldest first: a point per run that found it (those kept), an
    event per status change. Empty for an unknown key."""

    points: tuple[HistoryPoint, ...] = ()
    events: tuple[StatusEvent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [p.to_dict() for p in self.points],
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """Which findings a list shows; None matches anything. ``department`` matches a finding
    that affects that department."""

    status: Status | None = OPEN
    app: str | None = None
    kind: str | None = None
    cause: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class _Run:
    """One run being recorded."""

    run_id: int
    now: float
    policy: StabilityPolicy


_LIFECYCLE: tuple[sa.Column[Any], ...] = (
    FINDINGS.c.key,
    FINDINGS.c.status,
    FINDINGS.c.last_detected_at,
    FINDINGS.c.missed_runs,
    FINDINGS.c.opened_at,
    FINDINGS.c.resolved_at,
    FINDINGS.c.reopen_count,
)
"""What a run reads of each stored finding to decide its status and lifecycle."""


def _record(
    conn: sa.Connection,
    found: list[Finding],
    *,
    now: float,
    started_at: float,
    finished_at: float,
    launches: int,
    notes: list[str],
    policy: StabilityPolicy,
    history_days: int,
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
    run = _Run(int(run_id), now, policy)
    # Every stored finding's lifecycle, locked: it decides insert or update, and the status.
    stored: dict[str, sa.Row[Any]] = {
        row.key: row for row in conn.execute(sa.select(*_LIFECYCLE).with_for_update())
    }
    unconfirmed = [f.key for f in found if f.key in stored and stored[f.key].status != OPEN]
    decided = _decisions(found, stored, _recent(conn, run, unconfirmed), run)
    _write_findings(conn, found, stored, decided, run)
    _write_history(conn, found, decided, run, history_days)
    return _summarise(conn, run, decided, {f.key for f in found}, stored, notes)


def _decisions(
    found: list[Finding],
    stored: dict[str, sa.Row[Any]],
    recent: dict[str, tuple[bool, ...]],
    run: _Run,
) -> dict[str, Decision]:
    """The policy's decision for every key this run found or the store holds."""
    decided: dict[str, Decision] = {}
    for f in found:
        row = stored.get(f.key)
        before = None if row is None else _tracked(row, recent.get(f.key, ()))
        decided[f.key] = decide(before, sighting(f), now=run.now, policy=run.policy)
    for key, row in stored.items():
        if key not in decided:
            decided[key] = decide(_tracked(row, ()), None, now=run.now, policy=run.policy)
    return decided


def _write_findings(
    conn: sa.Connection,
    found: list[Finding],
    stored: dict[str, sa.Row[Any]],
    decided: dict[str, Decision],
    run: _Run,
) -> None:
    """Insert the new keys, update the found ones, count a miss for the others and resolve
    those the policy finds gone."""
    inserts = [_inserted(f, decided[f.key], run) for f in found if f.key not in stored]
    updates = [_updated(f, stored[f.key], decided[f.key], run) for f in found if f.key in stored]
    if inserts:
        conn.execute(FINDINGS.insert(), inserts)
    if updates:
        conn.execute(_UPDATE, updates)
    if len(found) < len(stored) + len(inserts):
        conn.execute(
            FINDINGS.update()
            .where(sa.or_(FINDINGS.c.last_run_id.is_(None), FINDINGS.c.last_run_id != run.run_id))
            .values(missed_runs=FINDINGS.c.missed_runs + 1)
        )
    gone = [key for key, d in decided.items() if d.event == RESOLVED_EVENT]
    if gone:
        conn.execute(
            FINDINGS.update()
            .where(FINDINGS.c.key == sa.bindparam("k_key"))
            .values(status=RESOLVED, resolved_at=run.now),
            [{"k_key": key} for key in gone],
        )


def _write_history(
    conn: sa.Connection,
    found: list[Finding],
    decided: dict[str, Decision],
    run: _Run,
    history_days: int,
) -> None:
    """A point per found key, an event per status change; points past ``history_days`` go."""
    if found:
        conn.execute(HISTORY.insert(), [_point(f, run) for f in found])
    changes = [
        {"finding_key": key, "run_id": run.run_id, "at": run.now, "event": d.event}
        for key, d in decided.items()
        if d.event is not None
    ]
    if changes:
        conn.execute(EVENTS.insert(), changes)
    if history_days > 0:
        conn.execute(HISTORY.delete().where(HISTORY.c.detected_at < run.now - history_days * DAY))


def _summarise(
    conn: sa.Connection,
    run: _Run,
    decided: dict[str, Decision],
    seen: set[str],
    stored: dict[str, sa.Row[Any]],
    notes: list[str],
) -> RunSummary:
    open_by_kind = {
        str(kind): int(count)
        for kind, count in conn.execute(
            sa.select(FINDINGS.c.kind, sa.func.count())
            .where(FINDINGS.c.status == OPEN)
            .group_by(FINDINGS.c.kind)
            .order_by(FINDINGS.c.kind)
        )
    }
    events = [d.event for d in decided.values()]
    summary = RunSummary(
        run_id=run.run_id,
        analysed_at=run.now,
        new=events.count(OPENED),
        updated=sum(1 for key in seen if key in stored and stored[key].status == OPEN),
        reopened=events.count(REOPENED),
        resolved=events.count(RESOLVED_EVENT),
        open=sum(open_by_kind.values()),
        pending=sum(1 for key in seen if decided[key].status != OPEN),
        missing=sum(1 for key, d in decided.items() if key not in seen and d.status == OPEN),
        open_by_kind=open_by_kind,
        notes=tuple(notes),
    )
    conn.execute(
        RUNS.update()
        .where(RUNS.c.id == run.run_id)
        .values(
            findings_new=summary.new,
            findings_updated=summary.updated,
            findings_reopened=summary.reopened,
            findings_resolved=summary.resolved,
            findings_open=summary.open,
            findings_pending=summary.pending,
            findings_missing=summary.missing,
        )
    )
    return summary


def _recent(conn: sa.Connection, run: _Run, keys: list[str]) -> dict[str, tuple[bool, ...]]:
    """For ``keys``: whether each of the runs before ``run`` that the policy looks back on
    found it, oldest first (from the history points those runs left)."""
    wanted = run.policy.recent_runs
    if not keys or wanted == 0:
        return {}
    previous = list(
        conn.execute(sa.select(RUNS.c.id).where(RUNS.c.id < run.run_id).order_by(RUNS.c.id.desc()))
        .scalars()
        .fetchmany(wanted)
    )[::-1]
    if not previous:
        return {}
    found_in: dict[str, set[int]] = defaultdict(set)
    for key, run_id in conn.execute(
        sa.select(HISTORY.c.finding_key, HISTORY.c.run_id).where(HISTORY.c.run_id.in_(previous))
    ):
        found_in[key].add(int(run_id))
    return {key: tuple(r in found_in[key] for r in previous) for key in keys}


def _tracked(row: sa.Row[Any], recent: tuple[bool, ...]) -> Tracked:
    return Tracked(row.status, row.last_detected_at, row.missed_runs, recent)


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
        last_detected_at=sa.bindparam("new_now"),
        last_run_id=sa.bindparam("new_last_run_id"),
        runs_seen=FINDINGS.c.runs_seen + 1,
        missed_runs=0,
        **{
            name: sa.bindparam(f"new_{name}")
            for name in (*_CHANGING, "status", "opened_at", "resolved_at", "reopen_count")
        },
    )
)
"""Updates a stored finding from a run that found it: its ``_CHANGING`` columns, status and
lifecycle."""


def _inserted(finding: Finding, decision: Decision, run: _Run) -> dict[str, Any]:
    return {
        **_values(finding),
        "first_detected_at": run.now,
        "last_detected_at": run.now,
        "resolved_at": None,
        "status": decision.status,
        "opened_at": run.now if decision.status == OPEN else None,
        "runs_seen": 1,
        "missed_runs": 0,
        "reopen_count": 0,
        "last_run_id": run.run_id,
    }


def _updated(finding: Finding, row: sa.Row[Any], decision: Decision, run: _Run) -> dict[str, Any]:
    reopened = decision.event == REOPENED
    return {
        **{f"new_{name}": value for name, value in _values(finding).items() if name != "key"},
        "k_key": finding.key,
        "new_now": run.now,
        "new_last_run_id": run.run_id,
        "new_status": decision.status,
        "new_opened_at": run.now if decision.event is not None else row.opened_at,
        "new_resolved_at": None if reopened else row.resolved_at,
        "new_reopen_count": row.reopen_count + (1 if reopened else 0),
    }


def _point(finding: Finding, run: _Run) -> dict[str, Any]:
    return {
        "finding_key": finding.key,
        "run_id": run.run_id,
        "detected_at": run.now,
        "effect_estimate": _finite(finding.effect.estimate),
        "effect_low": _finite(finding.effect.low),
        "effect_high": _finite(finding.effect.high),
        "q_value": _finite(finding.evidence.q_value),
        "host_count": len(finding.hosts),
        "cause": finding.cause,
        "confidence": _finite(finding.confidence),
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


def _effect_dict(effect: Effect) -> dict[str, float | None]:
    return {
        "estimate": _finite(effect.estimate),
        "low": _finite(effect.low),
        "high": _finite(effect.high),
    }


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
    rank = STATUSES.index(finding.status) if finding.status in STATUSES else len(STATUSES)
    return (rank, -size, finding.key)


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _effect(estimate: float | None, low: float | None, high: float | None) -> Effect:
    return Effect(_number(estimate), _number(low), _number(high))


def _stored(row: sa.Row[Any]) -> StoredFinding:
    return StoredFinding(
        key=row.key,
        kind=row.kind,
        app=row.app,
        scope=dict(row.scope),
        direction=row.direction,
        effect=_effect(row.effect_estimate, row.effect_low, row.effect_high),
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
        opened_at=row.opened_at,
        runs_seen=row.runs_seen,
        missed_runs=row.missed_runs,
        reopen_count=row.reopen_count,
    )


class Findings(Protocol):
    """The analysis runs' findings, their lifecycle and their history (the module docstring).

    Contract: times are Unix seconds. :meth:`record_run` applies one run as one transaction
    (all of it or nothing) and returns its counts; a key found again stays one finding. The
    status follows the store's :class:`~advisor.analysis.stability.StabilityPolicy`: a key
    found on strong evidence opens at once, one found on weak evidence is a ``candidate``
    until found again within the policy's window; an open key stays open through misses and
    is resolved at the ``now`` of the run that finds it gone (missed for ``resolve_runs``
    runs and ``resolve_days`` days); a resolved key reopens on the same evidence a candidate
    opens on. Every run that finds a key adds a point to its :meth:`history`, every status
    change an event. Figures a database cannot hold (NaN, infinities) are stored as NULL and
    read back as NaN (``to_dict`` makes them None). Nothing raises for an unknown key:
    :meth:`get` is None, :meth:`history` empty.
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
        first, then resolved ones, then candidates; within each, largest absolute effect
        first (an unknown one counts as 0), then by key."""
        ...

    def get(self, key: str) -> StoredFinding | None:
        """The finding of ``key`` whatever its status, or None."""
        ...

    def history(self, key: str) -> FindingHistory:
        """The history of the finding of ``key``, oldest first (empty for an unknown key)."""
        ...

    def last_runs(self, limit: int = 10) -> list[RunSummary]:
        """The newest ``limit`` runs, newest first (``open_by_kind`` is empty: it is not kept
        per run)."""
        ...


class SqlFindings:
    """:class:`Findings` on the ``findings``, ``finding_history``, ``finding_events`` and
    ``analysis_runs`` tables of ``engine``; ``policy`` decides the statuses (default: the
    documented :class:`StabilityPolicy`), history points older than ``history_days`` (0:
    never) are deleted by each run."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        policy: StabilityPolicy | None = None,
        history_days: int = HISTORY_DAYS,
    ) -> None:
        if history_days < 0:
            raise ValueError(f"history_days must be 0 (forever) or more, not {history_days}")
        self._engine = engine
        self._policy = policy or StabilityPolicy()
        self._history_days = history_days
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
                policy=self._policy,
                history_days=self._history_days,
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

    def history(self, key: str) -> FindingHistory:
        with self._engine.connect() as conn:
            points = conn.execute(
                sa.select(HISTORY)
                .where(HISTORY.c.finding_key == key)
                .order_by(HISTORY.c.detected_at, HISTORY.c.id)
            )
            history_points = tuple(
                HistoryPoint(
                    detected_at=row.detected_at,
                    run_id=row.run_id,
                    effect=_effect(row.effect_estimate, row.effect_low, row.effect_high),
                    q_value=_number(row.q_value),
                    hosts=row.host_count,
                    cause=row.cause,
                    confidence=_number(row.confidence),
                )
                for row in points
            )
            events = conn.execute(
                sa.select(EVENTS)
                .where(EVENTS.c.finding_key == key)
                .order_by(EVENTS.c.at, EVENTS.c.id)
            )
            status_events = tuple(StatusEvent(row.at, row.event, row.run_id) for row in events)
        return FindingHistory(history_points, status_events)

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
                    pending=row.findings_pending,
                    missing=row.findings_missing,
                    open_by_kind={},
                    notes=tuple(row.notes),
                )
                for row in rows
            ]
