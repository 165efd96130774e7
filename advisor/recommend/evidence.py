"""The fleet's own evidence of what a change would save: one model per app and start kind.

What would this host's launches take on version 7.6.5, with 16 GB, on an SSD? The fleet
answers where some of its hosts already run that way: per app and start kind, a linear model
(scikit-learn's :class:`~sklearn.linear_model.Ridge`) of each host's **level**
(its median log load time, :mod:`advisor.recommend.facts`) on

- the app's **version** (vendor versions, one-hot against the most common),
- **hardware**: HDD, RAM and CPU-core levels (the cohort model's bins:
  :data:`advisor.analysis.cohorts.RAM_BINS`, ``CORE_BINS``; an unknown size is a level of
  its own), one-hot against the most common level,
- the **department** (one-hot), and the host's recent **pressure** (memory and io PSI,
  swap-in MB/s, cpu PSI; an unknown one at the model's median),

so each effect is controlled for the others: hosts on 7.6.5 are compared with hosts on 7.6.4
of the same hardware, department and pressure. One row per host: hosts are the unit, as in
the analysis (:mod:`advisor.analysis.host_effects`).

A change is a **counterfactual** (:class:`Change`): the host's row with the version, disk,
RAM or cores changed, and, where the change removes a pressure (RAM removes memory pressure
and swapping, an SSD io pressure), that pressure capped at what hosts already so equipped
carry (their median). The saving on the log scale is the model's prediction for the row as
it is less that for the changed row.

- **Estimable or not**: a saving can be read off the fleet only if the changed row is a
  combination of rows the fleet has (the contrast lies in the row space of the design). Old
  machines that are HDD, 4 GB and 2 cores at once tell what replacing them saves, never what
  RAM alone would: such a contrast is *not estimable* and gives no number.
- **Near-aliasing**: a light ridge penalty (1 % of the hosts' weight on each standardised
  column, none on the intercept) keeps a combination that only a host or two tell apart (4 GB
  machines that are 2-core machines all but once) from getting a coefficient of thousands: an
  effect the fleet measures well moves by about 1 %, one it can barely tell is shrunk
  towards the hosts it shares with the others, and the bootstrap then shows how unsure it is.
- **Robustness**: after a first fit, levels further than 3 robust standard deviations from
  it are pulled in to that bound and the model refitted (a noisy host weighs no more than
  any other).
- **Interval**: a bootstrap over hosts: every resample weighs each host by a Poisson(1)
  count, the same counts for every app's model (one resample is one redrawn fleet), and is
  the weighted ridge fit with the same penalty, solved from the weighted normal equations.
- **Size**: at most ``max_model_hosts`` hosts per model, sampled with the run's seed within
  each (version, disk, RAM, cores) stratum in proportion, keeping at least 50 of each (all of
  a rare one), so that the few hosts already on a new version stay in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import Ridge

from advisor.analysis.cohorts import CORE_BINS, RAM_BINS
from advisor.recommend.facts import FleetFacts
from advisor.recommend.parameters import RecommendParameters

__all__ = ["PRESSURES", "AppModel", "Change", "Contrast", "Evidence", "Profile", "levels_of"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
PRESSURES = ("memory_pressure", "swap_in_mb", "io_pressure", "cpu_pressure")
FACTORS = ("version", "ram", "cores", "department")
UNKNOWN_LEVEL = len(RAM_BINS) + 1  # a size the inventory did not report
MIN_STRATUM = 50
# A difference of rows is estimable when at most this share of it lies outside the design's
# row space. Exact aliasing leaves a share of order 1; rounding leaves 1e-12.
ESTIMABLE_TOLERANCE = 1e-6
EIGEN_FLOOR = 1e-12  # eigenvalues of the Gram matrix this small (relative) are rounding: aliasing
CLIP_SD = 3.0
RIDGE = 0.01  # penalty on each standardised column, per host (module docstring)


def levels_of(values: FloatArray, bins: tuple[float, ...]) -> IntArray:
    """Bin levels of hardware sizes (RAM GiB or cores); NaN is :data:`UNKNOWN_LEVEL`.

    >>> levels_of(np.array([3.8, 8.0, 15.6, 64.0, np.nan]), RAM_BINS).tolist()
    [0, 1, 2, 3, 4]
    """
    level = np.digitize(np.nan_to_num(values, nan=0.0), bins).astype(np.int64)
    return np.where(np.isfinite(values), level, UNKNOWN_LEVEL)


@dataclass(frozen=True)
class Profile:
    """What the model reads of some hosts: per row its version label code (-1: none), disk,
    RAM and core levels, department code and pressures (rows x :data:`PRESSURES`)."""

    version: IntArray
    hdd: BoolArray
    ram: IntArray
    cores: IntArray
    department: IntArray
    pressure: FloatArray

    def __len__(self) -> int:
        return len(self.version)

    def take(self, rows: IntArray) -> Profile:
        return Profile(
            self.version[rows],
            self.hdd[rows],
            self.ram[rows],
            self.cores[rows],
            self.department[rows],
            self.pressure[rows],
        )


@dataclass(frozen=True)
class Change:
    """A counterfactual: what a remedy sets on a host (None: left as it is); ``pressure``
    caps each pressure at a value (None: unchanged).

    >>> Change(hdd=False, pressure=(None, None, 0.01, None)).hdd
    False
    """

    version: int | None = None
    hdd: bool | None = None
    ram: int | None = None
    cores: int | None = None
    pressure: tuple[float | None, ...] = (None, None, None, None)

    def applied(self, profile: Profile) -> Profile:
        n = len(profile)
        pressure = profile.pressure.copy()
        for j, cap in enumerate(self.pressure):
            if cap is not None:
                pressure[:, j] = np.fmin(pressure[:, j], cap)
        return Profile(
            profile.version if self.version is None else np.full(n, self.version),
            profile.hdd if self.hdd is None else np.full(n, self.hdd),
            profile.ram if self.ram is None else np.full(n, self.ram),
            profile.cores if self.cores is None else np.full(n, self.cores),
            profile.department,
            pressure,
        )

    def matches(self, profile: Profile) -> BoolArray:
        """Rows that already have every categorical part of the change."""
        ok = np.ones(len(profile), dtype=bool)
        for mine, theirs in (
            (self.version, profile.version),
            (self.hdd, profile.hdd),
            (self.ram, profile.ram),
            (self.cores, profile.cores),
        ):
            if mine is not None:
                ok &= theirs == mine
        return ok


@dataclass(frozen=True)
class Contrast:
    """A change's saving on some usage rows, on the log scale (positive: faster).

    ``saving`` is the model's estimate per row, ``draws`` (rows x resamples) the bootstrap's;
    ``estimable`` says per row whether the fleet can tell (where not, both are NaN).
    ``target_hosts``: the model's hosts that already have the change; ``compared_hosts``:
    the others; ``model_hosts``, ``residual_sd`` describe the fit.
    """

    saving: FloatArray
    draws: FloatArray
    estimable: BoolArray
    target_hosts: int
    compared_hosts: int
    model_hosts: int
    residual_sd: float


@dataclass(frozen=True)
class AppModel:
    """One fitted model (module docstring): the columns' factor levels, the coefficients
    (``coef[0]`` the intercept) and their bootstrap ``draws`` (resamples x columns), the
    model's hosts' profile, and the basis of the design's row space (scaled columns)."""

    app: int
    cold: bool
    columns: tuple[str, ...]
    factor_levels: dict[str, tuple[int, ...]]
    fill: FloatArray
    coef: FloatArray
    draws: FloatArray
    profile: Profile
    hosts: IntArray
    basis: FloatArray
    scale: FloatArray
    residual_sd: float

    def design(self, profile: Profile) -> tuple[FloatArray, BoolArray]:
        """The rows of ``profile`` as the model's columns (intercept first), and whether
        each row's levels are all ones the model has seen."""
        return _encode(profile, self.factor_levels, self.fill)

    def contrast(self, profile: Profile, change: Change) -> Contrast:
        """The saving of ``change`` on the rows of ``profile`` (see :class:`Contrast`)."""
        before, known_before = self.design(profile)
        after, known_after = self.design(change.applied(profile))
        difference = before - after
        scaled = difference / self.scale
        residual = scaled - (scaled @ self.basis.T) @ self.basis
        norm = np.linalg.norm(scaled, axis=1)
        estimable = (
            known_before
            & known_after
            & (np.linalg.norm(residual, axis=1) <= ESTIMABLE_TOLERANCE * np.maximum(norm, 1.0))
        )
        saving = np.where(estimable, difference @ self.coef, np.nan)
        draws = np.where(estimable[:, None], difference @ self.draws.T, np.nan)
        target = change.matches(self.profile)
        return Contrast(
            saving=saving,
            draws=draws,
            estimable=estimable,
            target_hosts=int(target.sum()),
            compared_hosts=int((~target).sum()),
            model_hosts=len(self.hosts),
            residual_sd=self.residual_sd,
        )


@dataclass
class Evidence:
    """The models of one run, fitted when first asked for (one per app and start kind).

    ``labels`` are the version labels (vendor versions where the catalog knows them) and
    ``row_label`` each usage row's label code; a version no host runs gets a code when a
    remedy names it (:meth:`code`), and no model has seen it.
    """

    facts: FleetFacts
    row_label: IntArray
    labels: list[str]
    params: RecommendParameters
    _models: dict[tuple[int, bool], AppModel | None] = field(default_factory=dict)
    _weights: FloatArray | None = None
    _profile: Profile | None = None

    def code(self, label: str) -> int:
        """The code of a version label, a new one for a version no host runs."""
        if label not in self.labels:
            self.labels.append(label)
        return self.labels.index(label)

    @property
    def weights(self) -> FloatArray:
        """Poisson(1) weights per resample and host, shared by every model."""
        if self._weights is None:
            rng = np.random.default_rng(self.params.seed)
            shape = (self.params.n_resamples, len(self.facts.hosts))
            self._weights = rng.poisson(1.0, shape).astype(np.float64)
        return self._weights

    def profile(self, rows: IntArray) -> Profile:
        """The profile of usage ``rows``."""
        if self._profile is None:
            hosts, usage = self.facts.hosts, self.facts.usage
            departments = {name: i for i, name in enumerate(sorted(set(hosts.department)))}
            dept = np.array([departments[d] for d in hosts.department], dtype=np.int64)
            pressure = np.column_stack([getattr(hosts, name) for name in PRESSURES])
            host = usage.host
            self._profile = Profile(
                version=self.row_label,
                hdd=hosts.hdd[host],
                ram=levels_of(hosts.ram_gib, RAM_BINS)[host],
                cores=levels_of(hosts.cores, CORE_BINS)[host],
                department=dept[host],
                pressure=pressure.reshape(len(hosts), len(PRESSURES))[host],
            )
        return self._profile.take(rows)

    def model(self, app: int, cold: bool) -> AppModel | None:
        """The model of ``app``'s ``cold`` (or warm) starts; None with too few hosts."""
        key = (app, cold)
        if key not in self._models:
            self._models[key] = self._fit(app, cold)
        return self._models[key]

    def _fit(self, app: int, cold: bool) -> AppModel | None:
        usage = self.facts.usage
        rows = np.flatnonzero((usage.app == app) & (usage.cold == cold) & np.isfinite(usage.level))
        if rows.size < 2 * self.params.min_evidence_hosts:
            return None
        profile = self.profile(rows)
        keep = _sample(profile, self.params.max_model_hosts, self.params.seed + app * 2 + cold)
        rows, profile = rows[keep], profile.take(keep)
        factor_levels = {name: _levels(getattr(profile, name)) for name in FACTORS}
        fill = _column_medians(profile.pressure)
        design, _ = _encode(profile, factor_levels, fill)
        target = usage.level[rows]
        penalty = _penalty(design)
        coef, fitted = _sklearn_fit(design, target, penalty)
        residual = target - fitted
        scale = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) or 1e-9
        clipped = fitted + np.clip(residual, -CLIP_SD * scale, CLIP_SD * scale)
        coef, fitted = _sklearn_fit(design, clipped, penalty)
        draws = _bootstrap(design, clipped, self.weights[:, usage.host[rows]], penalty)
        # Estimability is asked of differences of rows, which the intercept and the
        # columns' means cancel from: the row space of the centred, scaled columns.
        spread = design.std(axis=0)
        columns_scale = np.where(spread > 0, spread, 1.0)
        scaled = (design - design.mean(axis=0)) / columns_scale
        basis = _row_space(scaled.T @ scaled)
        return AppModel(
            app=app,
            cold=cold,
            columns=_column_names(factor_levels),
            factor_levels=factor_levels,
            fill=fill,
            coef=coef,
            draws=draws,
            profile=profile,
            hosts=usage.host[rows],
            basis=basis,
            scale=columns_scale,
            residual_sd=float(np.std(clipped - fitted)),
        )


def _column_medians(values: FloatArray) -> FloatArray:
    """Each column's median over its finite values (0 for a column without any)."""
    result = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        finite = values[:, j][np.isfinite(values[:, j])]
        if finite.size:
            result[j] = float(np.median(finite))
    return result


def _levels(values: IntArray) -> tuple[int, ...]:
    """A factor's levels, the most common first (the reference, without a column)."""
    present, counts = np.unique(values, return_counts=True)
    order = np.lexsort((present, -counts))
    return tuple(int(v) for v in present[order])


def _column_names(factor_levels: dict[str, tuple[int, ...]]) -> tuple[str, ...]:
    names = ["intercept"]
    for factor in FACTORS:
        names += [f"{factor}={level}" for level in factor_levels[factor][1:]]
    names.append("hdd")
    names += list(PRESSURES)
    return tuple(names)


def _encode(
    profile: Profile, factor_levels: dict[str, tuple[int, ...]], fill: FloatArray
) -> tuple[FloatArray, BoolArray]:
    n = len(profile)
    widths = [len(factor_levels[f]) - 1 for f in FACTORS]
    design = np.zeros((n, 1 + sum(widths) + 1 + len(PRESSURES)))
    design[:, 0] = 1.0
    known = np.ones(n, dtype=bool)
    rows = np.arange(n)
    start = 1
    for factor, width in zip(FACTORS, widths, strict=True):
        values = getattr(profile, factor)
        levels = np.asarray(factor_levels[factor], dtype=np.int64)
        # code -> its column (0 for the reference level, -1 for a level not seen)
        lookup = np.full(max(int(levels.max()), int(values.max(initial=0))) + 1, -1)
        lookup[levels] = np.arange(levels.size)
        column = np.where(values >= 0, lookup[np.maximum(values, 0)], -1)
        known &= column >= 0
        hot = column > 0
        design[rows[hot], start + column[hot] - 1] = 1.0
        start += width
    design[:, start] = profile.hdd
    design[:, start + 1 :] = np.where(np.isfinite(profile.pressure), profile.pressure, fill)
    return design, known


def _penalty(design: FloatArray) -> FloatArray:
    """The ridge penalty per column of ``design`` (intercept first, unpenalised):
    ``RIDGE`` per row on each column standardised, so ``RIDGE * n * variance`` unscaled."""
    variance = design[:, 1:].var(axis=0)
    scaled = RIDGE * design.shape[0] * np.where(variance > 0, variance, 1.0)
    return np.asarray(np.r_[0.0, scaled], dtype=np.float64)


def _sklearn_fit(
    design: FloatArray, target: FloatArray, penalty: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The ridge fit with ``penalty`` (see :func:`_penalty`) by scikit-learn, on the columns
    standardised so that one ``alpha`` is the penalty of each: the coefficients with the
    intercept first, and the fitted values."""
    spread = np.sqrt(penalty[1:] / (RIDGE * design.shape[0]))
    model = Ridge(alpha=RIDGE * design.shape[0], fit_intercept=True, solver="svd")
    model.fit(design[:, 1:] / spread, target)
    coef = np.r_[float(model.intercept_), np.asarray(model.coef_, dtype=np.float64) / spread]
    return coef, design @ coef


def _bootstrap(
    design: FloatArray, target: FloatArray, weights: FloatArray, penalty: FloatArray
) -> FloatArray:
    """Weighted ridge fits, one per row of ``weights`` (resamples x rows): each resample's
    ``X'WX`` from the rows' products (upper triangle), one matrix product for all, plus the
    fit's ``penalty`` on the diagonal."""
    p = design.shape[1]
    upper = np.triu_indices(p)
    packed = weights @ (design[:, upper[0]] * design[:, upper[1]])
    xtx = np.zeros((weights.shape[0], p, p))
    xtx[:, upper[0], upper[1]] = packed
    xtx[:, upper[1], upper[0]] = packed
    xtx[:, np.arange(p), np.arange(p)] += penalty
    xty = weights @ (design * target[:, None])
    inverse = np.linalg.pinv(xtx, rcond=1e-10, hermitian=True)
    return np.asarray(np.einsum("bij,bj->bi", inverse, xty), dtype=np.float64)


def _row_space(gram: FloatArray) -> FloatArray:
    """An orthonormal basis (rows) of the row space of a design, from its Gram matrix
    ``X'X``: the eigenvectors of non-zero eigenvalues span the same space."""
    values, vectors = np.linalg.eigh(gram)
    keep = values > max(float(values.max()), 0.0) * EIGEN_FLOOR
    return np.asarray(vectors[:, keep].T, dtype=np.float64)


def _sample(profile: Profile, limit: int, seed: int) -> IntArray:
    """Row indices: all rows up to ``limit``, else a seeded sample per stratum (module
    docstring)."""
    n = len(profile)
    if n <= limit:
        return np.arange(n)
    levels = UNKNOWN_LEVEL + 1
    code = ((profile.version + 1) * 2 + profile.hdd) * levels + profile.ram
    stratum = np.unique(code * levels + profile.cores, return_inverse=True)[1].reshape(-1)
    order = np.random.default_rng(seed).permutation(n)
    rank = np.empty(n, dtype=np.int64)
    sizes = np.bincount(stratum)
    # Each row's position within its stratum, in the random order.
    sorted_strata = stratum[order]
    position = np.empty(n, dtype=np.int64)
    by_stratum = np.argsort(sorted_strata, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    position[by_stratum] = np.arange(n) - np.repeat(starts, sizes)
    rank[order] = position
    quota = np.maximum(MIN_STRATUM, np.ceil(sizes * limit / n)).astype(np.int64)
    return np.flatnonzero(rank < quota[stratum])
