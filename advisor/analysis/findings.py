"""What the fleet analysis concludes: findings, each with its cause and its evidence.

A finding says that an application got slower (or faster) for a set of hosts, since when, by
how much (with an interval), and why: a version change, resource pressure, a hardware tier, or
unknown, with a confidence. Its ``key`` is stable across analysis runs (same kind, app and
scope give the same key), so the store can update a finding run after run and, by the policy
of :mod:`advisor.analysis.stability`, open it once confirmed and resolve it once runs have
stopped finding it. Recommendations (a later stage) start from findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["version_change", "change_point", "trend", "pressure", "hardware_tier"]
Cause = Literal["version", "memory", "swap", "disk_io", "cpu", "hardware_tier", "unknown"]
Direction = Literal["slower", "faster"]

KINDS: tuple[Kind, ...] = ("version_change", "change_point", "trend", "pressure", "hardware_tier")
CAUSES: tuple[Cause, ...] = (
    "version",
    "memory",
    "swap",
    "disk_io",
    "cpu",
    "hardware_tier",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class Quantiles:
    """A load-time distribution in seconds: how many launches, and where they lie."""

    count: int
    p10: float
    p50: float
    p90: float


@dataclass(frozen=True, slots=True)
class Effect:
    """The relative change of the median load time: +0.25 is 25 % slower, -0.2 20 % faster,
    with a confidence interval (``low`` <= ``estimate`` <= ``high``)."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why the finding is believed: the distributions compared and the test's numbers."""

    before: Quantiles
    after: Quantiles
    p_value: float | None = None
    q_value: float | None = None  # after multiple-testing control across the run
    method: str = ""  # e.g. "per-host before/after at the version change, bootstrap CI"
    detail: dict[str, float] = field(default_factory=dict)  # named extra figures


@dataclass(frozen=True, slots=True)
class Finding:
    """One degradation (or improvement) found by one analysis run.

    ``scope`` names what it is about beyond the app, e.g. ``{"version": "7.6.4",
    "from_version": "7.5.9", "department": "finance"}`` or ``{"tier": "hdd"}``; ``key`` is
    built from kind, app and scope (see :func:`finding_key`). ``since`` is when the change
    began (Unix seconds), ``detected_at`` the ``now`` of the run that found it.
    """

    key: str
    kind: Kind
    app: str
    scope: dict[str, str]
    direction: Direction
    effect: Effect
    cause: Cause
    confidence: float  # 0..1: how sure the attribution to ``cause`` is
    since: float
    detected_at: float
    hosts: tuple[str, ...]  # host ids affected
    departments: tuple[str, ...]
    evidence: Evidence


def finding_key(kind: Kind, app: str, scope: dict[str, str]) -> str:
    """A stable identity for a finding across runs.

    >>> finding_key("version_change", "libreoffice", {"version": "7.6", "from_version": "7.5"})
    'version_change|libreoffice|from_version=7.5|version=7.6'
    """
    parts = [kind, app, *(f"{name}={scope[name]}" for name in sorted(scope))]
    return "|".join(parts)
