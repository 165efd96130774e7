"""Effects with hosts as the unit: a robust average of per-host shifts, its interval and test.

A host's launches are not independent of each other (its hardware, its user, its week), so a
fleet finding that pooled launches would be as sure of itself as its launch count allows and
its interval would cover the truth far less often than it says. Here every finding's figures
come from one number per host, the host's own shift (after less before, on the log scale):

- **estimate**: the 20 % trimmed mean of the per-host shifts (:func:`trimmed_mean`): robust
  to a few hosts that moved for their own reasons (a noisy host, a reinstall), and nearly as
  efficient as the mean on well-behaved shifts;
- **interval**: a percentile bootstrap over hosts (each resample weighs every host by a
  Poisson(1) count, the usual large-sample stand-in for drawing hosts with replacement and
  far cheaper to draw; the trimmed mean of a resample is one matrix product on the shifts
  sorted once), :func:`host_interval`; two groups of hosts (say, hosts whose
  pressure rose against hosts where nothing rose) are resampled each on its own,
  :func:`two_group_interval`;
- **p-value**: Wilcoxon's signed-rank test over hosts (:func:`signed_rank_p`), which asks
  whether the shifts are centred on zero without assuming a distribution for them.

Above ``BOOTSTRAP_MAX_HOSTS`` hosts a group's resampled trimmed means are drawn from the
normal distribution the bootstrap converges to, centred on the trimmed mean with its
standard error from the winsorized variance (Tukey and McLaughlin 1963,
:func:`trimmed_mean_se`): the same interval, without drawing a weight per host and
resample (10,000 hosts x 499 resamples per finding).

A bootstrap over few hosts is too sure of itself: it spreads like the plug-in standard error
(biased low by ``(n - 1) / n``) and its percentiles are normal ones, not Student's. Intervals
are therefore widened about the estimate by ``t(n - 1) / z * sqrt(n / (n - 1))``
(:func:`few_hosts_widened`): 6 % wider at 30 hosts, 1 % at 200.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "TRIM",
    "few_hosts_widened",
    "host_interval",
    "signed_rank_p",
    "trimmed_mean",
    "trimmed_mean_se",
    "two_group_interval",
]

FloatArray = npt.NDArray[np.float64]
TRIM = 0.2
"""The share of the weight trimmed from each end of the per-host shifts."""
RESAMPLE_BATCH_VALUES = 4_000_000  # resample counts held at once (8 bytes each)
BOOTSTRAP_MAX_HOSTS = 500  # above: the bootstrap's normal limit (module docstring)


def trimmed_mean(values: npt.ArrayLike, trim: float = TRIM) -> float:
    """The mean of the middle ``1 - 2 trim`` of the values' mass (NaN dropped; NaN if none).

    The trimmed share is counted in mass, so a fraction of the values at each cut counts
    (the same definition the bootstrap's weighted resamples use).

    >>> trimmed_mean([0.0, 1.0, 2.0, 3.0, 100.0])
    2.0
    """
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan
    return float(_trimmed_means(v, np.ones((1, v.size)), trim)[0])


def _trimmed_means(sorted_values: FloatArray, weights: FloatArray, trim: float) -> FloatArray:
    """Per row of ``weights`` (resamples x values), the trimmed mean of the sorted values."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1:]
    low, high = trim * total, (1 - trim) * total
    inside = np.clip(cumulative, low, high) - np.clip(cumulative - weights, low, high)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((inside @ sorted_values) / (high - low)[:, 0], dtype=np.float64)


def trimmed_mean_se(values: npt.ArrayLike, trim: float = TRIM) -> float:
    """The standard error of the trimmed mean: the winsorized standard deviation over
    ``(1 - 2 trim) sqrt(n)`` (NaN below two values).

    >>> round(trimmed_mean_se(np.arange(10.0)), 4)
    1.2001
    """
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan
    low, high = np.quantile(v, [trim, 1 - trim])
    winsorized = np.clip(v, low, high)
    return float(winsorized.std(ddof=1) / ((1 - 2 * trim) * math.sqrt(v.size)))


def _resampled(values: FloatArray, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Trimmed means of ``n_resamples`` bootstrap resamples of ``values`` (over hosts)."""
    if values.size > BOOTSTRAP_MAX_HOSTS:
        centre, se = trimmed_mean(values), trimmed_mean_se(values)
        return np.asarray(centre + se * rng.standard_normal(n_resamples), dtype=np.float64)
    v = np.sort(values)
    batch = max(1, RESAMPLE_BATCH_VALUES // v.size)
    parts = []
    for done in range(0, n_resamples, batch):
        counts = rng.poisson(1.0, (min(batch, n_resamples - done), v.size))
        parts.append(_trimmed_means(v, counts.astype(np.float64), TRIM))
    means = np.concatenate(parts)
    return means[np.isfinite(means)]  # a resample of few hosts can weigh none


def few_hosts_widened(
    estimate: float, low: float, high: float, hosts: int, confidence: float
) -> tuple[float, float]:
    """``[low, high]`` widened about ``estimate`` for a bootstrap over ``hosts`` hosts (see
    the module docstring); unchanged below two hosts or for NaN bounds.

    >>> [round(x, 4) for x in few_hosts_widened(0.0, -1.0, 1.0, 10, 0.95)]
    [-1.2166, 1.2166]
    """
    if hosts < 2 or not (math.isfinite(low) and math.isfinite(high)):
        return low, high
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    factor = (
        float(stats.t.ppf(0.5 + confidence / 2, hosts - 1)) / z * math.sqrt(hosts / (hosts - 1))
    )
    return estimate - (estimate - low) * factor, estimate + (high - estimate) * factor


def host_interval(
    values: npt.ArrayLike, *, confidence: float, n_resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of the trimmed mean of per-host ``values``; NaN with
    fewer than two hosts or no resamples."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size < 2 or n_resamples < 1:
        return math.nan, math.nan
    means = _resampled(v, n_resamples, np.random.default_rng(seed))
    if means.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return few_hosts_widened(trimmed_mean(v), float(low), float(high), v.size, confidence)


def two_group_interval(
    values: npt.ArrayLike,
    reference: npt.ArrayLike,
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``trimmed_mean(values) - trimmed_mean(reference)``,
    each group of hosts resampled on its own."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    v, r = v[np.isfinite(v)], r[np.isfinite(r)]
    if v.size < 2 or r.size < 2 or n_resamples < 1:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    a, b = _resampled(v, n_resamples, rng), _resampled(r, n_resamples, rng)
    size = min(a.size, b.size)
    if size == 0:
        return math.nan, math.nan
    differences = a[:size] - b[:size]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    estimate = trimmed_mean(v) - trimmed_mean(r)
    return few_hosts_widened(estimate, float(low), float(high), min(v.size, r.size), confidence)


def signed_rank_p(values: npt.ArrayLike) -> float:
    """Two-sided Wilcoxon signed-rank p-value of per-host shifts against zero (NaN with
    fewer than two hosts; 1 when every shift is zero)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan
    if not np.any(v != 0):
        return 1.0
    return float(stats.wilcoxon(v, zero_method="wilcox").pvalue)
