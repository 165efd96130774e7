"""Pilots: where the evidence is weak, change a few representative hosts first and measure.

**When** (:func:`pilot_reason`): no evidence at all (nobody runs the target, or the fleet
cannot tell the change apart from what it comes with); a saving read off a finding rather
than the fleet; fewer than ``strong_evidence_hosts`` hosts already changed; or an interval
that reaches zero.

**The measurement**: the median load time of one app's starts of one kind (the one carrying
most of the saving, or the finding's), on the pilot hosts against the hosts that stay as they
are, before and after the change: a **difference in differences**, so weekly cycles and
fleet-wide changes cancel. Per host its level after less its level before (the analysis'
per-host shift); the pilot's trimmed mean of those less the others'.

**How long**: a power calculation on the fleet's own noise and launch rates. A host's level
over ``d`` days is the mean of its daily medians, whose day-to-day variance ``v`` the fleet
shows (:attr:`UsageFacts.noise`, the median over the hosts in question); it launches the app
that way on a share ``f`` of days, and its level before is already measured over ``b`` days.
A host's shift then has variance ``v (1/b + 1/(d f))``; the difference of the two groups'
means ``v (1/b + 1/(d f)) (1/n + 1/m)`` for ``n`` pilot and ``m`` other hosts. The effect to
detect, ``delta`` (the predicted saving on the log scale; without a prediction the finding's
effect undone, or the smallest change the analysis reports, 10 %), is seen at two-sided
``pilot_alpha`` with ``pilot_power`` when ``delta >= (z(1 - alpha/2) + z(power)) * sd``. The
pilot is the smallest group from ``pilot_min_hosts`` (at most half the hosts) that gets there
within ``pilot_max_days``, for the fewest days, in whole weeks (at least one: a weekly cycle
must cancel). If none does, the largest group and the days it would need, marked as not
powered.

**Which hosts**: spread over departments and hardware (disk, RAM and core levels) in
proportion, each stratum at least one host while the group allows, the largest first; within
a stratum in a fixed pseudo-random order of the recommendation's key and the host's id, so a
pilot group stays the same from run to run.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats

from advisor.analysis.cohorts import CORE_BINS, RAM_BINS
from advisor.analysis.start_kinds import KIND_NAMES
from advisor.recommend.benefit import Benefit
from advisor.recommend.evidence import levels_of
from advisor.recommend.facts import FleetFacts
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import Remedy

__all__ = ["SMALLEST_EFFECT", "Pilot", "pilot_days", "pilot_reason", "plan_pilot"]

SMALLEST_EFFECT = 0.10
"""The smallest change the analysis reports (FleetParameters.min_effect): what a pilot
without any prediction is sized to see."""


@dataclass(frozen=True, slots=True)
class Pilot:
    """A pilot (module docstring): ``hosts`` (codes) to change first, the app and start kind
    measured, the share of load time to detect and where that figure comes from, for how
    many days, against how many other hosts, on what noise; ``powered`` False when no group
    within the limits sees the effect in ``pilot_max_days``."""

    reason: str
    hosts: tuple[int, ...]
    app: str
    start: str
    effect: float
    effect_basis: str
    days: int
    comparison_hosts: int
    noise_sd: float | None
    launch_day_share: float | None
    baseline_days: float | None
    powered: bool
    measurement: str


def pilot_reason(benefit: Benefit, params: RecommendParameters) -> str | None:
    """Why ``benefit``'s evidence is too weak to roll out at once, or None."""
    if benefit.basis == "none":
        return "no evidence: no host has this change yet, or the fleet cannot tell it apart"
    if benefit.basis == "finding":
        return "the saving is read off a finding, not off hosts that have the change"
    if benefit.target_hosts < params.strong_evidence_hosts:
        return f"only {benefit.target_hosts} hosts have the change already"
    span = benefit.seconds_per_launch
    if span is not None and span.low <= 0:
        return "the saving's interval reaches zero"
    return None


def pilot_days(
    delta: float,
    noise: float,
    day_share: float,
    baseline_days: float,
    pilot_hosts: int,
    other_hosts: int,
    params: RecommendParameters,
) -> float:
    """Days a pilot needs to see ``delta`` (log scale), or inf if no number of days will
    (module docstring).

    >>> round(pilot_days(0.2, 0.01, 1.0, 10, 8, 40, RecommendParameters()), 2)
    0.3
    """
    if delta <= 0 or noise <= 0 or day_share <= 0 or pilot_hosts < 1 or other_hosts < 1:
        return math.inf
    z = stats.norm.ppf(1 - params.pilot_alpha / 2) + stats.norm.ppf(params.pilot_power)
    need = float(z) ** 2 * noise * (1 / pilot_hosts + 1 / other_hosts)
    room = delta**2 / need - 1 / max(baseline_days, 1.0)
    return 1 / (day_share * room) if room > 0 else math.inf


def plan_pilot(
    remedy: Remedy,
    benefit: Benefit,
    facts: FleetFacts,
    reason: str,
    params: RecommendParameters,
) -> Pilot:
    """The pilot of ``remedy`` (module docstring)."""
    usage = facts.usage
    app, cold = _measured(remedy, benefit, facts)
    share, basis = _effect(remedy, benefit, facts.apps[app], KIND_NAMES[int(cold)])
    delta = -math.log1p(-share)
    kind_rows = np.flatnonzero((usage.app == app) & (usage.cold == cold) & np.isfinite(usage.level))
    mine = kind_rows[np.isin(usage.host[kind_rows], np.asarray(remedy.hosts, dtype=np.int64))]
    candidates = np.unique(usage.host[mine]) if mine.size else np.asarray(remedy.hosts)
    pool = mine if mine.size else kind_rows
    noise = _median(usage.noise[pool])
    if noise is None:
        noise = _median(usage.noise[kind_rows])
    day_share = _median(np.minimum(usage.days[pool] / facts.recent_days, 1.0))
    baseline = _median(usage.days[pool].astype(np.float64))
    measured_hosts = np.unique(usage.host[kind_rows]).size
    largest = max(1, min(params.pilot_max_hosts, candidates.size // 2 or 1))
    smallest = min(params.pilot_min_hosts, largest)
    chosen_n, days = largest, math.inf
    for n in range(smallest, largest + 1):
        needed = pilot_days(
            delta,
            noise or 0.0,
            day_share or 0.0,
            baseline or 1.0,
            n,
            max(measured_hosts - n, 1),
            params,
        )
        if needed <= params.pilot_max_days:
            chosen_n, days = n, needed
            break
        days = needed
    powered = days <= params.pilot_max_days
    whole_weeks = 7 * max(1, math.ceil(days / 7)) if math.isfinite(days) else params.pilot_max_days
    hosts = _spread(remedy.key, candidates, chosen_n, facts)
    others = max(measured_hosts - len(hosts), 0)
    name, start = facts.apps[app], KIND_NAMES[int(cold)]
    measurement = (
        f"median {start} start of {name} on the {len(hosts)} pilot hosts against the other "
        f"{others} hosts running it, {whole_weeks} days before and after the change "
        "(difference in differences: per host its level after less before, the pilot's "
        "trimmed mean less the others')"
    )
    return Pilot(
        reason=reason,
        hosts=hosts,
        app=name,
        start=start,
        effect=round(share, 4),
        effect_basis=basis,
        days=whole_weeks,
        comparison_hosts=others,
        noise_sd=None if noise is None else round(math.sqrt(noise), 4),
        launch_day_share=None if day_share is None else round(day_share, 3),
        baseline_days=baseline,
        powered=powered,
        measurement=measurement,
    )


def _median(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _measured(remedy: Remedy, benefit: Benefit, facts: FleetFacts) -> tuple[int, bool]:
    """The app and start kind a pilot measures (module docstring)."""
    code = {name: i for i, name in enumerate(facts.apps)}
    useful = [
        item
        for item in benefit.evidence
        if item.seconds_per_launch is not None and item.app in code
    ]
    if useful:
        item = max(
            useful,
            key=lambda i: (
                (i.seconds_per_launch.estimate * i.launches_per_day, i.app, i.start)
                if i.seconds_per_launch
                else (0.0, i.app, i.start)
            ),
        )
        return code[item.app], item.start == "cold"
    found = [f for f in remedy.findings if f.app in code and f.effect.estimate > 0]
    if found:
        f = max(found, key=lambda f: (f.effect.estimate, f.key))
        if "start" in f.scope:
            return code[f.app], f.scope["start"] == "cold"
        return code[f.app], _busier_kind(facts, remedy, code[f.app])
    apps = [code[remedy.app]] if remedy.app in code else list(remedy.apps)
    usage = facts.usage
    rows = np.flatnonzero(
        np.isin(usage.host, np.asarray(remedy.hosts, dtype=np.int64)) & np.isin(usage.app, apps)
    )
    if rows.size == 0:
        return apps[0] if apps else 0, False
    launches = np.bincount(usage.app[rows], weights=usage.launches_per_day[rows])
    app = int(np.argmax(launches))
    return app, _busier_kind(facts, remedy, app)


def _busier_kind(facts: FleetFacts, remedy: Remedy, app: int) -> bool:
    usage = facts.usage
    rows = np.flatnonzero(
        (usage.app == app) & np.isin(usage.host, np.asarray(remedy.hosts, dtype=np.int64))
    )
    cold = float(usage.launches_per_day[rows][usage.cold[rows]].sum())
    warm = float(usage.launches_per_day[rows][~usage.cold[rows]].sum())
    return cold > warm


def _effect(remedy: Remedy, benefit: Benefit, app: str, start: str) -> tuple[float, str]:
    """The share of load time to detect, and where it comes from."""
    for item in benefit.evidence:
        if item.app == app and item.start == start and item.share and item.share.estimate > 0:
            return min(item.share.estimate, 0.95), "predicted"
    effects = [
        f.effect.estimate
        for f in remedy.findings
        if f.app == app and f.effect.estimate > 0 and f.scope.get("start", start) == start
    ]
    if effects:
        e = max(effects)
        return e / (1 + e), "the finding's slowdown undone"
    return SMALLEST_EFFECT, "the smallest change the analysis reports"


def _spread(key: str, candidates: np.ndarray, n: int, facts: FleetFacts) -> tuple[int, ...]:
    """``n`` hosts spread over departments and hardware (module docstring)."""
    hosts = facts.hosts
    ram = levels_of(hosts.ram_gib, RAM_BINS)
    cores = levels_of(hosts.cores, CORE_BINS)
    strata: defaultdict[tuple[str, bool, int, int], list[int]] = defaultdict(list)
    for h in sorted(
        candidates.tolist(), key=lambda h: zlib.crc32(f"{key}|{hosts.host_id[h]}".encode())
    ):
        strata[hosts.department[h], bool(hosts.hdd[h]), int(ram[h]), int(cores[h])].append(h)
    order = sorted(strata, key=lambda s: (-len(strata[s]), s))
    total = sum(len(v) for v in strata.values())
    n = min(n, total)
    take = dict.fromkeys(order, 0)
    for s in order[:n]:
        take[s] = 1
    left = n - sum(take.values())
    if left > 0:
        quota = {s: len(strata[s]) * n / total for s in order}
        while left > 0:
            s = max(
                (s for s in order if take[s] < len(strata[s])),
                key=lambda s: (quota[s] - take[s], -order.index(s)),
            )
            take[s] += 1
            left -= 1
    return tuple(sorted(h for s in order for h in strata[s][: take[s]]))
