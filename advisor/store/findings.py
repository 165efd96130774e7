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
does not find a candidate                  dropped, with its history, once missed by
                                           ``confirm_window - 1`` runs: a later sighting
                                           could no longer confirm it (it would be a new
                                           candidate anyway); until then kept
=========================================  ==================================================

**Parts.** A run analyses the whole fleet, or one *part* of it: some apps
(``record_run(apps=...)``). A part's run reads, counts as missed, resolves, drops and
counts only the findings of its apps; the others are left as they are. "Runs" above are
always the runs that analysed the finding's app: a whole-fleet run (every run before parts
existed too) analyses every app, a part's run only its own. A finding's ``missed_runs`` counts
those runs, and the policy's look-back ("found in 2 of the last 3 runs") is read from the
finding's own lifecycle: its ``missed_runs`` and, on each history point, ``missed_before`` (the
runs of its app that missed it between that point and the one before). So a run of app Y's
part never counts as a miss of app X, whether the apps are split one per part, several per
part, differently from one day to the next, or not at all.

Every run that finds a key adds a point to the key's history (``finding_history``: effect
with its interval, q-value, hosts, cause); every status change an event (``finding_events``:
opened, resolved, reopened); both go with their finding. Points older than ``[retention]
finding_history_days`` are deleted by the retention job (advisor.store.retention), not by the
runs. Every run also leaves a row in ``analysis_runs`` with its counts and its part.

Runs are serialised by the analysis job's leases; the transaction keeps a manual run, or a run
whose lease expired under it, beside them safe: on SQLite it takes the write lock first
(IMMEDIATE); on PostgreSQL a whole-fleet run holds an exclusive advisory lock, a part's run
shares it and holds one per app (taken in one order: no deadlock), and only the part's
findings are locked (``FOR UPDATE``), so parts with other apps are recorded side by side
while two runs of one app follow each other.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from advisor.analysis.finding_status import (
    CANDIDATE,
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

_Query = TypeVar("_Query", sa.Select[Any], sa.Update)

_FLEET_LOCK = 1179862577
"""PostgreSQL advisory lock (first key; the second is 0) a whole-fleet run holds exclusively
and a part's run shares."""
_APP_LOCKS = 1179862578
"""First key of the PostgreSQL advisory lock a part's run holds per app (the second key: a
hash of the app's name; two apps that share one only wait for each other)."""


def part_name(apps: Sequence[str]) -> str:
    """What ``analysis_runs.part`` says of a run of ``apps``: the app, or the apps sorted and
    joined (the same apps, in any order, give the same name).

    >>> part_name(["writer"]), part_name(["writer", "calc", "writer"])
    ('writer', 'calc, writer')
    """
    return ", ".join(sorted(set(apps)))


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run did to the stored findings.

    ``new``: findings opened for the first time; ``updated``: open ones found again;
    ``pending``: found but not (re)confirmed yet (candidates, resolved ones seen once);
    ``missing``: open ones this run did not find, not resolved yet; ``expired``: candidates
    dropped, not confirmed within the policy's window. These count the run's part only (its
    apps; every app for a whole-fleet run). ``open`` and ``open_by_kind`` count every open
    finding of the fleet after the run, whatever its part (kinds without any are left out).
    ``part`` and ``apps`` are the run's part (:func:`part_name`; the sorted apps), None for a
    whole-fleet run.
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
    expired: int = 0
    part: str | None = None
    apps: tuple[str, ...] | None = None


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
    """One run's figures for a finding it found (NaN: not a number).

    ``missed_before``: how many runs that analysed the finding's app missed it between the
    point before and this one (0: the run before found it too); None for the first point,
    or where it is not known.
    """

    detected_at: float
    run_id: int | None
    effect: Effect
    q_value: float
    hosts: int
    cause: str
    confidence: float
    missed_before: int | None = None

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
            "missed_before": self.missed_before,
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
    """A finding's history, oldest first: a point per run that found it (those kept; the
    newest of them when a limit was asked for), an event per status change. Empty for an
    unknown key.

    ``total_points`` is how many points are stored (None: as many as ``points``).

    >>> FindingHistory(total_points=3).to_dict()
    {'points': [], 'events': [], 'total_points': 3, 'truncated': True}
    """

    points: tuple[HistoryPoint, ...] = ()
    events: tuple[StatusEvent, ...] = ()
    total_points: int | None = None

    @property
    def stored_points(self) -> int:
        """How many points are stored: as many runs found it (within retention)."""
        return len(self.points) if self.total_points is None else self.total_points

    @property
    def truncated(self) -> bool:
        """Whether older points are stored than ``points`` holds."""
        return self.stored_points > len(self.points)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [p.to_dict() for p in self.points],
            "events": [e.to_dict() for e in self.events],
            "total_points": self.stored_points,
            "truncated": self.truncated,
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
    """One run being recorded: ``apps`` its part (None: the whole fleet)."""

    run_id: int
    now: float
    policy: StabilityPolicy
    apps: tuple[str, ...] | None = None

    def only_part(self, query: _Query) -> _Query:
        """``query`` (on ``findings``) restricted to the findings of the run's part."""
        return query if self.apps is None else query.where(FINDINGS.c.app.in_(self.apps))


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
    apps: tuple[str, ...] | None,
) -> RunSummary:
    _lock_part(conn, apps)
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
            part=None if apps is None else part_name(apps),
            # SQL NULL: JSON columns would store Python None as a JSON null.
            apps=sa.null() if apps is None else list(apps),
        )
        .returning(RUNS.c.id)
    ).scalar_one()
    run = _Run(int(run_id), now, policy, apps)
    # The part's stored lifecycles, locked in key order: they decide insert or update, and
    # the status; other parts' findings are neither read nor locked.
    stored: dict[str, sa.Row[Any]] = {
        row.key: row
        for row in conn.execute(
            run.only_part(sa.select(*_LIFECYCLE)).order_by(FINDINGS.c.key).with_for_update()
        )
    }
    unconfirmed = [stored[f.key] for f in found if f.key in stored and stored[f.key].status != OPEN]
    decided = _decisions(found, stored, _recent(conn, unconfirmed, policy), run)
    _write_findings(conn, found, stored, decided, run)
    _write_history(conn, found, stored, decided, run)
    expired = _expire(conn, decided, run)
    return _summarise(conn, run, decided, {f.key for f in found}, stored, notes, expired)


def _lock_part(conn: sa.Connection, apps: tuple[str, ...] | None) -> None:
    """On PostgreSQL, wait for any run of the same apps (and a whole-fleet run, which has
    them all) to finish; SQLite's write lock serialises every run already."""
    if conn.dialect.name != "postgresql":
        return
    if apps is None:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_FLEET_LOCK, 0)))
        return
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(_FLEET_LOCK, 0)))
    for lock in sorted({_app_lock(app) for app in apps}):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_APP_LOCKS, lock)))


def _app_lock(app: str) -> int:
    """A 32-bit signed key for ``app``'s advisory lock, the same in every process."""
    value = zlib.crc32(app.encode("utf-8", "surrogatepass"))
    return value - (1 << 32) if value >= 1 << 31 else value


def _decisions(
    found: list[Finding],
    stored: dict[str, sa.Row[Any]],
    recent: dict[str, tuple[bool, ...]],
    run: _Run,
) -> dict[str, Decision]:
    """The policy's decision for every key this run found or the part holds."""
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
    """Insert the new keys, update the found ones, count a miss for the part's others and
    resolve those the policy finds gone."""
    inserts = [_inserted(f, decided[f.key], run) for f in found if f.key not in stored]
    updates = [_updated(f, stored[f.key], decided[f.key], run) for f in found if f.key in stored]
    if inserts:
        conn.execute(FINDINGS.insert(), inserts)
    if updates:
        conn.execute(_UPDATE, updates)
    if len(found) < len(stored) + len(inserts):
        conn.execute(
            run.only_part(FINDINGS.update())
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
    stored: dict[str, sa.Row[Any]],
    decided: dict[str, Decision],
    run: _Run,
) -> None:
    """A point per found key (with the misses since its point before), an event per status
    change. Old points are the retention job's (advisor.store.retention)."""
    if found:
        conn.execute(
            HISTORY.insert(),
            [
                _point(f, run, None if f.key not in stored else stored[f.key].missed_runs)
                for f in found
            ],
        )
    changes = [
        {"finding_key": key, "run_id": run.run_id, "at": run.now, "event": d.event}
        for key, d in decided.items()
        if d.event is not None
    ]
    if changes:
        conn.execute(EVENTS.insert(), changes)


def _expire(conn: sa.Connection, decided: dict[str, Decision], run: _Run) -> int:
    """Drop the candidates this run leaves past the policy's window (their history goes
    with them); how many."""
    expired = [key for key, d in decided.items() if _past_window(d, run.policy)]
    if expired:
        conn.execute(
            FINDINGS.delete().where(FINDINGS.c.key == sa.bindparam("k_key")),
            [{"k_key": key} for key in expired],
        )
    return len(expired)


def _past_window(decision: Decision, policy: StabilityPolicy) -> bool:
    """Whether a candidate after this run can no longer be confirmed by its sightings so far:
    missed by this run and by as many runs as the policy looks back on, the newest sighting
    is out of the window of a run that finds it next.

    >>> policy = StabilityPolicy()  # 2 of 3 runs: the policy looks back on 2
    >>> [_past_window(Decision("candidate", None, missed), policy) for missed in (0, 1, 2)]
    [False, False, True]
    >>> _past_window(Decision("open", None, 2), policy)
    False
    """
    return (
        decision.status == CANDIDATE
        and decision.missed_runs > 0
        and decision.missed_runs >= policy.recent_runs
    )


def _summarise(
    conn: sa.Connection,
    run: _Run,
    decided: dict[str, Decision],
    seen: set[str],
    stored: dict[str, sa.Row[Any]],
    notes: list[str],
    expired: int,
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
        expired=expired,
        part=None if run.apps is None else part_name(run.apps),
        apps=run.apps,
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
            findings_expired=summary.expired,
        )
    )
    return summary


def _recent(
    conn: sa.Connection, rows: list[sa.Row[Any]], policy: StabilityPolicy
) -> dict[str, tuple[bool, ...]]:
    """For the stored findings ``rows``: whether each of the runs before this one that the
    policy looks back on, among those that analysed the finding's app, found it, oldest
    first (:attr:`Tracked.recent`)."""
    wanted = policy.recent_runs
    if not rows or wanted == 0:
        return {}
    ranked = (
        sa.select(
            HISTORY.c.finding_key,
            HISTORY.c.detected_at,
            HISTORY.c.missed_before,
            sa.func.row_number()
            .over(partition_by=HISTORY.c.finding_key, order_by=HISTORY.c.id.desc())
            .label("newness"),
        )
        .where(HISTORY.c.finding_key.in_([row.key for row in rows]))
        .subquery()
    )
    newest: dict[str, list[Any]] = {row.key: [] for row in rows}
    for point in conn.execute(
        sa.select(ranked.c.finding_key, ranked.c.detected_at, ranked.c.missed_before)
        .where(ranked.c.newness <= wanted)
        .order_by(ranked.c.finding_key, ranked.c.newness)
    ):
        newest[point.finding_key].append(point)
    return {row.key: _looked_back(row, newest[row.key], wanted) for row in rows}


def _looked_back(row: sa.Row[Any], points: list[Any], wanted: int) -> tuple[bool, ...]:
    """Whether each of the last ``wanted`` runs of the finding's app found it, oldest first:
    the newest sighting is ``missed_runs`` runs back, each sighting before it its point's
    ``missed_before`` further (``points``: the newest, newest first). Where a gap is unknown
    (a first point; the newest point gone to retention) the runs before count as misses."""
    seen = [False] * wanted
    if points and points[0].detected_at != row.last_detected_at:
        points = []
    back = row.missed_runs
    for point in [*points, None]:
        if back >= wanted:
            break
        seen[back] = True
        if point is None or point.missed_before is None:
            break
        back += 1 + point.missed_before
    return tuple(reversed(seen))


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


def _point(finding: Finding, run: _Run, missed_before: int | None) -> dict[str, Any]:
    return {
        "missed_before": missed_before,
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
    until found again within the policy's window, and is dropped once no later sighting could
    confirm it (missed by ``confirm_window - 1`` runs); an open key stays open through misses
    and is resolved at the ``now`` of the run that finds it gone (missed for ``resolve_runs``
    runs and ``resolve_days`` days); a resolved key reopens on the same evidence a candidate
    opens on. "Runs" count only the runs that analysed the finding's app: every whole-fleet
    run (``apps`` None), and the runs of the parts that named it. Every run that finds a key
    adds a point to its :meth:`history`, every status change an event; the store never
    deletes points of a finding it keeps (retention does). Figures a database cannot hold
    (NaN, infinities) are stored as NULL and read back as NaN (``to_dict`` makes them None).
    Nothing raises for an unknown key: :meth:`get` is None, :meth:`history` empty.

    Runs of parts with no app in common may be recorded at the same time (from several
    advisors); each leaves the others' findings as they are. Runs that share apps (a part
    and a whole-fleet run included) are applied one after the other, never interleaved.
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
        apps: Sequence[str] | None = None,
    ) -> RunSummary:
        """Apply one run's ``findings`` as of ``now`` and record the run.

        ``apps`` None: the run analysed the whole fleet, and a stored finding it did not find
        is missed. Otherwise the run is one *part* of the fleet, those apps (at least one;
        repeats ignored): only the stored findings of those apps are read, counted as missed,
        resolved, dropped and counted in the summary, and every finding given must be of one
        of them (ValueError otherwise, before anything is written). The summary's ``open``
        and ``open_by_kind`` count the whole fleet either way.

        ``started_at``/``finished_at`` are the run's wall-clock times for its history row
        (default ``now``); ``launches`` and ``notes`` say what it analysed. Two findings with
        one key (the analysis should not produce them) keep the last; the run's notes say so.
        """
        ...

    def tracked_apps(self) -> list[str]:
        """The apps with an open or candidate finding, sorted: those a run of their part
        could still change (a part for an app whose data is gone lets its findings resolve
        and its candidates expire)."""
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

    def history(self, key: str, *, limit: int | None = None) -> FindingHistory:
        """The history of the finding of ``key``, oldest first (empty for an unknown key):
        every event, and the newest ``limit`` points (None: all; at least 1, else
        ValueError); ``total_points`` says how many are stored."""
        ...

    def last_runs(self, limit: int = 10) -> list[RunSummary]:
        """The newest ``limit`` runs, newest first, with their parts (``open_by_kind`` is
        empty: it is not kept per run)."""
        ...


class SqlFindings:
    """:class:`Findings` on the ``findings``, ``finding_history``, ``finding_events`` and
    ``analysis_runs`` tables of ``engine``; ``policy`` decides the statuses (default: the
    documented :class:`StabilityPolicy`). Old history points are deleted by retention
    (``[retention] finding_history_days``, advisor.store.retention), not here."""

    def __init__(self, engine: sa.Engine, *, policy: StabilityPolicy | None = None) -> None:
        self._engine = engine
        self._policy = policy or StabilityPolicy()
        # A run reads the stored statuses, then writes: on SQLite it takes the write lock first.
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
        apps: Sequence[str] | None = None,
    ) -> RunSummary:
        part = _part(findings, apps)
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
                apps=part,
            )

    def tracked_apps(self) -> list[str]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(FINDINGS.c.app)
                    .where(FINDINGS.c.status.in_((OPEN, CANDIDATE)))
                    .distinct()
                    .order_by(FINDINGS.c.app)
                ).scalars()
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

    def history(self, key: str, *, limit: int | None = None) -> FindingHistory:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1 (None: every point), not {limit}")
        newest = (
            sa.select(HISTORY, sa.func.count().over().label("total_points"))
            .where(HISTORY.c.finding_key == key)
            .order_by(HISTORY.c.detected_at.desc(), HISTORY.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(newest).all()[::-1]
            events = conn.execute(
                sa.select(EVENTS)
                .where(EVENTS.c.finding_key == key)
                .order_by(EVENTS.c.at, EVENTS.c.id)
            )
            status_events = tuple(StatusEvent(row.at, row.event, row.run_id) for row in events)
        points = tuple(
            HistoryPoint(
                detected_at=row.detected_at,
                run_id=row.run_id,
                effect=_effect(row.effect_estimate, row.effect_low, row.effect_high),
                q_value=_number(row.q_value),
                hosts=row.host_count,
                cause=row.cause,
                confidence=_number(row.confidence),
                missed_before=row.missed_before,
            )
            for row in rows
        )
        total = int(rows[0].total_points) if rows else 0
        return FindingHistory(points, status_events, total)

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
                    expired=row.findings_expired,
                    part=row.part,
                    apps=None if row.apps is None else tuple(row.apps),
                )
                for row in rows
            ]


def _part(findings: Sequence[Finding], apps: Sequence[str] | None) -> tuple[str, ...] | None:
    """The run's part, its apps sorted (None: the whole fleet); refuses an empty part and
    findings of apps outside it."""
    if apps is None:
        return None
    if isinstance(apps, str):
        raise TypeError("apps must be a sequence of app names, not one string")
    part = tuple(sorted(set(apps)))
    if not part:
        raise ValueError("apps must name at least one app (None: the whole fleet)")
    outside = sorted({f.app for f in findings} - set(part))
    if outside:
        raise ValueError(f"findings of apps outside the part {part_name(part)!r}: {outside[:5]}")
    return part
