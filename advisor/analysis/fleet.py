"""The fleet analysis: from one :class:`FleetData`, every finding of a run, attributed.

Pure: no I/O, no clock (``now`` is passed in), deterministic for ``params.seed``. Steps:

1. **Cells** (:mod:`advisor.analysis.fleet_cells`): launches within ``horizon_days`` of
   ``now`` reduced to the median log load time per host, app, day, start kind and version.
2. **Version changes** (:mod:`advisor.analysis.fleet_versions`): each moved host before
   against after its own change time, pooled per (app, from, to) and per department.
   Rollouts' estimated effects are then removed from the cells, so the searches below find
   what the versions do not explain (a rollout is one finding, not two).
3. **Change points and trends** (:mod:`advisor.analysis.fleet_series`) per app and
   department on daily medians, and per host for the hosts that moved most.
4. **Pressure** (:mod:`advisor.analysis.fleet_pressure`): hosts whose memory, swap, io or
   cpu pressure rose against hosts without a rise.
5. **Cohorts** (:mod:`advisor.analysis.cohorts`): hardware tiers, controlling for the rest.
6. **False discovery control** across every candidate test of the run (Benjamini-Hochberg,
   :mod:`advisor.analysis.fdr`): a finding needs ``q <= alpha`` and a relative effect of at
   least ``min_effect``; its interval (bootstrap over hosts) is computed then.
7. **One finding per thing**: a department or host change that a pressure, version or tier
   finding of the same app already covers is left out; a department trend or change point
   attributed to a pressure keeps the pressure's hosts and replaces that pressure finding
   when most of those hosts are in the department.

docs/analysis.md ("Fleet analysis") describes the methods and parameters.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from advisor.analysis.candidates import Candidate, fixed
from advisor.analysis.cohorts import cohort_candidates
from advisor.analysis.fdr import q_values
from advisor.analysis.findings import Direction, Effect, Evidence, Finding, finding_key
from advisor.analysis.fleet_cells import (
    Cells,
    build_cells,
    pressure_grid,
    usable_launches,
    working_days,
)
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.fleet_pressure import pressure_candidates
from advisor.analysis.fleet_series import SeriesContext, series_candidates
from advisor.analysis.fleet_versions import VersionShift, version_candidates
from advisor.analysis.frames import FleetData

__all__ = ["FleetParameters", "analyse"]

IntArray = npt.NDArray[np.int64]
DAY_SECONDS = 86400.0


def analyse(data: FleetData, *, now: float, params: FleetParameters | None = None) -> list[Finding]:
    """Every finding in ``data`` as of ``now``, sorted by key (see the module docstring)."""
    params = params or FleetParameters()
    if len(data.launches) == 0 or len(data.launches.hosts) == 0:
        return []
    departments, department = np.unique(
        np.asarray(data.launches.hosts.department, dtype=str), return_inverse=True
    )
    department = department.reshape(-1).astype(np.int64)
    dept_names = [str(d) for d in departments.tolist()]
    usable = usable_launches(data.launches, now=now, horizon_days=params.horizon_days)
    if usable.size == 0:
        return []
    cells = build_cells(data, usable, now=now, horizon_days=params.horizon_days)
    candidates, shifts = version_candidates(
        data, usable, cells, department, dept_names, now=now, params=params
    )
    cells = _without_rollouts(cells, shifts, len(data.launches.apps))
    working = working_days(cells, params.working_day_share)
    grid = pressure_grid(data, day0=cells.day0, days=cells.days, working=working)
    context = SeriesContext(data, grid, department, dept_names, shifts, params, working)
    candidates += series_candidates(cells, context)
    candidates += pressure_candidates(data, cells, grid, working, params=params)
    tiers, _ = cohort_candidates(data, cells, department, dept_names, params=params)
    candidates += tiers
    kept = _discoveries(candidates, params)
    return _findings(_one_per_thing(kept), data, department, dept_names, now)


def _without_rollouts(cells: Cells, shifts: list[VersionShift], n_apps: int) -> Cells:
    """Cells with each rollout's effect taken off the days after each host's change."""
    if not shifts:
        return cells
    level = cells.level.copy()
    for shift in shifts:
        rows = cells.by_app[shift.app]
        change_day = np.full(int(cells.host.max()) + 1, np.inf)
        change_day[shift.hosts] = (shift.at - cells.day0) / DAY_SECONDS
        after = cells.day[rows] >= np.floor(change_day[cells.host[rows]])
        level[rows[after]] -= shift.estimate
    return cells.with_levels(level, n_apps)


def _discoveries(candidates: list[Candidate], params: FleetParameters) -> list[Candidate]:
    """Candidates with q <= alpha and a large enough effect, their intervals computed."""
    q = q_values([c.p_value for c in candidates])
    kept = []
    for candidate, qi in zip(candidates, q, strict=True):
        candidate.q_value = float(qi)
        large = abs(math.expm1(candidate.estimate)) >= params.min_effect
        if not (math.isfinite(qi) and qi <= params.alpha and large):
            continue
        bounds = candidate.interval()
        if candidate.keep is not None and not candidate.keep(candidate, bounds):
            continue
        candidate.interval = fixed(bounds)
        kept.append(candidate)
    return kept


def _one_per_thing(kept: list[Candidate]) -> list[Candidate]:
    """Leave out findings that another finding of the same app already explains.

    A host's change point is left out when any wider finding of its app names the host. A
    department's change point or trend is left out when version or pressure findings
    explain at least half of it (share of its hosts they name x their effect); when one of
    them is a pressure finding of the same cause with most of its hosts in the department,
    the department finding stays, with those hosts, and replaces it.
    """
    explaining = [c for c in kept if c.kind in ("version_change", "pressure")]
    result: list[Candidate] = []
    replaced: set[int] = set()
    for c in kept:
        if c.kind not in ("change_point", "trend"):
            continue
        same = [e for e in explaining if e.app == c.app]
        if "host" in c.scope:
            wider = [e for e in kept if e.app == c.app and "host" not in e.scope]
            if not any(np.isin(c.hosts, e.hosts).any() for e in wider):
                result.append(c)
            continue
        explained = 0.0
        replacing: list[Candidate] = []
        for e in same:
            share = float(np.isin(c.hosts, e.hosts).mean()) if c.hosts.size else 0.0
            inside = float(np.isin(e.hosts, c.hosts).mean()) if e.hosts.size else 0.0
            if e.kind == "pressure" and e.cause == c.cause and inside >= 0.6:
                replacing.append(e)
            elif np.sign(e.estimate) == np.sign(c.estimate):
                explained += share * abs(math.expm1(e.estimate))
        if replacing:
            replaced.update(id(e) for e in replacing)
            c.hosts = np.intersect1d(np.concatenate([e.hosts for e in replacing]), c.hosts)
            result.append(c)
        elif explained < 0.5 * abs(math.expm1(c.estimate)):
            result.append(c)
    result.extend(
        e for e in kept if e.kind != "change_point" and e.kind != "trend" and id(e) not in replaced
    )
    return result


def _findings(
    kept: list[Candidate],
    data: FleetData,
    department: IntArray,
    departments: list[str],
    now: float,
) -> list[Finding]:
    host_ids = data.launches.hosts.host_id
    findings: dict[str, Finding] = {}
    for c in kept:
        low, high = c.interval()
        estimate = c.estimate
        if math.isfinite(low) and math.isfinite(high):
            low, high = min(low, estimate), max(high, estimate)
        direction: Direction = "slower" if estimate > 0 else "faster"
        key = finding_key(c.kind, c.app, c.scope)
        hosts = np.unique(c.hosts)
        finding = Finding(
            key=key,
            kind=c.kind,
            app=c.app,
            scope=dict(c.scope),
            direction=direction,
            effect=Effect(math.expm1(estimate), math.expm1(low), math.expm1(high)),
            cause=c.cause,
            confidence=float(np.clip(c.confidence, 0.0, 1.0)),
            since=float(c.since),
            detected_at=now,
            hosts=tuple(sorted(host_ids[h] for h in hosts.tolist())),
            departments=tuple(sorted({departments[d] for d in department[hosts].tolist()})),
            evidence=Evidence(
                before=c.before,
                after=c.after,
                p_value=c.p_value,
                q_value=c.q_value,
                method=c.method,
                detail=dict(c.detail),
            ),
        )
        previous = findings.get(key)
        if previous is None or (finding.evidence.q_value or 1.0) < (
            previous.evidence.q_value or 1.0
        ):
            findings[key] = finding
    return [findings[k] for k in sorted(findings)]
