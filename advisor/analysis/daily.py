"""Launches reduced to one row per host, app, version, start kind and UTC day.

The fleet analysis does not need every launch: a day's launches of one app on one host, of
one version and start kind, are summed up by their count, quantiles and log-moments, and
every method reads those rows. The store keeps them as its daily launch rollups (written as
batches are rolled up, so a run loads days, not launches); the simulator's columnar path and
the tests derive them from launches with :func:`daily_launches`, the one definition of what a
row holds.

Load times are summed up on the log scale (docs/analysis.md: a slowdown is a ratio):
``median``, ``p10`` ... ``p90`` are quantiles of the log load times (linear interpolation, as
``np.quantile``), ``log_mean`` their mean and ``log_var`` their sample variance (0 for a
single launch). ``day`` is the UTC day number, ``floor(started_at / 86400)``, on the host's
clock (a launch's own timestamp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advisor.analysis.frames import FleetData, HostTable, LaunchFrame
from advisor.analysis.groupby import group_means, group_quantiles

__all__ = ["QUANTILES", "DailyLaunches", "daily_launches", "daily_of"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DAY_SECONDS = 86400.0
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The probabilities of ``p10``, ``p25``, ``median``, ``p75`` and ``p90``."""


@dataclass(frozen=True)
class DailyLaunches:
    """One row per (host, app, version, cold, day) with at least one successful launch.

    Codes index ``hosts``, ``apps`` and ``versions`` as in :class:`LaunchFrame` (``versions[0]
    == ""``, the unknown version). Rows are in no particular order.
    """

    hosts: HostTable
    apps: list[str]
    versions: list[str]
    host: IntArray
    app: IntArray
    version: IntArray
    cold: BoolArray
    day: IntArray  # UTC day number: floor(started_at / 86400)
    count: IntArray
    median: FloatArray  # of the log load times, as every figure below
    p10: FloatArray
    p25: FloatArray
    p75: FloatArray
    p90: FloatArray
    log_mean: FloatArray
    log_var: FloatArray  # sample variance (ddof 1); 0 for a single launch

    def __post_init__(self) -> None:
        lengths = {
            name: len(getattr(self, name))
            for name in (
                "host",
                "app",
                "version",
                "cold",
                "day",
                "count",
                "median",
                "p10",
                "p25",
                "p75",
                "p90",
                "log_mean",
                "log_var",
            )
        }
        if len(set(lengths.values())) > 1:
            raise ValueError(f"DailyLaunches columns differ in length: {lengths}")
        if not self.versions or self.versions[0] != "":
            raise ValueError('DailyLaunches.versions[0] must be "" (the unknown version)')

    def __len__(self) -> int:
        return len(self.host)

    @property
    def launches(self) -> int:
        """How many launches the rows sum up."""
        return int(self.count.sum())


def daily_launches(frame: LaunchFrame) -> DailyLaunches:
    """The daily rows of ``frame``'s launches with a positive, finite load time.

    >>> from advisor.analysis.frames import FleetData, HostTable, LaunchFrame
    >>> hosts = HostTable(["h1"], ["it"], np.array([8e9]), np.array([False]), np.array([4.0]))
    >>> t = np.array([10.0, 20.0, 30.0, 86400.0 + 5])
    >>> frame = LaunchFrame(hosts, ["gimp"], ["", "2.10"], np.zeros(4, np.int32),
    ...     np.zeros(4, np.int32), np.ones(4, np.int32), np.zeros(4, np.int32), t,
    ...     np.array([1.0, 2.0, 4.0, 3.0]), np.zeros(4, bool))
    >>> daily = daily_launches(frame)
    >>> daily.day.tolist(), daily.count.tolist(), np.round(np.exp(daily.median), 6).tolist()
    ([0, 1], [3, 1], [2.0, 3.0])
    """
    duration = frame.duration
    keep = np.flatnonzero(np.isfinite(duration) & (duration > 0))
    n_apps = max(len(frame.apps), 1)
    n_versions = max(len(frame.versions), 1)
    day = np.floor(frame.started_at[keep] / DAY_SECONDS).astype(np.int64)
    first_day = int(day.min()) if day.size else 0
    days = int(day.max()) - first_day + 1 if day.size else 1
    code = frame.host[keep].astype(np.int64) * n_apps + frame.app[keep]
    code = code * n_versions + frame.version[keep]
    code = (code * 2 + frame.cold[keep]) * days + (day - first_day)
    logs = np.log(duration[keep])
    summary = group_quantiles(code, logs, QUANTILES)
    groups = summary.group
    _, position = np.unique(code, return_inverse=True)
    position = position.reshape(-1)
    size = len(groups)
    mean = group_means(position, logs, size)
    squares = group_means(position, (logs - mean[position]) ** 2, size)
    count = summary.count
    variance = np.where(count > 1, squares * count / np.maximum(count - 1, 1), 0.0)
    rest, day_r = np.divmod(groups, days)
    rest, cold = np.divmod(rest, 2)
    rest, version = np.divmod(rest, n_versions)
    host, app = np.divmod(rest, n_apps)
    q = summary.quantiles
    return DailyLaunches(
        hosts=frame.hosts,
        apps=list(frame.apps),
        versions=list(frame.versions),
        host=host,
        app=app,
        version=version,
        cold=cold.astype(bool),
        day=day_r + first_day,
        count=count,
        median=q[:, 2].copy(),
        p10=q[:, 0].copy(),
        p25=q[:, 1].copy(),
        p75=q[:, 3].copy(),
        p90=q[:, 4].copy(),
        log_mean=mean,
        log_var=variance,
    )


def daily_of(data: FleetData) -> DailyLaunches:
    """``data``'s daily rows: the producer's when it gave them, else derived from its launches."""
    return data.daily if data.daily is not None else daily_launches(data.launches)
