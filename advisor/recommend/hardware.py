"""Hardware remedies: RAM, an SSD, or for old machines RAM and SSD together or a new
machine, per department (the rules: :mod:`advisor.recommend.remedies`)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from advisor.analysis.cohorts import CORE_BINS, RAM_BINS
from advisor.analysis.findings import Finding
from advisor.catalog.costs import CostSettings
from advisor.recommend.evidence import PRESSURES, Change, levels_of
from advisor.recommend.facts import FleetFacts
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import ALL_APPS, Category, HardwarePlan, Remedy, hosts_phrase

__all__ = ["HOST_SIZES_GIB", "hardware_remedies", "installed_gib"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
HOST_SIZES_GIB = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
"""RAM sizes machines are sold with; a host's reported RAM is rounded up to one."""
MEMORY_CAUSES = ("memory", "swap")


def installed_gib(ram_gib: float) -> int | None:
    """The RAM a host was sold with: the smallest usual size at least 90 % of what it
    reports (the kernel keeps some for itself); None when unknown.

    >>> installed_gib(15.6), installed_gib(3.8), installed_gib(8.0), installed_gib(float("nan"))
    (16, 4, 8, None)
    """
    if not math.isfinite(ram_gib) or ram_gib <= 0:
        return None
    for size in HOST_SIZES_GIB:
        if size >= 0.9 * ram_gib:
            return size
    return HOST_SIZES_GIB[-1]


@dataclass
class _Needs:
    ram: list[Finding] = field(default_factory=list)
    ssd: list[Finding] = field(default_factory=list)
    other: list[Finding] = field(default_factory=list)  # cpu pressure, core tiers: old hosts

    def all(self) -> list[Finding]:
        return list({f.key: f for f in self.ram + self.ssd + self.other}.values())


def hardware_remedies(
    facts: FleetFacts,
    findings: Sequence[Finding],
    costs: CostSettings,
    params: RecommendParameters,
) -> list[Remedy]:
    hosts = facts.hosts
    code = {host_id: i for i, host_id in enumerate(hosts.host_id)}
    needs: defaultdict[int, _Needs] = defaultdict(_Needs)
    # A host that launched nothing in the recent days is not in use (or not reporting):
    # nothing to value a change on.
    active = np.zeros(len(hosts), dtype=bool)
    active[facts.usage.host] = True
    for f in findings:
        if f.direction != "slower":
            continue
        parts = _hardware_parts(f)
        if not parts:
            continue
        for host_id in f.hosts:
            h = code.get(host_id)
            if h is None or not active[h]:
                continue
            if "ram" in parts:
                needs[h].ram.append(f)
            if "ssd" in parts and hosts.hdd[h]:
                needs[h].ssd.append(f)
            if "other" in parts:
                needs[h].other.append(f)
    if not needs:
        return []
    installed = np.array([installed_gib(float(g)) or 0 for g in hosts.ram_gib], dtype=np.int64)
    standard = _standard_machine(facts, installed, params)
    units: defaultdict[tuple[str, bool], list[int]] = defaultdict(list)
    for h in sorted(needs):
        old = bool(
            hosts.hdd[h]
            and installed[h] <= params.old_max_ram_gib
            and hosts.cores[h] <= params.old_max_cores
        )
        units[hosts.department[h], old].append(h)
    found: list[Remedy] = []
    for (department, old), members in sorted(units.items()):
        if old:
            found += _old_machines(
                facts, department, members, needs, installed, standard, costs, params
            )
            continue
        ram_hosts = [
            h
            for h in members
            if needs[h].ram and _ram_target(installed[h], standard) > installed[h]
        ]
        by_target: defaultdict[int, list[int]] = defaultdict(list)
        for h in ram_hosts:
            by_target[_ram_target(installed[h], standard)].append(h)
        for target, group_hosts in sorted(by_target.items()):
            found.append(
                _ram(facts, department, group_hosts, target, needs, installed, standard, params)
            )
        ssd_hosts = [h for h in members if needs[h].ssd]
        by_size: defaultdict[int, list[int]] = defaultdict(list)
        for h in ssd_hosts:
            size = _ssd_size(facts, h, costs, params)
            if size is not None:
                by_size[size].append(h)
        for size, group_hosts in sorted(by_size.items()):
            found.append(_ssd(facts, department, group_hosts, size, needs, standard))
    return found


def _hardware_parts(f: Finding) -> set[str]:
    """What hardware a finding points at: ``ram``, ``ssd`` and/or ``other`` (cores, cpu)."""
    if f.kind == "pressure":
        cause = f.scope.get("pressure", f.cause)
        if cause in MEMORY_CAUSES:
            return {"ram"}
        if cause == "disk_io":
            return {"ssd"}
        if cause == "cpu":
            return {"other"}
        return set()
    if f.kind == "hardware_tier":
        parts = set()
        for part in f.scope.get("tier", "").split("+"):
            if part == "hdd":
                parts.add("ssd")
            elif part.startswith("ram<="):
                parts.add("ram")
            elif part.startswith("cores<="):
                parts.add("other")
        return parts
    return set()


@dataclass(frozen=True)
class _Standard:
    """The fleet's standard machine: RAM (GiB), its level, cores level, and the median
    pressures of hosts so equipped (also: of hosts on SSD, of hosts with that RAM)."""

    ram_gib: int
    ram_level: int
    cores_level: int
    pressure: tuple[float | None, ...]
    ssd_io: float | None
    calm_memory: dict[int, tuple[float | None, float | None]]


def _standard_machine(
    facts: FleetFacts, installed: IntArray, params: RecommendParameters
) -> _Standard:
    hosts = facts.hosts
    memory = np.nan_to_num(hosts.memory_pressure, nan=0.0)
    swap = np.nan_to_num(hosts.swap_in_mb, nan=0.0)
    calm = (memory < params.calm_memory_pressure) & (swap < params.calm_swap_mb) & (installed > 0)
    pool = installed[calm] if calm.any() else installed[installed > 0]
    if params.ram_target_gib is not None:
        ram = params.ram_target_gib
    elif pool.size:
        sizes, counts = np.unique(pool, return_counts=True)
        ram = int(sizes[np.lexsort((-sizes, -counts))[0]])
    else:
        ram = 8
    ram_levels = levels_of(installed.astype(np.float64), RAM_BINS)
    core_levels = levels_of(hosts.cores, CORE_BINS)
    known_cores = core_levels[np.isfinite(hosts.cores)]
    cores_level = int(np.bincount(known_cores).argmax()) if known_cores.size else 1
    ram_level = int(levels_of(np.array([float(ram)]), RAM_BINS)[0])
    standard = (~hosts.hdd) & (ram_levels == ram_level) & (core_levels == cores_level)
    pressure = tuple(_median(getattr(hosts, name)[standard]) for name in PRESSURES)
    calm_memory = {
        level: (
            _median(hosts.memory_pressure[ram_levels == level]),
            _median(hosts.swap_in_mb[ram_levels == level]),
        )
        for level in np.unique(ram_levels).tolist()
    }
    return _Standard(
        ram_gib=ram,
        ram_level=ram_level,
        cores_level=cores_level,
        pressure=pressure,
        ssd_io=_median(hosts.io_pressure[~hosts.hdd]),
        calm_memory=calm_memory,
    )


def _median(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _ram_target(installed: int, standard: _Standard) -> int:
    """The RAM a host should have: the standard, or twice its own if it has that."""
    return standard.ram_gib if installed < standard.ram_gib else max(2 * installed, 1)


def _ram_change(target: int, standard: _Standard) -> Change:
    level = int(levels_of(np.array([float(target)]), RAM_BINS)[0])
    memory, swap = standard.calm_memory.get(level, (None, None))
    return Change(ram=level, pressure=(memory, swap, None, None))


def _ssd_size(
    facts: FleetFacts, host: int, costs: CostSettings, params: RecommendParameters
) -> int | None:
    """The smallest SSD of the price list holding the host's disk (or ``ssd_min_gb``)."""
    need = facts.hosts.machine(host).disk_gb or params.ssd_min_gb
    sizes = sorted(size for size in costs.ssd if size >= need)
    return sizes[0] if sizes else None


def _ram_plan(
    facts: FleetFacts,
    members: list[int],
    target: int,
    installed: IntArray,
    params: RecommendParameters,
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    add = tuple(max(target - int(installed[h]), 0) for h in members)
    types = tuple(facts.hosts.machine(h).ram_type or params.ram_module for h in members)
    return add, types


def _ram(
    facts: FleetFacts,
    department: str,
    members: list[int],
    target: int,
    needs: dict[int, _Needs],
    installed: IntArray,
    standard: _Standard,
    params: RecommendParameters,
) -> Remedy:
    sources = _sources(needs, members, "ram")
    add, types = _ram_plan(facts, members, target, installed, params)
    scope = department
    return Remedy(
        key=f"ram|{ALL_APPS}|{target}GiB|{scope}",
        kind="ram",
        category=_category(sources),
        app=ALL_APPS,
        target=f"{target}GiB",
        scope=scope,
        group=f"ram|{scope}",
        title=f"Add RAM to {hosts_phrase(len(members))} in {department or 'no department'}: "
        f"{target} GiB each",
        hosts=tuple(members),
        apps=tuple(range(len(facts.apps))),
        change=_ram_change(target, standard),
        findings=sources,
        fallback=_standing_in(sources, {"ram"}),
        methods=("ram",),
        hardware=HardwarePlan(tuple(members), ram_add_gib=add, ram_type=types),
    )


def _ssd(
    facts: FleetFacts,
    department: str,
    members: list[int],
    size: int,
    needs: dict[int, _Needs],
    standard: _Standard,
) -> Remedy:
    sources = _sources(needs, members, "ssd")
    scope = department
    return Remedy(
        key=f"ssd|{ALL_APPS}|SSD {size}GB|{scope}",
        kind="ssd",
        category=_category(sources),
        app=ALL_APPS,
        target=f"SSD {size}GB",
        scope=scope,
        group=f"ssd|{scope}",
        title=f"Put a {size} GB SSD in {hosts_phrase(len(members))} with a spinning disk in "
        f"{department or 'no department'}",
        hosts=tuple(members),
        apps=tuple(range(len(facts.apps))),
        change=Change(hdd=False, pressure=(None, None, standard.ssd_io, None)),
        findings=sources,
        fallback=_standing_in(sources, {"ssd"}),
        methods=("ssd",),
        hardware=HardwarePlan(tuple(members), ssd_gb=size),
    )


def _old_machines(
    facts: FleetFacts,
    department: str,
    members: list[int],
    needs: dict[int, _Needs],
    installed: IntArray,
    standard: _Standard,
    costs: CostSettings,
    params: RecommendParameters,
) -> list[Remedy]:
    """RAM and SSD together, or a new machine: one group (module docstring)."""
    scope = f"{department}:old"
    group = f"old-machines|{department}"
    by_key = {f.key: f for h in members for f in needs[h].all()}
    sources = tuple(by_key[k] for k in sorted(by_key))
    category = _category(sources)
    found: list[Remedy] = []
    where = department or "no department"
    target = _ram_target(max(int(installed[h]) for h in members), standard)
    sizes = [_ssd_size(facts, h, costs, params) for h in members]
    if all(size is not None for size in sizes):
        size = max(s for s in sizes if s is not None)
        ram_change = _ram_change(target, standard)
        add, types = _ram_plan(facts, members, target, installed, params)
        found.append(
            Remedy(
                key=f"ram_ssd|{ALL_APPS}|{target}GiB+SSD {size}GB|{scope}",
                kind="ram_ssd",
                category=category,
                app=ALL_APPS,
                target=f"{target}GiB+SSD {size}GB",
                scope=scope,
                group=group,
                title=f"Refit {hosts_phrase(len(members), 'old machine')} in {where}: RAM to "
                f"{target} GiB and a {size} GB SSD",
                hosts=tuple(members),
                apps=tuple(range(len(facts.apps))),
                change=Change(
                    hdd=False,
                    ram=ram_change.ram,
                    pressure=(
                        ram_change.pressure[0],
                        ram_change.pressure[1],
                        standard.ssd_io,
                        None,
                    ),
                ),
                findings=sources,
                fallback=_standing_in(sources, {"ram", "ssd"}),
                methods=("ram", "ssd"),
                hardware=HardwarePlan(tuple(members), ram_add_gib=add, ram_type=types, ssd_gb=size),
            )
        )
    classes = tuple(facts.hosts.machine(h).machine_class or params.machine_class for h in members)
    label = classes[0] if len(set(classes)) == 1 else "new machines"
    found.append(
        Remedy(
            key=f"replace|{ALL_APPS}|{label}|{scope}",
            kind="replace",
            category=category,
            app=ALL_APPS,
            target=label,
            scope=scope,
            group=group,
            title=f"Replace {hosts_phrase(len(members), 'old machine')} in {where} ({label})",
            hosts=tuple(members),
            apps=tuple(range(len(facts.apps))),
            change=Change(
                hdd=False,
                ram=standard.ram_level,
                cores=standard.cores_level,
                pressure=standard.pressure,
            ),
            findings=sources,
            fallback=sources,
            methods=("replace",),
            hardware=HardwarePlan(tuple(members), machine_class=classes),
        )
    )
    return found


def _category(sources: tuple[Finding, ...]) -> Category:
    """A degradation (a pressure that rose) is a regression; a standing tier alone is a
    right-sizing candidate."""
    return "regression" if any(f.kind == "pressure" for f in sources) else "right_sizing"


def _standing_in(sources: tuple[Finding, ...], fixes: set[str]) -> tuple[Finding, ...]:
    """The findings whose effect a remedy fixing ``fixes`` undoes: those pointing at
    nothing else (a tier of HDD and small RAM is not undone by an SSD alone)."""
    return tuple(f for f in sources if _hardware_parts(f) <= fixes)


def _sources(needs: dict[int, _Needs], members: list[int], part: str) -> tuple[Finding, ...]:
    found: dict[str, Finding] = {}
    for h in members:
        for f in getattr(needs[h], part):
            found.setdefault(f.key, f)
    return tuple(found[k] for k in sorted(found))
