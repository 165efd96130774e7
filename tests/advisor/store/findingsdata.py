"""Hand-made findings for the findings store, CLI and API tests."""

from __future__ import annotations

from dataclasses import replace

from advisor.analysis.findings import (
    Cause,
    Effect,
    Evidence,
    Finding,
    Kind,
    Quantiles,
    finding_key,
)

T0 = 1_764_000_000.0


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
) -> Finding:
    """A finding that ``app`` got ``effect`` slower (negative: faster) in ``scope``."""
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
            q_value=float("nan"),  # not every method controls it
            method="per-host before/after at the version change, bootstrap CI",
            detail={"hosts_moved": 2.0},
        ),
    )


def slower_again(original: Finding, effect: float) -> Finding:
    """The same finding (same key) with a new effect."""
    return replace(original, effect=Effect(effect, effect - 0.1, effect + 0.1))
