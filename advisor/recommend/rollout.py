"""The loop after an approval: has the change reached its hosts, how is it measured, and
what follows a rollout that made things worse.

- **Rolled out** (:func:`check_rollout`): a host shows the change when its inventory does:
  the target vendor version installed (an upgrade: that version or a newer one; a roll back:
  that version), with the time of the first inventory that showed it; for hardware, RAM of
  at least the target, a system disk that does not spin, or for a replacement a machine that
  is no longer an old one (no HDD, more cores than ``old_max_cores``), the time unknown (the
  inventory keeps no hardware history). A pilot's hosts are its pilot group.
- **Measured** (:func:`verification_design`): the changed hosts against every host not
  changed over the same days (:mod:`advisor.recommend.verify`). A host whose change has a
  time is before it until that day and after it from the next; one without (hardware) is
  before it until the day of the approval and after it from the day after the rollout was
  seen. Other hosts of the recommendation that changed at an unknown time count only before
  the approval; a host's own version change of the app ends its days as a control.
- **Worse** (:func:`rollback_finding`): a software change measured slower becomes a
  finding of its own (the version regressed, on the changed hosts, by the measured share),
  so the engine proposes a roll back, or a better version if the fleet proves one.

Pure, like the engine: the caller reads the inventory and the stored recommendation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.analysis.findings import Effect, Evidence, Finding, Quantiles, finding_key
from advisor.recommend.hardware import installed_gib
from advisor.recommend.impact import Span
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.vendor import VendorCatalog
from advisor.recommend.verify import NEVER, Design

__all__ = [
    "SOFTWARE_KINDS",
    "HostState",
    "Plan",
    "Rollout",
    "check_rollout",
    "day_of",
    "rollback_finding",
    "shows_change",
    "verification_design",
]

DAY_SECONDS = 86400.0
SOFTWARE_KINDS = ("upgrade", "rollback", "end_of_life")
_GIB = re.compile(r"(\d+)\s*GiB")


def day_of(t: float) -> int:
    """The UTC day number of Unix time ``t``.

    >>> day_of(86400.0 * 3 + 5)
    3
    """
    return math.floor(t / DAY_SECONDS)


@dataclass(frozen=True)
class Plan:
    """An approved recommendation as the loop reads it: what changes (``kind``, ``app``,
    ``target``, vendor versions for software), on which hosts (the pilot group for a pilot),
    measured after how many days (a pilot's; None: the caller's default), and the saving
    predicted (seconds a launch)."""

    key: str
    kind: str
    app: str
    target: str
    from_version: str | None
    target_version: str | None
    hosts: tuple[str, ...]
    departments: tuple[str, ...]
    pilot: bool
    days: int | None
    predicted: Span | None

    @property
    def software(self) -> bool:
        return self.kind in SOFTWARE_KINDS

    @classmethod
    def of(
        cls,
        *,
        key: str,
        kind: str,
        app: str,
        target: str | None,
        hosts: Sequence[str],
        departments: Sequence[str],
        document: Mapping[str, Any],
    ) -> Plan:
        """The plan of a stored recommendation and its document (advisor.recommend.explain):
        a pilot's hosts are those of its hostnames among ``hosts`` (the document lists the
        hostnames in the order of ``hosts``).

        >>> doc = {"hosts": {"hostnames": ["a", "b", "c"]}, "target_version": "3.0",
        ...     "pilot": {"hostnames": ["c"], "days": 14},
        ...     "benefit": {"seconds_per_launch": {"estimate": 0.5, "low": 0.2, "high": 0.8}}}
        >>> plan = Plan.of(key="k", kind="upgrade", app="gimp", target="3.0",
        ...     hosts=["h1", "h2", "h3"], departments=["it"], document=doc)
        >>> plan.hosts, plan.days, plan.predicted
        (('h3',), 14, Span(estimate=0.5, low=0.2, high=0.8))
        """
        pilot = document.get("pilot")
        chosen = tuple(hosts)
        days = None
        if isinstance(pilot, dict):
            names = set(pilot.get("hostnames") or ())
            listed = (document.get("hosts") or {}).get("hostnames") or []
            if len(listed) == len(hosts):
                chosen = tuple(h for h, name in zip(hosts, listed, strict=True) if name in names)
            raw_days = pilot.get("days")
            days = int(raw_days) if isinstance(raw_days, int | float) and raw_days > 0 else None
        return cls(
            key=key,
            kind=kind,
            app=app,
            target=target or "",
            from_version=_text(document.get("from_version")),
            target_version=_text(document.get("target_version")),
            hosts=chosen,
            departments=tuple(departments),
            pilot=isinstance(pilot, dict),
            days=days,
            predicted=_span((document.get("benefit") or {}).get("seconds_per_launch")),
        )


@dataclass(frozen=True)
class HostState:
    """A host as its newest inventory describes it: RAM (GiB), system disk, cores (NaN:
    unknown), and the app's packages' versions with the time each was first seen."""

    host_id: str
    ram_gib: float
    hdd: bool
    cores: float
    versions: tuple[tuple[str, float | None], ...] = ()


@dataclass(frozen=True)
class Rollout:
    """Where a plan's change shows: ``changed`` hosts (with when, None: unknown),
    ``waiting`` ones that do not show it yet, ``gone`` ones no longer enrolled."""

    changed: dict[str, float | None]
    waiting: tuple[str, ...]
    gone: tuple[str, ...]

    @property
    def share(self) -> float:
        """The share of the plan's enrolled hosts that show the change (0 without any)."""
        total = len(self.changed) + len(self.waiting)
        return len(self.changed) / total if total else 0.0

    def detail(self) -> dict[str, Any]:
        """What the audit log keeps of it."""
        return {
            "changed": sorted(self.changed),
            "waiting": list(self.waiting),
            "gone": list(self.gone),
            "share": round(self.share, 4),
        }


def shows_change(
    plan: Plan, state: HostState, catalog: VendorCatalog, params: RecommendParameters
) -> tuple[bool, float | None]:
    """Whether ``state`` shows ``plan``'s change, and since when (None: unknown)."""
    if plan.software:
        return _shows_version(plan, state, catalog)
    ram_ok = _ram_reached(plan.target, state.ram_gib)
    if plan.kind == "ram":
        return ram_ok, None
    if plan.kind == "ssd":
        return not state.hdd, None
    if plan.kind == "ram_ssd":
        return ram_ok and not state.hdd, None
    if plan.kind == "replace":
        new = not state.hdd and math.isfinite(state.cores) and state.cores > params.old_max_cores
        return new, None
    return False, None


def check_rollout(
    plan: Plan,
    states: Mapping[str, HostState],
    catalog: VendorCatalog,
    params: RecommendParameters,
) -> Rollout:
    """Which of the plan's hosts show its change (``states``: the enrolled hosts)."""
    changed: dict[str, float | None] = {}
    waiting, gone = [], []
    for host in plan.hosts:
        state = states.get(host)
        if state is None:
            gone.append(host)
            continue
        shown, since = shows_change(plan, state, catalog, params)
        if shown:
            changed[host] = since
        else:
            waiting.append(host)
    return Rollout(changed, tuple(waiting), tuple(gone))


def verification_design(
    plan: Plan,
    changed: Mapping[str, float | None],
    *,
    host_codes: Mapping[str, int],
    decided_at: float,
    rolled_out_at: float,
    late: Sequence[str] = (),
    own_changes: Mapping[str, float] | None = None,
) -> Design:
    """The design of the measurement (module docstring). ``changed`` are the hosts changed by
    the rollout (with when, None: unknown); ``late`` the plan's hosts that showed it only
    later, at an unknown time; ``own_changes`` the first version change of the app of other
    hosts in the days read (software). Hosts not in ``host_codes`` are left out."""
    n = len(host_codes)
    treated = np.zeros(n, dtype=bool)
    before_until = np.full(n, NEVER, dtype=np.int64)
    after_from = np.full(n, NEVER, dtype=np.int64)
    for host, at in (own_changes or {}).items():
        code = host_codes.get(host)
        if code is not None:
            before_until[code] = day_of(at)
    for host in late:
        code = host_codes.get(host)
        if code is not None:
            before_until[code] = day_of(decided_at)
    for host, since in changed.items():
        code = host_codes.get(host)
        if code is None:
            continue
        treated[code] = True
        if since is not None:
            before_until[code] = day_of(since)
            after_from[code] = day_of(since) + 1
        else:
            before_until[code] = day_of(decided_at)
            after_from[code] = day_of(rolled_out_at) + 1
    return Design(treated, before_until, after_from)


def rollback_finding(
    plan: Plan,
    realised: Mapping[str, Any],
    *,
    hosts: Sequence[str],
    departments: Sequence[str],
    since: float,
    detected_at: float,
) -> Finding | None:
    """The regression a software rollout measured slower amounts to (module docstring): its
    target version slower than the version it replaced, by the measured share of load time,
    on the changed ``hosts``. None for hardware, and without both versions or a share."""
    share = _span(realised.get("share"))
    before = realised.get("seconds_before")
    if (
        plan.kind not in ("upgrade", "end_of_life")
        or not plan.from_version
        or not plan.target_version
        or share is None
        or not isinstance(before, int | float)
        or not math.isfinite(before)
    ):
        return None
    scope = {"from_version": plan.from_version, "version": plan.target_version}
    # A share of time saved below zero is a relative slowdown: its effect is the opposite.
    effect = Effect(-share.estimate, -share.high, -share.low)
    after = before * (1 + effect.estimate)
    hosts_count = int(realised.get("hosts") or len(hosts))
    return Finding(
        key=finding_key("version_change", plan.app, scope),
        kind="version_change",
        app=plan.app,
        scope=scope,
        direction="slower",
        effect=effect,
        cause="version",
        confidence=1.0,
        since=since,
        detected_at=detected_at,
        hosts=tuple(sorted(hosts)),
        departments=tuple(sorted(set(departments))),
        evidence=Evidence(
            before=Quantiles(hosts_count, before, before, before),
            after=Quantiles(hosts_count, after, after, after),
            method=f"the rollout of {plan.key}, measured: changed hosts against hosts not "
            "changed over the same days (difference in differences)",
        ),
    )


def _shows_version(
    plan: Plan, state: HostState, catalog: VendorCatalog
) -> tuple[bool, float | None]:
    target = plan.target_version or plan.target
    found: list[float | None] = []
    for version, since in state.versions:
        vendor = catalog.vendor_version(plan.app, version)
        known = catalog.vendor_version(plan.app, target)
        if vendor is None or known is None:
            same = version == target or vendor == target
            order = 0 if same else -1
        else:
            order = catalog.compare(plan.app, vendor, known)
        if order == 0 or (order > 0 and plan.kind != "rollback"):
            found.append(since)
    if not found:
        return False, None
    times = [t for t in found if t is not None]
    return True, (max(times) if len(times) == len(found) else None)


def _ram_reached(target: str, ram_gib: float) -> bool:
    match = _GIB.search(target)
    size = installed_gib(ram_gib)
    return match is not None and size is not None and size >= int(match.group(1))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _span(value: object) -> Span | None:
    if not isinstance(value, dict):
        return None
    figures = [value.get(k) for k in ("estimate", "low", "high")]
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in figures):
        return None
    estimate, low, high = (float(x) for x in figures)  # type: ignore[arg-type]
    return Span(estimate, low, high)
