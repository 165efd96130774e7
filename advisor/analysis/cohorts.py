"""Cohorts: what hardware, version, pressure and department each do to an app's load time.

Per app, one linear model of the log load time on every factor at once (least squares,
``numpy.linalg.solve`` on the normal equations), so each effect is controlled for the
others: an HDD host is compared with an SSD host of the same RAM, CPU, department, version
and pressure.

- **Rows**: median log load time per host, week, start kind and version (medians of the
  daily cell medians: robust, and few enough rows to fit 20 apps in seconds); at most
  ``cohort_max_hosts`` hosts per app, sampled with the run's seed.
- **Hardware** (per host): HDD; RAM (<= 4, <= 8, <= 16, > 16 GiB) and CPU cores (<= 2,
  <= 4, <= 8, > 8), one-hot against their most common level. Hardware travels together (old
  machines are HDD, 4 GB and 2 cores at once): indicators whose hosts nearly coincide
  (Jaccard index of their host sets at least ``alias_jaccard``, over the hosts of the
  model) cannot be told apart by any model, and fitted one by one they trade their effect
  back and forth from run to run. They are **merged** before fitting into one indicator
  (a host's share of the group's attributes: 1 on hosts with all of them) named by the
  combination, e.g. ``hdd+ram<=4gb+cores<=2``, and reported as one tier
  (:func:`hardware_groups`). A department indicator that aliases a hardware group is left
  out (the hardware is the likelier cause).
- **Start kinds**: every hardware indicator enters alone (its effect on warm starts) and
  times ``cold`` (the extra on cold starts: a disk matters most when the cache is cold).
  A tier is one finding when the extra is small or uncertain
  (:func:`advisor.analysis.start_kinds.terms_differ`), with the mean of its cold and warm
  effects; else one finding per kind.
- **Other factors** (one-hot, reference = the most common level): version; department;
  cold start; and each pressure's rise in the week against the host's own first
  ``period_days`` (PSI memory, io and cpu shares, swap-in in MB/s; 0 where unknown), not its
  level: a tier's standing pressure is part of what the tier does (:func:`weekly_pressure`).
- **Calm weeks**: a tier is a standing gap, so the model reads the weeks in which no
  pressure of the host rose against its first ``period_days`` and every pressure the fleet
  reports was measured (:func:`weekly_pressure`): a memory-pressure episode on the 4 GB
  machines or a disk filling on the HDD ones would otherwise lend its slowdown to the tier
  wherever the pressure terms (linear in the rise) do not take all of it, and a host that
  reports no PSI can show no calm week.
- **Robustness**: the target is a median already; after a first fit, rows further than 3
  robust standard deviations from it are pulled in to that bound and the model refitted.
- **Intervals and p-values**: a bootstrap over hosts (Poisson weights per host); each
  resample is the weighted least-squares fit, solved from per-host sums of ``X'X`` and
  ``X'y`` (identical to refitting with those sample weights, one matrix product for all
  resamples). p-value from the bootstrap standard error (normal); intervals widened for
  few hosts (:func:`advisor.analysis.host_effects.few_hosts_widened`).

A tier effect is a candidate ``hardware_tier`` finding, naming the hosts with the whole
combination: e.g. HDD cold starts of an app 100 % slower than on SSD.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from advisor.analysis.attribution import calm_hosts, reported
from advisor.analysis.candidates import Candidate, fixed
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells, host_window_means, sides_of
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import FleetData, HostTable
from advisor.analysis.groupby import group_medians
from advisor.analysis.host_effects import few_hosts_widened
from advisor.analysis.start_kinds import terms_differ, with_start

__all__ = [
    "CohortModel",
    "HardwareGroup",
    "Term",
    "cohort_candidates",
    "fit_app",
    "hardware_groups",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
GIB = 2.0**30
RAM_BINS = (4.5, 8.5, 16.5)  # GiB: <= 4, <= 8, <= 16, more
RAM_NAMES = ("ram<=4gb", "ram<=8gb", "ram<=16gb", "ram>16gb")
CORE_BINS = (2.5, 4.5, 8.5)
CORE_NAMES = ("cores<=2", "cores<=4", "cores<=8", "cores>8")
WEEK_DAYS = 7


@dataclass(frozen=True)
class Term:
    """One effect of the model on the log scale, with its interval and p-value."""

    estimate: float
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class CohortModel:
    """The fitted model of one app: its terms by name (``hdd``, ``hdd:cold``, ``ram<=4gb``,
    ``version=7.5``, ``pressure_memory``, ...), and the rows and hosts it was fitted on."""

    terms: dict[str, Term]
    rows: int
    hosts: int


@dataclass(frozen=True)
class HardwareGroup:
    """Hardware attributes the hosts cannot tell apart, as one indicator of the model.

    ``name`` joins the attributes (``hdd+ram<=4gb+cores<=2``; one attribute alone:
    ``hdd``), ``value`` is per host the share of them it has (1 on hosts with all),
    ``members`` the hosts with all of them and ``reference`` the hosts with none.
    """

    name: str
    value: FloatArray
    members: IntArray
    reference: IntArray


def hardware_indicators(hosts: HostTable, present: IntArray) -> list[tuple[str, BoolArray]]:
    """Per host, each hardware attribute the model can use: HDD, and each RAM and core level
    but the most common one among the ``present`` hosts (the reference)."""
    ram = np.digitize(np.nan_to_num(np.asarray(hosts.ram_bytes) / GIB, nan=8.0), RAM_BINS)
    cores = np.digitize(np.nan_to_num(np.asarray(hosts.cpu_cores), nan=4.0), CORE_BINS)
    found: list[tuple[str, BoolArray]] = [("hdd", np.asarray(hosts.disk_rotational, dtype=bool))]
    for levels, names in ((ram, RAM_NAMES), (cores, CORE_NAMES)):
        counts = np.bincount(levels[present], minlength=len(names))
        most = int(np.argmax(counts))
        found.extend(
            (name, levels == level)
            for level, name in enumerate(names)
            if level != most and counts[level] > 0
        )
    return found


def jaccard(a: BoolArray, b: BoolArray) -> float:
    """|a and b| / |a or b| of two host sets (0 when both are empty).

    >>> jaccard(np.array([1, 1, 0, 0], bool), np.array([1, 1, 1, 0], bool))
    0.6666666666666666
    """
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 0.0


def hardware_groups(
    indicators: list[tuple[str, BoolArray]], present: IntArray, params: FleetParameters
) -> list[HardwareGroup]:
    """The indicators merged where their hosts (among ``present``) nearly coincide.

    Two indicators alias when the Jaccard index of their host sets is at least
    ``params.alias_jaccard``; aliasing is made transitive (connected groups). Indicators
    that hold on every present host or on none are left out: nothing to compare with.

    >>> hdd = np.array([1, 1, 1, 0, 0, 0], bool)
    >>> slow = np.array([1, 1, 1, 0, 0, 0], bool)
    >>> small = np.array([1, 0, 0, 0, 1, 0], bool)
    >>> groups = hardware_groups([("hdd", hdd), ("ram<=4gb", small), ("cores<=2", slow)],
    ...                          np.arange(6), FleetParameters())
    >>> [(g.name, g.members.tolist()) for g in groups]
    [('hdd+cores<=2', [0, 1, 2]), ('ram<=4gb', [0, 4])]
    """
    usable = [
        (name, mask) for name, mask in indicators if 0 < int(mask[present].sum()) < present.size
    ]
    parent = list(range(len(usable)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(usable)):
        for j in range(i + 1, len(usable)):
            if jaccard(usable[i][1][present], usable[j][1][present]) >= params.alias_jaccard:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(usable)):
        groups.setdefault(root(i), []).append(i)
    result = []
    for members in groups.values():
        masks = np.column_stack([usable[i][1] for i in members])
        value = masks.mean(axis=1)
        result.append(
            HardwareGroup(
                name="+".join(usable[i][0] for i in members),
                value=value,
                members=present[value[present] == 1.0],
                reference=present[value[present] == 0.0],
            )
        )
    return result


def fit_app(
    design: FloatArray,
    target: FloatArray,
    cluster: IntArray,
    names: list[str],
    *,
    params: FleetParameters,
    seed: int,
    combinations: dict[str, dict[str, float]] | None = None,
) -> CohortModel:
    """Fit one app's model and bootstrap it over ``cluster`` (host) codes ``0..n-1``.

    ``combinations`` names extra terms that are weighted sums of terms, e.g. ``{"hdd@cold":
    {"hdd": 1, "hdd:cold": 1}}``: the effect of an HDD on cold starts."""
    x = np.column_stack([np.ones(design.shape[0]), design])
    k = x.shape[1]
    n_hosts = int(cluster.max()) + 1
    upper = np.triu_indices(k)
    # Per-host sums of X'X (upper triangle) and X'y: the fit and every resample of the
    # bootstrap are solved from them.
    xtx = np.column_stack(
        [
            np.bincount(cluster, weights=x[:, i] * x[:, j], minlength=n_hosts)
            for i, j in zip(*upper, strict=True)
        ]
    )

    def solve(packed: FloatArray, xty: FloatArray) -> FloatArray:
        lhs = np.zeros((*packed.shape[:-1], k, k))
        lhs[..., upper[0], upper[1]] = packed
        lhs[..., upper[1], upper[0]] = packed
        lhs += np.eye(k) * 1e-9  # a resample can miss a rare level entirely
        return np.asarray(np.linalg.solve(lhs, xty[..., None])[..., 0], dtype=np.float64)

    def host_xty(y: FloatArray) -> FloatArray:
        return np.column_stack(
            [np.bincount(cluster, weights=x[:, i] * y, minlength=n_hosts) for i in range(k)]
        )

    total = xtx.sum(axis=0)
    residual = target - x @ solve(total, host_xty(target).sum(axis=0))
    scale = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) or 1.0
    clipped = target - residual + np.clip(residual, -3 * scale, 3 * scale)
    xty = host_xty(clipped)
    estimate = solve(total, xty.sum(axis=0))
    rng = np.random.default_rng(seed)
    weights = rng.poisson(1.0, (params.n_resamples, n_hosts)).astype(np.float64)
    draws = solve(weights @ xtx, weights @ xty)
    all_names = list(names)
    for name, parts in (combinations or {}).items():
        if all(part in names for part in parts):
            weight = np.zeros(k)
            for part, w in parts.items():
                weight[names.index(part) + 1] = w
            estimate = np.r_[estimate, estimate[:k] @ weight]
            draws = np.column_stack([draws, draws[:, :k] @ weight])
            all_names.append(name)
    tail = (1 - params.confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    se = draws.std(axis=0, ddof=1)
    terms = {}
    for i, name in enumerate(all_names, start=1):
        z = estimate[i] / se[i] if se[i] > 0 else 0.0
        terms[name] = Term(
            float(estimate[i]), float(low[i]), float(high[i]), float(2 * stats.norm.sf(abs(z)))
        )
    return CohortModel(terms=terms, rows=int(target.size), hosts=n_hosts)


def cohort_candidates(
    data: FleetData,
    cells: Cells,
    grid: FloatArray,
    department: IntArray,
    departments: list[str],
    *,
    params: FleetParameters,
) -> tuple[list[Candidate], dict[int, CohortModel]]:
    """Hardware-tier candidates of every app, and each app's fitted model; ``grid`` is the
    daily pressure (:func:`advisor.analysis.fleet_cells.pressure_grid`)."""
    hosts = data.launches.hosts
    weeks = cells.days // WEEK_DAYS + 1
    pressure, calm = weekly_pressure(grid, cells, weeks, params)
    rng = np.random.default_rng(params.seed)
    found: list[Candidate] = []
    models: dict[int, CohortModel] = {}
    for app, rows in enumerate(cells.by_app):
        present = np.unique(cells.host[rows])
        if present.size < 2 * params.min_tier_hosts:
            continue
        sample = present
        if present.size > params.cohort_max_hosts:
            sample = np.sort(rng.choice(present, params.cohort_max_hosts, replace=False))
        groups = hardware_groups(hardware_indicators(hosts, present), sample, params)
        chosen = np.zeros(len(hosts), dtype=bool)
        chosen[sample] = True
        rows = rows[chosen[cells.host[rows]]]
        rows = rows[calm[cells.host[rows] * weeks + cells.day[rows] // WEEK_DAYS]]
        built = _design(cells, rows, weeks, groups, department, pressure, data)
        if built is None:
            continue
        design, target, cluster, names = built
        combinations = {}
        for g in groups:
            combinations[f"{g.name}@cold"] = {g.name: 1.0, f"{g.name}:cold": 1.0}
            combinations[f"{g.name}@both"] = {g.name: 1.0, f"{g.name}:cold": 0.5}
        model = fit_app(
            design,
            target,
            cluster,
            names,
            params=params,
            seed=params.seed + app,
            combinations=combinations,
        )
        models[app] = model
        found.extend(_tiers(cells, app, model, sample, groups, params, data))
    _ = departments
    return found, models


def weekly_pressure(
    grid: FloatArray, cells: Cells, weeks: int, params: FleetParameters
) -> tuple[FloatArray, BoolArray]:
    """Per (host, week), rows ``host * weeks + week``: each pressure's rise over the week
    against the host's own first ``period_days`` (columns as the model's terms; swap-in in
    MB/s; 0 where unknown), and whether the week is calm: no pressure rose and every one the
    fleet reports was measured (:func:`advisor.analysis.attribution.calm_hosts`). Working
    days of the ``grid`` only.

    The model's pressure terms are these rises, not the week's levels: a hardware tier's
    standing pressure is part of what the tier does (an HDD host waits on its disk, which
    is its higher io pressure), and a term on the level would take that share of the tier's
    effect (HDD cold starts +100 % read +92 to +98 % on the simulator). A rise is an episode on
    that host, which the tier's effect must not include.
    """
    n_hosts = grid.shape[0]
    hosts = np.repeat(np.arange(n_hosts), weeks)
    week = np.tile(np.arange(weeks), n_hosts)
    first = cells.first_day
    early = host_window_means(
        grid,
        np.arange(n_hosts),
        np.full(n_hosts, first),
        np.full(n_hosts, first + params.period_days),
    )
    weekly = host_window_means(grid, hosts, week * WEEK_DAYS, (week + 1) * WEEK_DAYS)
    calm = calm_hosts(early[hosts], weekly, reported(grid), params)
    rise = (weekly - early[hosts]) * np.array([1.0, 1e-6, 1.0, 1.0])
    return np.where(np.isfinite(rise), rise, 0.0), calm


def _one_hot(levels: IntArray, prefix: str, labels: list[str]) -> tuple[FloatArray, list[str]]:
    values, counts = np.unique(levels, return_counts=True)
    reference = values[np.argmax(counts)]
    others = [v for v in values.tolist() if v != reference]
    matrix = (
        np.column_stack([levels == v for v in others]).astype(np.float64)
        if others
        else (np.empty((levels.size, 0)))
    )
    return matrix, [f"{prefix}{labels[v]}" for v in others]


def _design(
    cells: Cells,
    rows: IntArray,
    weeks: int,
    groups: list[HardwareGroup],
    department: IntArray,
    pressure: FloatArray,
    data: FleetData,
) -> tuple[FloatArray, FloatArray, IntArray, list[str]] | None:
    n_versions = max(len(data.launches.versions), 1)
    week = cells.day[rows] // WEEK_DAYS
    code = ((cells.host[rows] * 2 + cells.cold[rows]) * n_versions + cells.version[rows]) * weeks
    medians = group_medians(code + week, cells.level[rows])
    if len(medians) < 10:
        return None
    rest, week_r = np.divmod(medians.group, weeks)
    rest, version = np.divmod(rest, n_versions)
    host, cold_i = np.divmod(rest, 2)
    cold = cold_i.astype(np.float64)
    _, cluster = np.unique(host, return_inverse=True)
    hosts_fitted = np.unique(host)
    parts: list[FloatArray] = []
    names: list[str] = []
    version_names = [f"={v or 'unknown'}" for v in data.launches.versions]
    dept_levels = department[host]
    most = int(np.argmax(np.bincount(dept_levels)))
    for d in np.unique(dept_levels).tolist():
        # A department that is one hardware group (the old machines' office) would take the
        # group's effect; the hardware is the likelier cause: it joins the reference level.
        in_dept = department[hosts_fitted] == d
        if any(jaccard(in_dept, g.value[hosts_fitted] == 1.0) >= 0.9 for g in groups):
            dept_levels = np.where(dept_levels == d, most, dept_levels)
    for levels, prefix, labels in (
        (version, "version", version_names),
        (dept_levels, "department=", _dept_labels(data)),
    ):
        matrix, labels_used = _one_hot(levels, prefix, labels)
        parts.append(matrix)
        names.extend(labels_used)
    for g in groups:
        value = g.value[host]
        parts.append(np.column_stack([value, value * cold]))
        names.extend([g.name, f"{g.name}:cold"])
    parts.append(cold[:, None])
    names.append("cold")
    parts.append(pressure[host * weeks + week_r])
    names.extend(["pressure_memory", "pressure_swap", "pressure_disk_io", "pressure_cpu"])
    design = np.column_stack(parts)
    return design, medians.median, cluster.reshape(-1).astype(np.int64), names


def _dept_labels(data: FleetData) -> list[str]:
    return sorted(set(data.launches.hosts.department))


def _tiers(
    cells: Cells,
    app: int,
    model: CohortModel,
    fitted: IntArray,
    groups: list[HardwareGroup],
    params: FleetParameters,
    data: FleetData,
) -> list[Candidate]:
    """One candidate per hardware group, or one per start kind when its cold-start extra
    differs (:mod:`advisor.analysis.start_kinds`); ``fitted`` are the hosts of the model,
    and its intervals are widened for the fewer of the group's and the reference's hosts
    among them (:func:`advisor.analysis.host_effects.few_hosts_widened`)."""
    found: list[Candidate] = []
    n_hosts = len(data.launches.hosts)
    for g in groups:
        members, reference_hosts = g.members, g.reference
        if members.size < params.min_tier_hosts or reference_hosts.size < params.min_tier_hosts:
            continue
        extra = model.terms.get(f"{g.name}:cold")
        if extra is None:
            continue
        split = terms_differ(extra.estimate, extra.low, extra.high, params)
        for kind in (1, 0) if split else (None,):
            term_name = {None: f"{g.name}@both", 1: f"{g.name}@cold", 0: g.name}[kind]
            term = model.terms.get(term_name)
            if term is None:
                continue
            tier_rows = _tier_rows(cells, app, kind, members, reference_hosts, n_hosts)
            found.append(
                Candidate(
                    kind="hardware_tier",
                    app=data.launches.apps[app],
                    scope=with_start({"tier": g.name}, kind),
                    p_value=term.p_value,
                    estimate=term.estimate,
                    hosts=members,
                    since=cells.day0 + cells.first_day * DAY_SECONDS,
                    sides=sides_of(cells, tier_rows),
                    cause="hardware_tier",
                    confidence=round(float(min(1.0, -math.log10(max(term.p_value, 1e-12)) / 6)), 3),
                    method="cohort model (least squares on weekly medians per host, start "
                    "kind and version, calm weeks; hardware that travels together merged; "
                    "controls for version, the other hardware, department, pressure); "
                    "bootstrap over hosts",
                    interval=fixed(
                        few_hosts_widened(
                            term.estimate,
                            term.low,
                            term.high,
                            min(
                                np.isin(members, fitted).sum(),
                                np.isin(reference_hosts, fitted).sum(),
                            ),
                            params.confidence,
                        )
                    ),
                    detail={
                        "hosts": float(members.size),
                        "reference_hosts": float(reference_hosts.size),
                        "model_rows": float(model.rows),
                        "model_hosts": float(model.hosts),
                        "cold_extra": round(math.expm1(extra.estimate), 4),
                    },
                )
            )
    return found


def _tier_rows(
    cells: Cells,
    app: int,
    kind: int | None,
    members: IntArray,
    reference: IntArray,
    n_hosts: int,
) -> Callable[[], tuple[IntArray, IntArray]]:
    """The reference's rows and the tier's rows of ``app`` (of start ``kind``), when asked."""

    def rows() -> tuple[IntArray, IntArray]:
        mine = cells.by_app[app]
        if kind is not None:
            mine = mine[cells.cold[mine] == bool(kind)]
        side = np.full(n_hosts, -1)
        side[reference] = 0
        side[members] = 1
        at = side[cells.host[mine]]
        return mine[at == 0], mine[at == 1]

    return rows
