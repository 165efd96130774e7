"""What a rollout really saved: changed hosts against hosts not changed yet, over the same days.

A **difference in differences** on the daily launch rows (the analysis' log medians), so that
weekly cycles and changes that hit the whole fleet cancel. Per stratum (one app and start
kind: a disk or a version can move one kind and not the other) and per host:

- a host's day is **untreated** before its change (a changed host: the ``before_days`` days
  before it; any other host: every day before its own change, if it has one), and **after**
  from ``after_from`` on, for at most ``after_days`` days (changed hosts only); the days in
  between (the change itself, an unknown hour) count on neither side;
- on the untreated days the level is a host effect plus a day effect,
  ``y[h, t] = alpha[h] + gamma[t]`` (two-way fixed effects fitted by alternating means;
  residuals beyond 3 robust standard deviations pulled in, so a noisy host weighs no more
  than another). ``gamma[t]`` is what every host went through that day: the weekly cycle, a
  fleet-wide change;
- a changed host's **effect** is its mean of ``y - gamma`` over its days after less that over
  its days before (at least ``min_days`` of each); in seconds a launch, its typical load time
  before (the median of its days) times ``1 - exp(effect)``: positive is time saved;
- the rollout's figure is the mean over the changed hosts' (host, app, kind) rows, weighted
  by their launches a day, as the predicted saving is (:mod:`advisor.recommend.benefit`).

**Interval**: a bootstrap over hosts: every resample weighs each host by a Poisson(1) count,
the same count in every stratum and in either role, and recomputes the day effects from the
weighted untreated days (the host effects kept from the fit) and the weighted mean of the
changed hosts' effects; percentiles, widened for few hosts on the smaller side
(:func:`advisor.analysis.host_effects.few_hosts_widened`). Controls beyond
``max_control_hosts`` are a seeded sample (the interval is the changed hosts' to make).

**Without controls** (fewer than ``min_control_hosts`` hosts of the stratum unchanged over
the days after): the day effect is taken as 0, a plain before and after, and the result says
so (``method``): a fleet-wide change then shows as the rollout's. A rollout is **worse**
only on a difference in differences whose whole interval is below zero.

The panels come one at a time (an iterable: the caller may load them part by part), their
strata distinct across panels.

>>> p = VerifyParameters(n_resamples=0)
>>> measure([], Design.none(3), p).method
'none'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.groupby import group_medians
from advisor.analysis.host_effects import few_hosts_widened
from advisor.recommend.impact import Span

__all__ = [
    "NEVER",
    "Design",
    "KindRealised",
    "Measurement",
    "Panel",
    "Realised",
    "VerifyParameters",
    "measure",
    "panel_of",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
NEVER = 2**40
"""A day number no data reaches: a host that never changed."""
MAD_TO_SD = 1.4826
CLIP_SD = 3.0
FIT_ROUNDS = 50
FIT_TOLERANCE = 1e-10
Method = Literal["difference_in_differences", "partly_before_after", "before_after", "none"]


@dataclass(frozen=True)
class VerifyParameters:
    """How a rollout is measured (module docstring); the defaults are the documented ones."""

    before_days: int = 14
    after_days: int = 28
    min_days: int = 2
    min_control_hosts: int = 5
    max_control_hosts: int = 2000
    n_resamples: int = 200
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class Panel:
    """Daily launch rows of some hosts: per row its host code (an index of the
    :class:`Design`'s arrays), stratum (an app and start kind; codes distinct across the
    panels of one measurement), start kind, UTC day number, level (the day's median log load
    time) and launches. Several rows of one host, stratum and day (two versions that day)
    are merged, weighted by their launches."""

    host: IntArray
    stratum: IntArray
    cold: BoolArray
    day: IntArray
    level: FloatArray
    count: IntArray

    def __len__(self) -> int:
        return len(self.host)

    def only(self, strata: Iterable[int]) -> Panel:
        """The rows of ``strata`` alone."""
        keep = np.isin(self.stratum, np.fromiter(strata, dtype=np.int64))
        return Panel(
            self.host[keep],
            self.stratum[keep],
            self.cold[keep],
            self.day[keep],
            self.level[keep],
            self.count[keep],
        )


@dataclass(frozen=True)
class Design:
    """Who changed and when, per host code. A changed host (``treated``) is untreated on
    the days in ``[before_until - before_days, before_until)`` and after its change from
    ``after_from`` on; another host is untreated on every day before ``before_until`` (its
    own change, or :data:`NEVER`)."""

    treated: BoolArray
    before_until: IntArray
    after_from: IntArray

    def __len__(self) -> int:
        return len(self.treated)

    @classmethod
    def none(cls, n_hosts: int) -> Design:
        """``n_hosts`` hosts, none changed."""
        return cls(
            np.zeros(n_hosts, dtype=bool),
            np.full(n_hosts, NEVER, dtype=np.int64),
            np.full(n_hosts, NEVER, dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class KindRealised:
    """What the rollout saved on one start kind (``cold``, ``warm``)."""

    start: str
    seconds_per_launch: Span
    share: Span
    launches_per_day: float


@dataclass(frozen=True)
class Realised:
    """A rollout measured (module docstring). ``seconds_per_launch`` is the time saved a
    launch (negative: slower), ``share`` of the changed hosts' load time before; both None
    when nothing could be measured (``note`` says why). ``hosts`` changed hosts were
    measured against ``control_hosts``; ``launches_per_day`` are theirs, over the strata
    measured; ``seconds_before`` their load time a launch before the change (NaN: none)."""

    seconds_per_launch: Span | None
    share: Span | None
    by_start: tuple[KindRealised, ...]
    hosts: int
    control_hosts: int
    launches_per_day: float
    seconds_before: float
    method: Method
    strata: int
    strata_without_controls: int
    params: VerifyParameters = field(repr=False)
    note: str = ""

    @property
    def worse(self) -> bool:
        """The rollout made launches slower: a difference in differences whose whole
        interval of time saved is below zero."""
        seconds = self.seconds_per_launch
        return (
            self.method == "difference_in_differences" and seconds is not None and seconds.high < 0
        )

    def to_document(self) -> dict[str, Any]:
        """JSON-ready: spans as ``{estimate, low, high}``."""
        p = self.params
        return {
            "seconds_per_launch": _span(self.seconds_per_launch),
            "share": _span(self.share),
            "by_start": [
                {
                    "start": k.start,
                    "seconds_per_launch": _span(k.seconds_per_launch),
                    "share": _span(k.share),
                    "launches_per_day": k.launches_per_day,
                }
                for k in self.by_start
            ],
            "hosts": self.hosts,
            "control_hosts": self.control_hosts,
            "launches_per_day": self.launches_per_day,
            "seconds_before": None if math.isnan(self.seconds_before) else self.seconds_before,
            "method": self.method,
            "strata": self.strata,
            "strata_without_controls": self.strata_without_controls,
            "before_days": p.before_days,
            "after_days": p.after_days,
            "confidence": p.confidence,
            "resamples": p.n_resamples,
            "worse": self.worse,
            "note": self.note,
        }


def measure(panels: Iterable[Panel], design: Design, params: VerifyParameters) -> Realised:
    """The rollout's saving (module docstring)."""
    measurement = Measurement(design, params)
    for panel in panels:
        measurement.add(panel)
    return measurement.result()


class Measurement:
    """:func:`measure` a panel at a time: several rollouts can be measured on the same
    panels, each read once (:meth:`add` each to every measurement, then :meth:`result`)."""

    def __init__(self, design: Design, params: VerifyParameters) -> None:
        self.design = design
        self.params = params
        rng = np.random.default_rng(params.seed)
        self._weights = rng.poisson(1.0, size=(params.n_resamples, len(design))).astype(np.float64)
        self._kept = _kept_controls(design, params, rng)
        self._sums = _Sums(params.n_resamples)

    def add(self, panel: Panel) -> None:
        """Measure the strata of ``panel`` (none of them added before)."""
        merged = _merged(panel)
        order = np.argsort(merged.stratum, kind="stable")
        strata, starts = np.unique(merged.stratum[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        for i in range(len(strata)):
            rows = order[bounds[i] : bounds[i + 1]]
            _stratum(merged, rows, self.design, self._kept, self._weights, self.params, self._sums)

    def result(self) -> Realised:
        return self._sums.result(self.params)


def _kept_controls(design: Design, params: VerifyParameters, rng: np.random.Generator) -> BoolArray:
    """Every unchanged host, or a seeded sample of ``max_control_hosts`` of them."""
    others = np.flatnonzero(~design.treated)
    kept = ~design.treated.copy()
    if others.size > params.max_control_hosts:
        kept[:] = False
        kept[rng.choice(others, params.max_control_hosts, replace=False)] = True
    return kept


def _merged(panel: Panel) -> Panel:
    """One row per host, stratum and day: levels weighted by launches, launches summed."""
    keep = np.isfinite(panel.level) & (panel.count > 0)
    host, stratum, day = panel.host[keep], panel.stratum[keep], panel.day[keep]
    level, count = panel.level[keep], panel.count[keep].astype(np.float64)
    if host.size == 0:
        return Panel(host, stratum, panel.cold[keep], day, level, count.astype(np.int64))
    first_day = int(day.min())
    n_days = int(day.max()) - first_day + 1
    n_strata = int(stratum.max()) + 1
    key = (host.astype(np.int64) * n_strata + stratum) * n_days + (day - first_day)
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    launches = np.bincount(inverse, weights=count)
    levels = np.bincount(inverse, weights=level * count) / launches
    return Panel(
        (unique // n_days // n_strata).astype(np.int64),
        (unique // n_days % n_strata).astype(np.int64),
        panel.cold[keep][first],
        (unique % n_days + first_day).astype(np.int64),
        levels,
        launches.astype(np.int64),
    )


@dataclass
class _Sums:
    """Per start kind: launches-weighted seconds saved, launches and time before, for the
    point estimate and each resample; hosts seen in either role."""

    resamples: int
    saved: dict[bool, FloatArray] = field(default_factory=dict)
    launches: dict[bool, FloatArray] = field(default_factory=dict)
    before: dict[bool, FloatArray] = field(default_factory=dict)
    treated_hosts: set[int] = field(default_factory=set)
    control_hosts: set[int] = field(default_factory=set)
    strata: int = 0
    without_controls: int = 0

    def add(
        self,
        cold: bool,
        saved: FloatArray,
        launches: FloatArray,
        before: FloatArray,
    ) -> None:
        """Add one stratum's sums (index 0: the point estimate, then the resamples)."""
        for store, value in ((self.saved, saved), (self.launches, launches), (self.before, before)):
            if cold in store:
                store[cold] = store[cold] + value
            else:
                store[cold] = value.copy()

    def result(self, params: VerifyParameters) -> Realised:
        if not self.launches:
            return Realised(
                None,
                None,
                (),
                0,
                len(self.control_hosts),
                0.0,
                math.nan,
                "none",
                self.strata,
                self.without_controls,
                params,
                "no changed host has enough days of launches before and after its change",
            )
        hosts = len(self.treated_hosts)
        smaller = min(hosts, len(self.control_hosts)) if self.control_hosts else hosts
        kinds = sorted(self.launches)
        saved = np.sum([self.saved[k] for k in kinds], axis=0)
        launches = np.sum([self.launches[k] for k in kinds], axis=0)
        before = np.sum([self.before[k] for k in kinds], axis=0)
        by_start = tuple(
            KindRealised(
                "cold" if k else "warm",
                _interval(self.saved[k], self.launches[k], smaller, params),
                _interval(self.saved[k], self.before[k], smaller, params),
                float(self.launches[k][0]),
            )
            for k in sorted(kinds, reverse=True)
        )
        if self.without_controls == 0:
            method: Method = "difference_in_differences"
            note = ""
        elif self.without_controls < self.strata:
            method = "partly_before_after"
            note = (
                f"{self.without_controls} of {self.strata} apps and start kinds had no hosts "
                "left unchanged to compare with: measured before and after only"
            )
        else:
            method = "before_after"
            note = (
                "no hosts were left unchanged to compare with: measured before and after "
                "only, so a change of the whole fleet over these days counts as the rollout's"
            )
        return Realised(
            seconds_per_launch=_interval(saved, launches, smaller, params),
            share=_interval(saved, before, smaller, params),
            by_start=by_start,
            hosts=hosts,
            control_hosts=len(self.control_hosts),
            launches_per_day=float(launches[0]),
            seconds_before=float(before[0] / launches[0]) if launches[0] > 0 else math.nan,
            method=method,
            strata=self.strata,
            strata_without_controls=self.without_controls,
            params=params,
            note=note,
        )


def _interval(
    numerator: FloatArray, denominator: FloatArray, hosts: int, params: VerifyParameters
) -> Span:
    """``numerator / denominator``: index 0 the estimate, the rest the resamples' ratio."""
    estimate = float(numerator[0] / denominator[0]) if denominator[0] > 0 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = numerator[1:] / denominator[1:]
    draws = draws[np.isfinite(draws)]
    if draws.size < 2:
        return Span(estimate, estimate, estimate)
    tail = (1 - params.confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(draws, [tail, 100 - tail]))
    low, high = min(low, estimate), max(high, estimate)
    low, high = few_hosts_widened(estimate, low, high, hosts, params.confidence)
    return Span(estimate, low, high)


def _stratum(
    panel: Panel,
    rows: IntArray,
    design: Design,
    kept: BoolArray,
    weights: FloatArray,
    params: VerifyParameters,
    sums: _Sums,
) -> None:
    """Measure one stratum (its ``rows`` of ``panel``) and add it to ``sums``."""
    host, day, y = panel.host[rows], panel.day[rows], panel.level[rows]
    count = panel.count[rows].astype(np.float64)
    n_hosts = len(design)
    treated = design.treated[host]
    until = design.before_until[host]
    after_from = design.after_from[host]
    before = treated & (day >= until - params.before_days) & (day < until)
    control = ~treated & kept[host] & (day < until)
    after = treated & (day >= after_from) & (day < after_from + params.after_days)
    days, day_index = np.unique(day, return_inverse=True)
    day_index = day_index.reshape(-1)
    n_days = days.size
    n_before = np.bincount(host[before], minlength=n_hosts)
    # A difference in differences: the days after that unchanged hosts share.
    control_day = np.zeros(n_days, dtype=bool)
    control_day[day_index[control]] = True
    after_shared = after & control_day[day_index]
    n_after = np.bincount(host[after_shared], minlength=n_hosts)
    measured = (n_before >= params.min_days) & (n_after >= params.min_days)
    used_days = np.zeros(n_days, dtype=bool)
    used_days[day_index[after_shared & measured[host]]] = True
    control_hosts = np.unique(host[control & used_days[day_index]])
    with_controls = bool(used_days.any()) and control_hosts.size >= params.min_control_hosts
    if with_controls:
        after = after_shared
    else:
        n_after = np.bincount(host[after], minlength=n_hosts)
        measured = (n_before >= params.min_days) & (n_after >= params.min_days)
        control_hosts = control_hosts[:0]
    if not measured[host[after]].any():
        return
    sums.strata += 1
    if not with_controls:
        sums.without_controls += 1
    sums.control_hosts.update(control_hosts.tolist())
    if with_controls:
        fit = np.flatnonzero(before | control)
        gamma_fit, residual = _two_way(host[fit], day_index[fit], y[fit], n_days, n_hosts)
        gamma = _resampled_days(host[fit], day_index[fit], residual, n_days, weights, gamma_fit)
    else:
        gamma = np.zeros((1 + weights.shape[0], n_days))
    # Each measured changed host: its mean after less its mean before, day effects taken out.
    mine = np.flatnonzero((before | after) & measured[host])
    units, unit_of = np.unique(host[mine], return_inverse=True)
    unit_of = unit_of.reshape(-1)
    n_units = units.size
    is_after = after[mine]
    side = np.where(is_after, 1.0, -1.0) / np.where(
        is_after, n_after[host[mine]], n_before[host[mine]]
    )
    contrast = np.zeros((n_units, n_days))
    np.add.at(contrast, (unit_of, day_index[mine]), side)
    raw = np.bincount(unit_of, weights=side * y[mine], minlength=n_units)
    effect = raw[:, None] - contrast @ gamma.T  # units x (1 + resamples)
    medians = group_medians(unit_of[~is_after], y[mine][~is_after])
    base = np.full(n_units, np.nan)
    base[medians.group] = np.exp(medians.median)
    window = params.before_days + params.after_days
    launches = np.bincount(unit_of, weights=count[mine], minlength=n_units) / window
    saved = base[:, None] * (1 - np.exp(effect))
    w = np.vstack([np.ones(n_units), weights[:, units]]).T * launches[:, None]
    sums.add(
        bool(panel.cold[rows][0]),
        (w * saved).sum(axis=0),
        w.sum(axis=0),
        (w * base[:, None]).sum(axis=0),
    )
    sums.treated_hosts.update(units.tolist())


def _two_way(
    host: IntArray, day: IntArray, y: FloatArray, n_days: int, n_hosts: int
) -> tuple[FloatArray, FloatArray]:
    """``y = alpha[host] + gamma[day]`` by alternating means, then again with residuals
    beyond :data:`CLIP_SD` robust standard deviations pulled in; ``gamma`` and each row's
    ``y - alpha[host]`` as refitted (what the day effects are means of)."""
    if host.size == 0:
        return np.zeros(n_days), np.zeros(0)
    alpha, gamma = _alternate(host, day, y, n_days, n_hosts)
    residual = y - alpha[host] - gamma[day]
    spread = MAD_TO_SD * float(np.median(np.abs(residual - np.median(residual))))
    if spread > 0:
        bound = CLIP_SD * spread
        y = alpha[host] + gamma[day] + np.clip(residual, -bound, bound)
        alpha, gamma = _alternate(host, day, y, n_days, n_hosts, alpha)
    return gamma, y - alpha[host]


def _alternate(
    host: IntArray,
    day: IntArray,
    y: FloatArray,
    n_days: int,
    n_hosts: int,
    alpha: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    per_host = np.maximum(np.bincount(host, minlength=n_hosts), 1)
    per_day = np.maximum(np.bincount(day, minlength=n_days), 1)
    if alpha is None:
        alpha = np.bincount(host, weights=y, minlength=n_hosts) / per_host
    gamma = np.zeros(n_days)
    for _ in range(FIT_ROUNDS):
        gamma = np.bincount(day, weights=y - alpha[host], minlength=n_days) / per_day
        fresh = np.bincount(host, weights=y - gamma[day], minlength=n_hosts) / per_host
        moved = float(np.max(np.abs(fresh - alpha))) if fresh.size else 0.0
        alpha = fresh
        if moved < FIT_TOLERANCE:
            break
    return alpha, gamma


def _resampled_days(
    host: IntArray,
    day: IntArray,
    residual: FloatArray,
    n_days: int,
    weights: FloatArray,
    gamma: FloatArray,
) -> FloatArray:
    """The day effects of the point estimate (row 0) and of each resample: the weighted
    mean of the untreated rows' ``y - alpha`` per day (the fit's where a resample leaves a
    day without weight)."""
    hosts, host_of = np.unique(host, return_inverse=True)
    host_of = host_of.reshape(-1)
    sums = np.zeros((hosts.size, n_days))
    seen = np.zeros((hosts.size, n_days))
    np.add.at(sums, (host_of, day), residual)
    np.add.at(seen, (host_of, day), 1.0)
    chosen = weights[:, hosts]
    with np.errstate(invalid="ignore", divide="ignore"):
        drawn = (chosen @ sums) / (chosen @ seen)
    drawn = np.where(np.isfinite(drawn), drawn, gamma[None, :])
    return np.vstack([gamma[None, :], drawn])


def _span(span: Span | None) -> dict[str, float | None] | None:
    """A span as JSON: a figure that is not a number (nothing to divide by) is None."""
    if span is None:
        return None
    return {
        "estimate": _finite(span.estimate),
        "low": _finite(span.low),
        "high": _finite(span.high),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def panel_of(
    daily: DailyLaunches,
    host_codes: Mapping[str, int],
    strata: dict[tuple[str, bool], int],
) -> Panel:
    """The panel of ``daily``'s rows: hosts by ``host_codes`` (rows of other hosts left
    out), strata by app and start kind from ``strata`` (new ones added, numbered on)."""
    table = daily.hosts
    code_of_host = np.array([host_codes.get(h, -1) for h in table.host_id], dtype=np.int64)
    codes = []
    for app in daily.apps:
        for kind in (False, True):
            codes.append(strata.setdefault((app, kind), len(strata)))
    stratum_of = np.array(codes, dtype=np.int64).reshape(-1, 2) if codes else np.zeros((0, 2))
    host = code_of_host[daily.host] if len(daily) else np.empty(0, dtype=np.int64)
    keep = host >= 0
    cold: BoolArray = np.asarray(daily.cold[keep], dtype=bool)
    return Panel(
        host=host[keep],
        stratum=stratum_of[daily.app[keep], cold.astype(np.int64)].astype(np.int64),
        cold=cold,
        day=daily.day[keep].astype(np.int64),
        level=daily.median[keep].astype(np.float64),
        count=daily.count[keep].astype(np.int64),
    )
