"""Proposals for the recommendations store's tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from advisor.store.recommendations import Proposal, Recommendations, RecommendationState

T0 = 1_764_000_000.0
DAY = 86_400.0
UPGRADE_KEY = "upgrade|libreoffice|7.6.4|finance"
RAM_KEY = "ram|hr-ws-12|16GiB"


def proposal(
    key: str = UPGRADE_KEY,
    *,
    kind: str = "upgrade",
    category: str = "regression",
    app: str = "libreoffice",
    target: str | None = "7.6.4",
    title: str = "Upgrade LibreOffice to 7.6.4 in finance",
    departments: tuple[str, ...] = ("finance",),
    hosts: tuple[str, ...] = ("fin-1", "fin-2"),
    finding_keys: tuple[str, ...] = ("version_change|libreoffice|7.5.9|7.6.4",),
    score: float = 10.0,
    net_benefit: Decimal | None = Decimal("1234.56"),
    currency: str = "EUR",
    document: dict[str, Any] | None = None,
) -> Proposal:
    """A proposal; each argument left out is a plausible figure."""
    return Proposal(
        key=key,
        kind=kind,
        category=category,
        app=app,
        target=target,
        title=title,
        departments=departments,
        hosts=hosts,
        finding_keys=finding_keys,
        score=score,
        net_benefit_per_year=net_benefit,
        currency=currency,
        document={"seconds_saved": [0.4, 0.2, 0.6], "explanation": "7.6.4 is 25 % slower"}
        if document is None
        else document,
    )


def ram(key: str = RAM_KEY, **figures: Any) -> Proposal:
    """A right-sizing proposal for one host of hr."""
    defaults: dict[str, Any] = {
        "kind": "ram",
        "category": "right_sizing",
        "app": "firefox",
        "target": "16 GiB",
        "title": "Add 8 GiB of RAM to hr-ws-12",
        "departments": ("hr",),
        "hosts": ("hr-12",),
        "finding_keys": ("pressure|firefox|memory",),
        "score": 5.0,
        "net_benefit": Decimal("310.00"),
    }
    return proposal(key, **{**defaults, **figures})


def drive(
    recommendations: Recommendations, wanted: dict[str, RecommendationState], *, now: float = T0
) -> None:
    """Bring each key of ``wanted`` to its state, as people and the loop would: a run proposes
    them all, each takes its steps, and a second run (at ``now + 10``) leaves out the keys
    meant to be obsolete. Deferrals end at ``now + 30 days``."""
    recommendations.propose([proposal(key) for key in wanted], now=now)
    for key, state in wanted.items():
        if state in ("approved", "rolled_out", "verified", "reopened"):
            recommendations.decide(key, verdict="approve", actor="alice", now=now + 1)
        if state in ("rolled_out", "verified", "reopened"):
            recommendations.mark_rolled_out(key, now=now + 2, detail={"hosts": ["fin-1"]})
        if state == "verified":
            recommendations.mark_verified(key, now=now + 3, realised=SAVED)
        if state == "reopened":
            recommendations.reopen(key, now=now + 3, reason="slower after", realised=LOST)
        if state == "rejected":
            recommendations.decide(
                key, verdict="reject", actor="alice", reason="not now", now=now + 1
            )
        if state == "deferred":
            recommendations.decide(
                key, verdict="defer", actor="alice", until=now + 30 * DAY, now=now + 1
            )
    recommendations.propose(
        [proposal(key) for key, state in wanted.items() if state != "obsolete"], now=now + 10
    )


SAVED: dict[str, Any] = {"seconds_per_launch": 0.35, "interval": [0.3, 0.4], "hosts": 12}
LOST: dict[str, Any] = {"seconds_per_launch": -0.5, "interval": [-0.6, -0.4], "hosts": 12}
