"""A fleet's data one app at a time: the parts the analysis runs on.

Every finding is about one app, so the analysis (advisor.analysis.fleet) runs on each app's
rows apart: its launches (daily rows and raw ones), its version changes, and the whole
fleet's hosts and pressure. The analysis job runs the same parts, one per lease, loaded from
the store one app at a time (advisor.jobs.analysis), so a run's findings are the same whether
one advisor ran every part or several shared them. Codes are kept: a part's frames name every
app and version the whole data names, and simply have no rows of the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from advisor.analysis.daily import DailyLaunches, daily_of
from advisor.analysis.frames import FleetData, LaunchFrame, VersionChanges

_DAILY_COLUMNS = (
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
_LAUNCH_COLUMNS = ("host", "app", "version", "method", "started_at", "duration", "cold")


def app_parts(data: FleetData) -> Iterator[tuple[str, FleetData]]:
    """Each app with launches in ``data`` (by code order) and its part of ``data``."""
    daily = daily_of(data)
    for code in np.unique(daily.app).tolist():
        yield daily.apps[code], app_part(data, daily, code)


def app_part(data: FleetData, daily: DailyLaunches, app: int) -> FleetData:
    """The part of ``data`` (whose daily rows are ``daily``) about app code ``app``."""
    rows = daily.app == app
    launches = data.launches
    raw = launches.app == app
    changes = data.changes
    changed = changes.app == app
    return replace(
        data,
        daily=replace(daily, **{name: getattr(daily, name)[rows] for name in _DAILY_COLUMNS}),
        launches=LaunchFrame(
            launches.hosts,
            launches.apps,
            launches.versions,
            *(getattr(launches, name)[raw] for name in _LAUNCH_COLUMNS),
        ),
        changes=VersionChanges(
            changes.host[changed],
            changes.app[changed],
            changes.at[changed],
            changes.from_version[changed],
            changes.to_version[changed],
        ),
    )
