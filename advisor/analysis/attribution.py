"""Which cause explains a change on a set of hosts: version, pressure, or unknown, with confidence.

The evidence is timing on the hosts themselves: between a window before and a window after
the change, did their resource pressure rise (daily means of PSI memory / io / cpu "some"
shares and swap-in; a rise counts past the thresholds of :class:`FleetParameters`), and did
they change version of the app within ``rollout_margin_days`` of the change? Each possible
cause gets the share of the hosts it covers; the largest share of at least one half wins and
is the confidence. Memory pressure pages, so it raises swap-in and io pressure too: swap and
disk io count only on hosts without a memory rise (swap stands in for memory on hosts that
report no PSI). Nothing at half: ``unknown``, with confidence one less the best share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from advisor.analysis.findings import Cause
from advisor.analysis.fleet_cells import DAY_SECONDS, PRESSURE_CAUSES, window_means
from advisor.analysis.fleet_parameters import FleetParameters

if TYPE_CHECKING:  # fleet_versions reads pressure_causes from here
    from advisor.analysis.fleet_versions import VersionShift

__all__ = ["Attribution", "attribute_window", "calm_hosts", "pressure_causes", "reported", "rises"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Attribution:
    """The cause chosen, how sure (0..1) and the shares behind it."""

    cause: Cause
    confidence: float
    detail: dict[str, float] = field(default_factory=dict)


def rises(params: FleetParameters) -> FloatArray:
    """The rise of each pressure (order of ``PRESSURE_CAUSES``) that counts as pressure."""
    return np.array([params.memory_rise, params.swap_rise, params.io_rise, params.cpu_rise])


def pressure_causes(early: FloatArray, late: FloatArray, params: FleetParameters) -> BoolArray:
    """Per host (rows) and cause (columns, ``PRESSURE_CAUSES``): did that pressure rise?

    Exclusive as the module docstring says: swap and io only where memory did not rise.

    >>> e = np.array([[0.0, 0.0, 0.0, 0.0], [np.nan, 0.0, 0.0, 0.0]])
    >>> l = np.array([[0.3, 4e6, 0.1, 0.0], [np.nan, 4e6, 0.0, 0.0]])
    >>> pressure_causes(e, l, FleetParameters()).astype(int).tolist()
    [[1, 0, 0, 0], [1, 0, 0, 0]]
    """
    with np.errstate(invalid="ignore"):
        rose = (late - early) >= rises(params)
    memory = rose[:, 0] | (~np.isfinite(late[:, 0] - early[:, 0]) & rose[:, 1])
    return np.column_stack([memory, rose[:, 1] & ~memory, rose[:, 2] & ~memory, rose[:, 3]])


def reported(grid: FloatArray) -> BoolArray:
    """Per cause (``PRESSURE_CAUSES``): whether any host of the daily pressure ``grid``
    (hosts x days x causes) reported it."""
    return np.asarray(np.isfinite(grid).any(axis=(0, 1)), dtype=bool)


def calm_hosts(
    early: FloatArray,
    late: FloatArray,
    fleet_reports: BoolArray,
    params: FleetParameters,
    *,
    fleet_wide: BoolArray | None = None,
) -> BoolArray:
    """Per host: no pressure rose (:func:`pressure_causes`) and every pressure the fleet
    reports (``fleet_reports``, per cause: :func:`reported`) was measured in both windows;
    a pressure that rose on the whole fleet (``fleet_wide``, per cause:
    :func:`fleet_wide_rises`) does not count as a rise, every host went through it.

    A pressure that was not measured cannot be shown not to have risen: a host whose kernel
    gives no PSI, among hosts that do, may be paging or filling its disk unseen (swap-in,
    its only sign, grows with the square of memory pressure and passes its threshold late),
    so it is no control and no calm week. In a fleet where no host reports PSI, swap alone
    decides.

    >>> e = np.array([[0.0, 0.0, 0.0, 0.0], [np.nan, 0.0, np.nan, np.nan]])
    >>> calm_hosts(e, e, np.ones(4, bool), FleetParameters()).tolist()
    [True, False]
    >>> calm_hosts(e, e, np.array([False, True, False, False]), FleetParameters()).tolist()
    [True, True]
    """
    with np.errstate(invalid="ignore"):
        known = np.isfinite(early[:, fleet_reports]).all(axis=1) & np.isfinite(
            late[:, fleet_reports]
        ).all(axis=1)
    rose = pressure_causes(early, late, params)
    if fleet_wide is not None:
        rose = rose & ~fleet_wide[None, :]
    return np.asarray(known & ~rose.any(axis=1), dtype=bool)


def fleet_wide_rises(
    rose: BoolArray, early: FloatArray, late: FloatArray, params: FleetParameters
) -> BoolArray:
    """Per cause: did the pressure rise (``rose``: :func:`pressure_causes`) on at least
    ``fleet_wide_rise`` of the hosts that measured it in both windows? Such a rise cancels
    when hosts are compared with each other, and leaving its hosts out of the calm ones
    would leave none.

    >>> rose = np.array([[1, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]])
    >>> e = np.zeros((5, 4))
    >>> fleet_wide_rises(rose.astype(bool), e, e, FleetParameters()).tolist()
    [False, False, False, True]
    """
    measured = np.isfinite(early) & np.isfinite(late)
    counted = measured.sum(axis=0)
    share = np.where(counted > 0, (rose & measured).sum(axis=0) / np.maximum(counted, 1), 0.0)
    return np.asarray(share >= params.fleet_wide_rise, dtype=bool)


def attribute_window(
    grid: FloatArray,
    hosts: IntArray,
    app: int,
    *,
    day0: float,
    split: int,
    before: tuple[int, int],
    after: tuple[int, int],
    shifts: Sequence[VersionShift],
    params: FleetParameters,
) -> Attribution:
    """The cause of a change at day ``split`` on ``hosts`` (see the module docstring);
    ``before`` and ``after`` are day ranges ``[first, stop)`` of the pressure ``grid``
    (:func:`advisor.analysis.fleet_cells.pressure_grid`), counted from ``day0``."""
    if hosts.size == 0:
        return Attribution("unknown", 0.0)
    early = window_means(grid, hosts, *before)
    late = window_means(grid, hosts, *after)
    rose = pressure_causes(early, late, params)
    shares = {cause: float(rose[:, i].mean()) for i, cause in enumerate(PRESSURE_CAUSES)}
    at = day0 + split * DAY_SECONDS
    margin = params.rollout_margin_days * DAY_SECONDS
    moved: set[int] = set()
    for shift in shifts:
        if shift.app == app:
            near = np.abs(shift.at - at) <= margin
            moved.update(shift.hosts[near].tolist())
    shares["version"] = len(moved & set(hosts.tolist())) / hosts.size
    detail = {f"share_{name}": round(share, 3) for name, share in shares.items()}
    best = max(shares, key=lambda name: shares[name])
    if shares[best] >= 0.5:
        cause: Cause = best  # type: ignore[assignment]
        return Attribution(cause, round(shares[best], 3), detail)
    return Attribution("unknown", round(1.0 - shares[best], 3), detail)
