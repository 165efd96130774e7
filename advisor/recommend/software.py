"""Software remedies: per app and installed version, upgrade, roll back, or leave an
end-of-life version (the rules: :mod:`advisor.recommend.remedies`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from advisor.analysis.findings import Finding
from advisor.recommend.evidence import Change, Evidence
from advisor.recommend.facts import FleetFacts
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import Category, Kind, Remedy, hosts_phrase
from advisor.recommend.vendor import VendorCatalog

__all__ = ["software_remedies"]

IntArray = npt.NDArray[np.int64]


@dataclass
class _VersionProblem:
    app: int
    label: int
    hosts: IntArray
    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)


def software_remedies(
    facts: FleetFacts,
    findings: Sequence[Finding],
    evidence: Evidence,
    catalog: VendorCatalog,
    params: RecommendParameters,
) -> list[Remedy]:
    app_code = {name: i for i, name in enumerate(facts.apps)}
    labels = evidence.labels
    label_code = {name: i for i, name in enumerate(labels)}
    usage = facts.usage
    problems: dict[tuple[int, int], _VersionProblem] = {}

    def problem(app: int, label: int) -> _VersionProblem | None:
        if (app, label) not in problems:
            rows = np.flatnonzero((usage.app == app) & (evidence.row_label == label))
            hosts = np.unique(usage.host[rows])
            if hosts.size == 0:
                return None
            problems[app, label] = _VersionProblem(app, label, hosts)
        return problems[app, label]

    regressed: defaultdict[int, set[int]] = defaultdict(set)
    # Per app, a version the fleet found slower -> the version it was slower than.
    slower_than: defaultdict[str, dict[str, str]] = defaultdict(dict)
    for f in findings:
        if f.kind != "version_change" or f.app not in app_code:
            continue
        app = app_code[f.app]
        new = _label(catalog, f.app, f.scope.get("version", ""), label_code)
        old = _label(catalog, f.app, f.scope.get("from_version", ""), label_code)
        if f.direction == "slower" and f.cause == "version":
            # By name: a version every host has left since still counts.
            newer, older = (
                _vendor_name(catalog, f.app, f.scope.get(k, ""))
                for k in ("version", "from_version")
            )
            if newer and older:
                slower_than[f.app][newer] = older
        if f.direction == "slower" and f.cause == "version" and new is not None:
            regressed[app].add(new)
            p = problem(app, new)
            if p is not None:
                p.regressions.append(f)
        elif f.direction == "faster" and old is not None and new is not None:
            p = problem(app, old)
            if p is not None:
                p.improvements.append(f)
    # End of life: every version the fleet runs that the catalog calls end-of-life.
    for app, label in sorted(
        set(zip(usage.app.tolist(), evidence.row_label.tolist(), strict=True))
    ):
        if label < 0:
            continue
        verdict = catalog.answer(facts.apps[app], labels[label])
        if verdict is not None and verdict.end_of_life:
            problem(app, label)
    found: list[Remedy] = []
    for (app, _), p in sorted(problems.items()):
        found += _version_remedies(
            facts, p, evidence, catalog, regressed[app], slower_than[facts.apps[app]], params
        )
    return found


def _vendor_name(catalog: VendorCatalog, app: str, version: str) -> str | None:
    """A fleet version name as the labels name it: the vendor's where the catalog knows."""
    if not version or version == "unknown":
        return None
    vendor = catalog.vendor_version(app, version)
    return vendor if vendor is not None else version


def _label(catalog: VendorCatalog, app: str, version: str, codes: dict[str, int]) -> int | None:
    """The label code of a fleet version name as findings carry it."""
    name = _vendor_name(catalog, app, version)
    return codes.get(name) if name is not None else None


def _version_remedies(
    facts: FleetFacts,
    p: _VersionProblem,
    evidence: Evidence,
    catalog: VendorCatalog,
    regressed: set[int],
    slower_than: dict[str, str],
    params: RecommendParameters,
) -> list[Remedy]:
    app_name = facts.apps[p.app]
    labels = evidence.labels
    installed = labels[p.label]
    verdict = catalog.answer(app_name, installed)
    end_of_life = verdict is not None and verdict.end_of_life
    soon = verdict is not None and verdict.end_of_life_soon and not end_of_life
    if not (p.regressions or p.improvements or end_of_life):
        return []
    # A forced (end-of-life) move takes a slower version if it must: security first, and
    # the benefit says what it costs in time.
    avoid = regressed if (p.regressions or p.improvements) else set()
    candidates = _upgrade_candidates(app_name, installed, catalog, avoid, labels)
    if verdict is None:
        # The catalog does not know the app: a faster version the fleet found is the only
        # candidate, flagged (its end of life cannot be checked).
        for f in p.improvements:
            name = f.scope.get("version", "")
            if name in labels and labels.index(name) not in regressed and name not in candidates:
                candidates.append(name)
    target, proven = _choose_target(facts, p, evidence, catalog, candidates, params)
    group = f"version|{app_name}|{installed}"
    scope = f"from={installed}"
    flags = ["end_of_life"] if end_of_life else (["end_of_life_soon"] if soon else [])
    if verdict is None:
        flags.append("catalog_unknown")
    findings = tuple(p.regressions + p.improvements)
    found: list[Remedy] = []
    n = len(p.hosts)
    if target is not None:
        if p.regressions or p.improvements:
            kind: Kind = "upgrade"
            category: Category = "regression"
            title = f"Upgrade {app_name} {installed} to {target} on {hosts_phrase(n)}"
        else:
            kind, category = "end_of_life", "lifecycle"
            title = f"Upgrade {app_name} {installed} (end of life) to {target} on {hosts_phrase(n)}"
        found.append(
            Remedy(
                key=f"{kind}|{app_name}|{target}|{scope}",
                kind=kind,
                category=category,
                app=app_name,
                target=target,
                scope=scope,
                group=group,
                title=title,
                hosts=tuple(p.hosts.tolist()),
                apps=(p.app,),
                change=Change(version=evidence.code(target)),
                findings=findings,
                flags=tuple(flags),
                from_version=installed,
                target_version=target,
                methods=(params.upgrade_method,),
            )
        )
    if p.regressions and not proven:
        back = _rollback_target(app_name, p, catalog, slower_than)
        if back is not None:
            version, notes = back
            found.append(
                Remedy(
                    key=f"rollback|{app_name}|{version}|{scope}",
                    kind="rollback",
                    category="regression",
                    app=app_name,
                    target=version,
                    scope=scope,
                    group=group,
                    title=f"Roll {app_name} back from {installed} to {version} on "
                    f"{hosts_phrase(n)}",
                    hosts=tuple(p.hosts.tolist()),
                    apps=(p.app,),
                    change=Change(version=evidence.code(version)),
                    findings=findings,
                    fallback=tuple(p.regressions),
                    flags=tuple(flags + list(notes)),
                    from_version=installed,
                    target_version=version,
                    methods=(params.upgrade_method,),
                )
            )
    return found


def _upgrade_candidates(
    app: str,
    installed: str,
    catalog: VendorCatalog,
    regressed: set[int],
    labels: Sequence[str],
) -> list[str]:
    """Vendor versions newer than ``installed``, released, in a cycle that is not
    end-of-life, not found slower, oldest first."""
    verdict = catalog.answer(app, installed)
    if verdict is None:
        return []
    bad = {labels[i] for i in regressed}
    result = []
    for version in verdict.newer:
        if version.version in bad:
            continue
        about = catalog.answer(app, version.version)
        if about is not None and not about.end_of_life:
            result.append(version.version)
    return result


def _choose_target(
    facts: FleetFacts,
    p: _VersionProblem,
    evidence: Evidence,
    catalog: VendorCatalog,
    candidates: list[str],
    params: RecommendParameters,
) -> tuple[str | None, bool]:
    """The upgrade target and whether the fleet proves it saves time (module docstring)."""
    if not candidates:
        return None, False
    labels = evidence.labels
    best: tuple[float, str] | None = None
    for version in candidates:
        if version not in labels:
            continue
        saving = _mean_saving(facts, evidence, p, Change(version=evidence.code(version)), params)
        if saving is not None and (best is None or saving > best[0]):
            best = (saving, version)
    if best is not None and best[0] > 0:
        return best[1], True
    verdict = catalog.answer(facts.apps[p.app], labels[p.label])
    newest = verdict.newest_supported if verdict is not None else None
    if newest is not None and newest in candidates:
        return newest, False
    return candidates[-1], False


def _mean_saving(
    facts: FleetFacts,
    evidence: Evidence,
    p: _VersionProblem,
    change: Change,
    params: RecommendParameters,
) -> float | None:
    """The launch-weighted mean saving (log scale) of ``change`` on the problem's hosts,
    None when no model has ``min_evidence_hosts`` hosts with it or cannot tell."""
    usage = facts.usage
    total, weight = 0.0, 0.0
    for cold in (False, True):
        model = evidence.model(p.app, cold)
        if model is None:
            continue
        rows = np.flatnonzero(
            (usage.app == p.app) & (usage.cold == cold) & np.isin(usage.host, p.hosts)
        )
        contrast = model.contrast(evidence.profile(rows), change)
        if contrast.target_hosts < params.min_evidence_hosts or not contrast.estimable.any():
            continue
        ok = contrast.estimable
        launches = usage.launches_per_day[rows][ok]
        total += float((contrast.saving[ok] * launches).sum())
        weight += float(launches.sum())
    return total / weight if weight > 0 else None


def _rollback_target(
    app: str, p: _VersionProblem, catalog: VendorCatalog, slower_than: dict[str, str]
) -> tuple[str, list[str]] | None:
    """The version the regressed hosts left, if the fleet knows it and it is not
    end-of-life; with a note when the catalog cannot say. Where the fleet found that version
    slower than the one before it too (a rollout that went wrong on top of a regression),
    back past it to the last version not found slower."""
    for f in p.regressions:
        old = f.scope.get("from_version", "")
        if not old or old == "unknown":
            continue
        vendor = catalog.vendor_version(app, old)
        version = vendor if vendor is not None else old
        seen = {version}
        while version in slower_than and slower_than[version] not in seen:
            version = slower_than[version]
            seen.add(version)
        known = catalog.vendor_version(app, version) is not None
        about = catalog.answer(app, version) if known else None
        if about is not None and about.end_of_life:
            continue
        return version, ([] if about is not None else ["catalog_unknown"])
    return None
