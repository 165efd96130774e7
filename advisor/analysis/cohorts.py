"""Cohorts: what version, hardware, pressure and department each do to an app's load time.

Per app, a linear model of the log load time on every factor at once (scikit-learn
``LinearRegression``), so each effect is controlled for the others: an HDD host is compared
with an SSD host of the same RAM, CPU, department, version and pressure.

- **Rows**: median log load time per host, week, start kind and version (medians of the
  daily cell medians: robust, and few enough rows to fit 20 apps in seconds); at most
  ``cohort_max_hosts`` hosts per app, sampled with the run's seed.
- **Factors** (one-hot, reference = the most common level): version; RAM (<= 4, <= 8,
  <= 16, > 16 GiB); CPU cores (<= 2, <= 4, <= 8, > 8); HDD, and HDD on cold starts (an HDD
  hurts cold starts most); department; cold start; and the week's mean pressure (PSI memory,
  io and cpu shares, swap-in in MB/s; missing ones at the fleet median).
- **Robustness**: the target is a median already; after a first fit, rows further than 3
  robust standard deviations from it are pulled in to that bound and the model refitted.
- **Intervals and p-values**: a bootstrap over hosts (Poisson weights per host); each
  resample is the weighted least-squares fit, solved from per-host sums of ``X'X`` and
  ``X'y`` (identical to refitting ``LinearRegression`` with those sample weights, one matrix
  product for all resamples). p-value from the bootstrap standard error (normal).

A tier effect is a candidate ``hardware_tier`` finding: e.g. HDD cold starts of an app 100 %
slower than on SSD, with the hosts in that tier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.linear_model import LinearRegression

from advisor.analysis.candidates import Candidate, fixed, quantiles
from advisor.analysis.fleet_cells import DAY_SECONDS, Cells
from advisor.analysis.fleet_parameters import FleetParameters
from advisor.analysis.frames import FleetData
from advisor.analysis.groupby import group_means, group_medians

__all__ = ["CohortModel", "Term", "cohort_candidates", "fit_app"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
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
    """The fitted model of one app: its terms by name (``hdd``, ``hdd_cold``, ``ram<=4gb``,
    ``version=7.5``, ``pressure_memory``, ...), and the rows and hosts it was fitted on."""

    terms: dict[str, Term]
    rows: int
    hosts: int


def fit_app(
    design: FloatArray,
    target: FloatArray,
    cluster: IntArray,
    names: list[str],
    *,
    params: FleetParameters,
    seed: int,
    sums: dict[str, tuple[str, ...]] | None = None,
) -> CohortModel:
    """Fit one app's model and bootstrap it over ``cluster`` (host) codes ``0..n-1``.

    ``sums`` names extra terms that are sums of terms, e.g. ``{"hdd+cold": ("hdd",
    "hdd_cold")}``: the effect of an HDD on cold starts."""
    model = LinearRegression().fit(design, target)
    residual = target - model.predict(design)
    scale = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) or 1.0
    clipped = target - residual + np.clip(residual, -3 * scale, 3 * scale)
    model = LinearRegression().fit(design, clipped)
    estimate = np.r_[model.intercept_, model.coef_]
    x = np.column_stack([np.ones(design.shape[0]), design])
    k = x.shape[1]
    n_hosts = int(cluster.max()) + 1
    upper = np.triu_indices(k)
    xtx = np.column_stack(
        [
            np.bincount(cluster, weights=x[:, i] * x[:, j], minlength=n_hosts)
            for i, j in zip(*upper, strict=True)
        ]
    )
    xty = np.column_stack(
        [np.bincount(cluster, weights=x[:, i] * clipped, minlength=n_hosts) for i in range(k)]
    )
    rng = np.random.default_rng(seed)
    weights = rng.poisson(1.0, (params.n_resamples, n_hosts)).astype(np.float64)
    packed = weights @ xtx
    lhs = np.zeros((params.n_resamples, k, k))
    lhs[:, upper[0], upper[1]] = packed
    lhs[:, upper[1], upper[0]] = packed
    lhs += np.eye(k) * 1e-9  # a resample can miss a rare level entirely
    draws = np.linalg.solve(lhs, (weights @ xty)[:, :, None])[:, :, 0]
    all_names = list(names)
    for name, parts in (sums or {}).items():
        if all(part in names for part in parts):
            columns = [names.index(part) + 1 for part in parts]
            estimate = np.r_[estimate, estimate[columns].sum()]
            draws = np.column_stack([draws, draws[:, columns].sum(axis=1)])
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
    department: IntArray,
    departments: list[str],
    *,
    params: FleetParameters,
) -> tuple[list[Candidate], dict[int, CohortModel]]:
    """Hardware-tier candidates of every app, and each app's fitted model."""
    hosts = data.launches.hosts
    ram = np.digitize(np.nan_to_num(hosts.ram_bytes / GIB, nan=8.0), RAM_BINS)
    cores = np.digitize(np.nan_to_num(hosts.cpu_cores, nan=4.0), CORE_BINS)
    hdd = np.asarray(hosts.disk_rotational, dtype=bool)
    weeks = cells.days // WEEK_DAYS + 1
    pressure = _weekly_pressure(data, cells, weeks)
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
        chosen = np.zeros(len(hosts), dtype=bool)
        chosen[sample] = True
        rows = rows[chosen[cells.host[rows]]]
        built = _design(cells, rows, weeks, ram, cores, hdd, department, pressure, data)
        if built is None:
            continue
        design, target, cluster, names = built
        model = fit_app(
            design,
            target,
            cluster,
            names,
            params=params,
            seed=params.seed + app,
            sums={"hdd+cold": ("hdd", "hdd_cold")},
        )
        models[app] = model
        found.extend(
            _tiers(
                cells, app, model, present, ram, cores, hdd, department, departments, params, data
            )
        )
    return found, models


def _weekly_pressure(data: FleetData, cells: Cells, weeks: int) -> FloatArray:
    """Mean pressure per (host, week): rows host * weeks + week, columns as the model's."""
    p = data.pressure
    week = ((p.day - cells.day0) // DAY_SECONDS // WEEK_DAYS).astype(np.int64)
    inside = (week >= 0) & (week < weeks)
    code = p.host[inside].astype(np.int64) * weeks + week[inside]
    size = len(data.launches.hosts) * weeks
    columns = (
        p.memory_pressure,
        p.swap_in_bytes_per_second / 1e6,
        p.io_pressure,
        p.cpu_pressure,
    )
    means = np.column_stack([group_means(code, c[inside], size) for c in columns])
    # A pressure no host reported (no PSI anywhere) has no median: 0, not a warning.
    medians = np.array(
        [np.median(col[np.isfinite(col)]) if np.isfinite(col).any() else 0.0 for col in means.T]
    )
    return np.where(np.isfinite(means), means, medians)


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
    ram: IntArray,
    cores: IntArray,
    hdd: npt.NDArray[np.bool_],
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
    host, cold = np.divmod(rest, 2)
    _, cluster = np.unique(host, return_inverse=True)
    parts: list[FloatArray] = []
    names: list[str] = []
    version_names = [f"={v or 'unknown'}" for v in data.launches.versions]
    for levels, prefix, labels in (
        (version, "version", version_names),
        (ram[host], "", list(RAM_NAMES)),
        (cores[host], "", list(CORE_NAMES)),
        (department[host], "department=", _dept_labels(data)),
    ):
        matrix, labels_used = _one_hot(levels, prefix, labels)
        parts.append(matrix)
        names.extend(labels_used)
    is_hdd = hdd[host].astype(np.float64)
    parts.append(np.column_stack([is_hdd, is_hdd * cold, cold.astype(np.float64)]))
    names.extend(["hdd", "hdd_cold", "cold"])
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
    present: IntArray,
    ram: IntArray,
    cores: IntArray,
    hdd: npt.NDArray[np.bool_],
    department: IntArray,
    departments: list[str],
    params: FleetParameters,
    data: FleetData,
) -> list[Candidate]:
    tiers: list[tuple[str, dict[str, str], IntArray, IntArray, bool | None]] = []
    on_hdd, on_ssd = present[hdd[present]], present[~hdd[present]]
    tiers.append(("hdd+cold", {"tier": "hdd", "start": "cold"}, on_hdd, on_ssd, True))
    tiers.append(("hdd", {"tier": "hdd", "start": "warm"}, on_hdd, on_ssd, False))
    for levels, labels in ((ram, RAM_NAMES), (cores, CORE_NAMES)):
        counts = np.bincount(levels[present], minlength=len(labels))
        most = int(np.argmax(counts))
        for level, label in enumerate(labels):
            if level != most and label in model.terms:
                tiers.append(
                    (
                        label,
                        {"tier": label},
                        present[levels[present] == level],
                        present[levels[present] == most],
                        None,
                    )
                )
    found: list[Candidate] = []
    for term_name, scope, members, reference_hosts, cold in tiers:
        if members.size < params.min_tier_hosts or reference_hosts.size < params.min_tier_hosts:
            continue
        term = model.terms.get(term_name)
        if term is None:
            continue
        rows = cells.by_app[app]
        if cold is not None:
            rows = rows[cells.cold[rows] == cold]
        member = np.zeros(len(data.launches.hosts), dtype=bool)
        member[members] = True
        reference = np.zeros(len(data.launches.hosts), dtype=bool)
        reference[reference_hosts] = True
        in_tier, in_ref = rows[member[cells.host[rows]]], rows[reference[cells.host[rows]]]
        found.append(
            Candidate(
                kind="hardware_tier",
                app=data.launches.apps[app],
                scope=scope,
                p_value=term.p_value,
                estimate=term.estimate,
                hosts=members,
                since=cells.day0 + float(cells.day[in_tier].min()) * DAY_SECONDS
                if in_tier.size
                else cells.day0,
                before=quantiles(cells.level[in_ref], int(cells.count[in_ref].sum())),
                after=quantiles(cells.level[in_tier], int(cells.count[in_tier].sum())),
                cause="hardware_tier",
                confidence=round(float(min(1.0, -math.log10(max(term.p_value, 1e-12)) / 6)), 3),
                method="cohort model (LinearRegression on weekly medians per host, start kind "
                "and version; controls for version, RAM, cores, disk, department, pressure); "
                "bootstrap over hosts",
                interval=fixed((term.low, term.high)),
                detail={
                    "hosts": float(members.size),
                    "reference_hosts": float(reference_hosts.size),
                    "model_rows": float(model.rows),
                    "model_hosts": float(model.hosts),
                },
            )
        )
    _ = departments
    return found
