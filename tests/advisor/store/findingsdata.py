"""Hand-made findings for the findings store, CLI and API tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa

from advisor.analysis.findings import (
    Cause,
    Effect,
    Evidence,
    Finding,
    Kind,
    Quantiles,
    finding_key,
)
from advisor.store.findings import Findings, RunSummary
from advisor.store.models import AnalysisRunRow, FindingRow, table_of

T0 = 1_764_000_000.0
DAY = 86_400.0
WEAK_Q = 0.03
"""A q-value under the analysis' alpha (0.05) but far from strong: such a finding flaps."""


def finding(
    kind: Kind = "version_change",
    app: str = "libreoffice",
    scope: dict[str, str] | None = None,
    *,
    cause: Cause = "version",
    effect: float = 0.25,
    departments: tuple[str, ...] = ("finance",),
    hosts: tuple[str, ...] = ("fin-1", "fin-2"),
    detected_at: float = T0,
    q_value: float = math.nan,
) -> Finding:
    """A finding that ``app`` got ``effect`` slower (negative: faster) in ``scope``.

    Its p-value is tiny; its q-value unknown by default (NaN: not every method controls it),
    so it is judged on the p-value and opens at once. ``q_value=WEAK_Q`` makes it a candidate.
    """
    scope = {"from_version": "7.5.9", "version": "7.6.4"} if scope is None else scope
    return Finding(
        key=finding_key(kind, app, scope),
        kind=kind,
        app=app,
        scope=scope,
        direction="slower" if effect >= 0 else "faster",
        effect=Effect(effect, effect - 0.05, effect + 0.05),
        cause=cause,
        confidence=0.9,
        since=T0 - 86_400.0,
        detected_at=detected_at,
        hosts=hosts,
        departments=departments,
        evidence=Evidence(
            before=Quantiles(120, 1.5, 2.0, 3.0),
            after=Quantiles(80, 1.9, 2.5, 3.75),
            p_value=1e-6,
            q_value=q_value,
            method="per-host before/after at the version change, bootstrap CI",
            detail={"hosts_moved": 2.0},
        ),
    )


def slower_again(original: Finding, effect: float) -> Finding:
    """The same finding (same key) with a new effect."""
    return replace(original, effect=Effect(effect, effect - 0.1, effect + 0.1))


def weak(original: Finding) -> Finding:
    """The same finding with a q-value near alpha: it needs a second run to open."""
    return replace(original, evidence=replace(original.evidence, q_value=WEAK_Q))


def record_runs(
    findings: Findings,
    runs: Sequence[Sequence[Finding]],
    *,
    start: float = T0,
    every: float = 2 * DAY,
    apps: Sequence[str] | None = None,
) -> list[RunSummary]:
    """Record one run per item of ``runs``, ``every`` seconds apart from ``start``, each of
    the part ``apps`` (None: the whole fleet)."""
    return [
        findings.record_run(found, now=start + i * every, apps=apps) for i, found in enumerate(runs)
    ]


def insert_as_before_0007(
    conn: sa.Connection,
    found: Finding,
    *,
    run_id: int,
    status: str = "open",
    resolved_at: float | None = None,
) -> None:
    """Store ``found`` as the store did before migration 0007 (no lifecycle columns), found
    by run ``run_id`` at ``T0``; the run row is the caller's."""
    conn.execute(
        table_of(FindingRow)
        .insert()
        .values(
            key=found.key,
            kind=found.kind,
            app=found.app,
            scope=found.scope,
            direction=found.direction,
            effect_estimate=found.effect.estimate,
            effect_low=found.effect.low,
            effect_high=found.effect.high,
            cause=found.cause,
            confidence=found.confidence,
            since=found.since,
            first_detected_at=T0,
            last_detected_at=T0,
            resolved_at=resolved_at,
            status=status,
            hosts=list(found.hosts),
            departments=list(found.departments),
            evidence={"q_value": _json_number(found.evidence.q_value), "method": "test"},
            last_run_id=run_id,
        )
    )


def insert_run_as_before_0007(conn: sa.Connection, analysed_at: float) -> int:
    """An ``analysis_runs`` row as the store wrote it before migration 0007; its id."""
    runs = table_of(AnalysisRunRow)
    run_id: int = conn.execute(
        runs.insert()
        .values(
            analysed_at=analysed_at,
            started_at=analysed_at,
            finished_at=analysed_at,
            launches=0,
            findings_new=0,
            findings_updated=0,
            findings_reopened=0,
            findings_resolved=0,
            findings_open=0,
            notes=[],
        )
        .returning(runs.c.id)
    ).scalar_one()
    return run_id


def _json_number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
