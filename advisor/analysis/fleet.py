"""The fleet analysis: from one :class:`FleetData`, every finding of a run, attributed.

Pure: no I/O, no clock (``now`` is passed in), deterministic for ``params.seed``. Launches are
read as daily rows (:func:`advisor.analysis.daily.daily_of`: the store's rollups, or rows
derived from ``data.launches``). Every effect is measured per start kind (one finding for
both when they moved alike: :mod:`advisor.analysis.start_kinds`), with hosts as the unit
(:mod:`advisor.analysis.host_effects`), on the hosts the finding names. Each app is
analysed apart (:mod:`advisor.analysis.parts`: the job's parts), in these steps:

1. **Cells** (:mod:`advisor.analysis.fleet_cells`): the daily rows within ``horizon_days``
   of ``now``: the median log load time per host, app, day, start kind and version.
2. **Version changes** (:mod:`advisor.analysis.fleet_versions`): per host and start kind its
   own days before against after its own change, per (app, from, to) and per department.
   Rollouts' effects are then removed from the cells, per start kind at each host's own
   change (docs/analysis.md, "Rollouts"), so the searches below find what the versions do
   not explain (a rollout is one finding, not two; a pilot group is no trend).
3. **Change points and trends** (:mod:`advisor.analysis.fleet_series`) per app and
   department on daily medians, and per host for the hosts that moved most.
4. **Pressure** (:mod:`advisor.analysis.fleet_pressure`): hosts whose memory, swap, io or
   cpu pressure rose against hosts without a rise.
5. **Cohorts** (:mod:`advisor.analysis.cohorts`): hardware tiers, one model over hardware,
   version, department and pressure, hardware that travels together merged into one tier.
6. **False discovery control** across every candidate test of the app's part
   (Benjamini-Hochberg, :mod:`advisor.analysis.fdr`): a finding needs ``q <= alpha`` and a
   relative effect of at least ``min_effect``; its interval (bootstrap over hosts) is
   computed then.
7. **One finding per thing** (:func:`_one_per_thing`): the precise finding is kept; a
   department change point or trend that pressure findings explain is dropped, or measured
   again on the hosts they do not name.

docs/analysis.md ("Fleet analysis") describes the methods and parameters.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from advisor.analysis.candidates import Candidate, fixed
from advisor.analysis.cohorts import cohort_candidates
from advisor.analysis.daily import daily_of
from advisor.analysis.fdr import q_values
from advisor.analysis.findings import Direction, Effect, Evidence, Finding, finding_key
from advisor.analysis.fleet_cells import build_cells, pressure_grid, working_days
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.fleet_pressure import pressure_candidates
from advisor.analysis.fleet_series import SeriesContext, series_candidates
from advisor.analysis.fleet_versions import version_candidates, without_rollouts
from advisor.analysis.frames import FleetData
from advisor.analysis.parts import app_parts

__all__ = ["FleetParameters", "analyse"]

IntArray = npt.NDArray[np.int64]


def analyse(data: FleetData, *, now: float, params: FleetParameters | None = None) -> list[Finding]:
    """Every finding in ``data`` as of ``now``, sorted by key (see the module docstring).

    Each app is analysed on its own part of ``data`` (:mod:`advisor.analysis.parts`), with
    false discovery control over its own tests: as the analysis job runs it, one part per
    lease, so its findings do not depend on how advisors shared the parts.
    """
    params = params or FleetParameters()
    found: list[Finding] = []
    for _, part in app_parts(data):
        found += _analyse_app(part, now=now, params=params)
    return sorted(found, key=lambda f: f.key)


def _analyse_app(data: FleetData, *, now: float, params: FleetParameters) -> list[Finding]:
    """The findings of one app's part (the steps of the module docstring)."""
    daily = daily_of(data)
    hosts = daily.hosts
    if len(daily) == 0 or len(hosts) == 0:
        return []
    departments, department = np.unique(
        np.asarray(hosts.department, dtype=str), return_inverse=True
    )
    department = department.reshape(-1).astype(np.int64)
    dept_names = [str(d) for d in departments.tolist()]
    cells = build_cells(daily, now=now, horizon_days=params.horizon_days)
    if len(cells) == 0:
        return []
    working = working_days(cells, params.working_day_share)
    grid = pressure_grid(data, day0=cells.day0, days=cells.days, working=working)
    candidates, shifts = version_candidates(
        cells,
        data.changes,
        grid,
        department,
        dept_names,
        apps=daily.apps,
        versions=daily.versions,
        now=now,
        params=params,
    )
    cells = without_rollouts(cells, shifts, len(daily.apps))
    context = SeriesContext(data, grid, department, dept_names, shifts, params, working)
    candidates += series_candidates(cells, context)
    candidates += pressure_candidates(data, cells, grid, working, params=params)
    candidates += cohort_candidates(data, cells, grid, department, dept_names, params=params)[0]
    kept = _discoveries(candidates, params)
    return _findings(_one_per_thing(kept, params), hosts.host_id, department, dept_names, now)


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


def _one_per_thing(kept: list[Candidate], params: FleetParameters) -> list[Candidate]:
    """Leave out findings that a more precise finding of the same app already explains.

    A host's change point is left out when any wider finding of its app names the host. A
    department's change point or trend whose hosts pressure findings of its app name is
    left out when they name at least half of its hosts (the precise findings carry it);
    when they name fewer, it is measured again without them (``Candidate.remeasure``) and
    stays, on the other hosts, only if they still moved (p <= alpha, at least
    ``min_effect``). The precise finding is never traded for the coarser one, and a finding
    never reports an effect measured on hosts it does not name. (Rollouts' effects were
    removed before any series was built, so version findings explain no change point.)
    """
    result: list[Candidate] = []
    for c in kept:
        if c.kind not in ("change_point", "trend"):
            result.append(c)
            continue
        if "host" in c.scope:
            wider = [e for e in kept if e.app == c.app and "host" not in e.scope]
            if not any(np.isin(c.hosts, e.hosts).any() for e in wider):
                result.append(c)
            continue
        explained = [e.hosts for e in kept if e.kind == "pressure" and e.app == c.app]
        named = np.unique(np.concatenate(explained)) if explained else np.empty(0, np.int64)
        inside = np.isin(c.hosts, named)
        if not inside.any():
            result.append(c)
            continue
        if inside.mean() >= 0.5:
            continue
        again = c.remeasure(named) if c.remeasure is not None else None
        if again is None or not _holds(again, params):
            continue
        again.q_value = max(c.q_value, again.p_value)
        again.interval = fixed(again.interval())
        result.append(again)
    return result


def _holds(candidate: Candidate, params: FleetParameters) -> bool:
    """Whether a re-measured candidate still makes a finding on its own test."""
    p = candidate.p_value
    large = abs(math.expm1(candidate.estimate)) >= params.min_effect
    return math.isfinite(p) and p <= params.alpha and large


def _findings(
    kept: list[Candidate],
    host_ids: list[str],
    department: IntArray,
    departments: list[str],
    now: float,
) -> list[Finding]:
    findings: dict[str, Finding] = {}
    for c in kept:
        low, high = c.interval()
        estimate = c.estimate
        if math.isfinite(low) and math.isfinite(high):
            low, high = min(low, estimate), max(high, estimate)
        direction: Direction = "slower" if estimate > 0 else "faster"
        key = finding_key(c.kind, c.app, c.scope)
        hosts = np.unique(c.hosts)
        before, after = c.sides()
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
                before=before,
                after=after,
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
