"""The load-time series behind a recommendation's chart (``GET /ui/recommendations/{key}/
series.json``): per app, the daily median load time of the recommendation's hosts beside the
other hosts', per start kind, with the version changes of its hosts and the change points of
its findings marked.

The payload is one number (seconds, or null for a day without launches) per day per series:

.. code-block:: json

    {"days": [1787270400, ...],
     "apps": [{"app": "libreoffice",
               "series": [{"group": "these", "start": "cold", "seconds": [2.1, null, ...]}],
               "markers": [{"at": 1787356800, "kind": "version", "label": "7.6.4 on 3 hosts"}]}]}

A day's figure for a group is the median, over the group's host-days of that day, of each
host-day's median load time (advisor.analysis.daily: the rows hold medians of log load
times): the typical host's day, so a host that launches often does not outweigh the rest.
Only the recommendation's apps are read (:meth:`FleetFrames.load` with ``apps``), at most
:data:`MAX_APPS` of them (a hardware recommendation names ``*``: the apps of its evidence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import Depends, FastAPI
from starlette.responses import JSONResponse, Response

from advisor.analysis.daily import DailyLaunches
from advisor.analysis.frames import FleetData
from advisor.store.analysis_data import FleetFrames
from advisor.store.findings import Findings
from advisor.store.recommendations import Recommendations, StoredRecommendation
from advisor.store.users import UiSession
from advisor.ui.auth import Authenticator, UiRefusal

MAX_APPS = 4
MAX_VERSION_MARKERS = 12
"""Version changes marked per app: the ones most hosts made (the rest would be noise)."""
DAY = 86_400
GROUPS = ("these", "others")
STARTS = ("cold", "warm")


def chart_apps(rec: StoredRecommendation) -> list[str]:
    """The apps to chart: the recommendation's, or (``*``) its evidence's, at most 4."""
    if rec.app != "*":
        return [rec.app]
    benefit = rec.document.get("benefit")
    items = benefit.get("evidence") if isinstance(benefit, dict) else None
    apps: list[str] = []
    for item in items if isinstance(items, list) else []:
        app = item.get("app") if isinstance(item, dict) else None
        if isinstance(app, str) and app and app != "*" and app not in apps:
            apps.append(app)
    return apps[:MAX_APPS]


def group_medians(
    day: npt.NDArray[np.int64], value: npt.NDArray[np.float64], days: int
) -> npt.NDArray[np.float64]:
    """The median of ``value`` per ``day`` index (0 .. days-1); NaN for a day without values.

    >>> group_medians(np.array([0, 0, 2]), np.array([1.0, 3.0, 5.0]), 3).tolist()
    [2.0, nan, 5.0]
    """
    result = np.full(days, np.nan)
    if len(day) == 0:
        return result
    order = np.lexsort((value, day))
    ordered = value[order]
    counts = np.bincount(day, minlength=days)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    seen = counts > 0
    low = starts[seen] + (counts[seen] - 1) // 2
    high = starts[seen] + counts[seen] // 2
    result[seen] = (ordered[low] + ordered[high]) / 2
    return result


@dataclass(frozen=True, slots=True)
class Window:
    """The UTC days charted: ``first`` .. ``first + days - 1`` (day numbers)."""

    first: int
    days: int

    @classmethod
    def of(cls, now: float, days: int) -> Window:
        first = int((now - days * DAY) // DAY)
        return cls(first, int(now // DAY) - first + 1)

    def timestamps(self) -> list[int]:
        return [(self.first + i) * DAY for i in range(self.days)]


def app_series(
    daily: DailyLaunches, app: str, hosts: frozenset[str], window: Window
) -> list[dict[str, Any]]:
    """The app's series: per group (``these`` hosts, the ``others``) and start kind, the daily
    median in seconds (None: no launch that day); series without any day are left out."""
    if app not in daily.apps:
        return []
    mine = np.array([h in hosts for h in daily.hosts.host_id], dtype=bool)
    rows = (daily.app == daily.apps.index(app)) & (daily.day >= window.first)
    rows &= daily.day < window.first + window.days
    found = []
    for group in GROUPS:
        in_group = mine[daily.host] if group == "these" else ~mine[daily.host]
        for start in STARTS:
            chosen = rows & in_group & (daily.cold == (start == "cold"))
            if not chosen.any():
                continue
            medians = np.exp(
                group_medians(daily.day[chosen] - window.first, daily.median[chosen], window.days)
            )
            seconds = [None if np.isnan(v) else round(float(v), 3) for v in medians]
            found.append({"group": group, "start": start, "seconds": seconds})
    return found


def version_markers(data: FleetData, app: str, hosts: frozenset[str]) -> list[dict[str, Any]]:
    """The version changes of ``hosts`` to ``app``, by day and new version: how many moved."""
    frame, changes = data.launches, data.changes
    if app not in frame.apps or len(changes) == 0:
        return []
    mine = np.array([h in hosts for h in frame.hosts.host_id], dtype=bool)
    chosen = (changes.app == frame.apps.index(app)) & mine[changes.host]
    moved: dict[tuple[int, str], int] = {}
    for at, version in zip(changes.at[chosen], changes.to_version[chosen], strict=True):
        key = (int(at // DAY) * DAY, frame.versions[int(version)] or "unknown version")
        moved[key] = moved.get(key, 0) + 1
    biggest = sorted(moved.items(), key=lambda item: -item[1])[:MAX_VERSION_MARKERS]
    return [
        {"at": at, "kind": "version", "label": f"{version} on {count} host{'s' * (count > 1)}"}
        for (at, version), count in sorted(biggest)
    ]


def finding_markers(
    rec: StoredRecommendation, findings: Findings | None, app: str
) -> list[dict[str, Any]]:
    """The change points (``since``) of the recommendation's findings about ``app``."""
    if findings is None:
        return []
    markers = []
    for key in rec.finding_keys:
        finding = findings.get(key)
        if finding is None or finding.app != app or not np.isfinite(finding.since):
            continue
        day = int(finding.since // DAY) * DAY
        label = f"change point ({finding.kind.replace('_', ' ')})"
        markers.append({"at": day, "kind": "change", "label": label})
    return markers


def series_of(
    rec: StoredRecommendation,
    frames: FleetFrames | None,
    findings: Findings | None,
    *,
    now: float,
    days: int,
) -> dict[str, Any]:
    """The chart's payload for ``rec`` (see the module docstring)."""
    window = Window.of(now, days)
    apps = chart_apps(rec)
    if frames is None or not apps:
        return {"days": window.timestamps(), "apps": []}
    data = frames.load(now=now, days=days, apps=apps)
    daily = data.daily
    hosts = frozenset(rec.hosts)
    charted = []
    for app in apps:
        series = [] if daily is None else app_series(daily, app, hosts, window)
        markers = version_markers(data, app, hosts) + finding_markers(rec, findings, app)
        charted.append({"app": app, "series": series, "markers": markers})
    return {"days": window.timestamps(), "apps": charted}


def add_series_route(
    app: FastAPI,
    auth: Authenticator,
    recommendations: Recommendations,
    frames: FleetFrames | None,
    findings: Findings | None,
    *,
    days: int,
    clock: Callable[[], float],
) -> None:
    """``GET /recommendations/{key}/series.json`` on ``app``: register it before the detail
    page's ``/recommendations/{key:path}``, which would take the path otherwise."""
    viewer = Depends(auth.require("viewer"))

    @app.get("/recommendations/{key:path}/series.json")
    def recommendation_series(key: str, session: UiSession = viewer) -> Response:
        rec = recommendations.get(key)
        if rec is None:
            raise UiRefusal(404, "no such recommendation")
        # The detail page's rule: a user limited to departments reads what concerns one.
        if not readable(session.user.departments, rec):
            raise UiRefusal(403, "this recommendation concerns departments you do not review")
        payload = series_of(rec, frames, findings, now=clock(), days=days)
        return JSONResponse(payload, headers={"Cache-Control": "private, max-age=60"})


def readable(departments: Sequence[str], rec: StoredRecommendation) -> bool:
    return not departments or bool(set(rec.departments) & set(departments))
