"""The load-time series behind a recommendation's chart, through the real app, on SQLite and
PostgreSQL: launches written through the store's ingest, a recommendation on some of the hosts,
and the JSON the page's script draws."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import quote

import numpy as np
import pytest
import sqlalchemy as sa

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.open import Stores, stores_on
from advisor.ui.app import create_ui
from advisor.ui.chart_series import MAX_APPS, chart_apps, group_medians
from advisor.ui.passwords import Passwords
from advisor.ui.settings import UiSettings
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.fleetbatches import FIN_HARDWARE, batch, inventory, launch
from tests.advisor.store.reviewdata import priced, stored_of
from tests.advisor.ui.conftest import CHEAP, T0, Clock, TestClient, Ui

DAY = 86_400
TODAY = int(T0 // DAY) * DAY
WINDOW_DAYS = 7
KEY = "upgrade|libreoffice|7.6.4|finance"
FINDING = "version_change|libreoffice|from_version=1|version=2"
OLD, NEW = "1:7.5.9-2", "1:7.6.4-1"
# Cold launches (seconds) of libreoffice by host and days before today.
COLD = {
    "fin-1": {3: 2.0, 2: 4.0},
    "fin-2": {3: 3.0, 2: 4.0},
    "fin-3": {3: 10.0, 2: 1.0},
    "hr-1": {3: 1.0, 1: 1.5},
}


def write_launches(stores: Stores, today: float, *, prefix: str = "") -> None:
    """Enrol ``fin-1..3`` (finance) and ``hr-1`` (hr), and ingest their launches of
    :data:`COLD` (days before ``today``), a warm one of hr-1 and fin-1's move from 7.5.9 to
    7.6.4 (its inventory two days before ``today``)."""
    hosts = stores.hosts
    for host_id in COLD:
        department = "finance" if host_id.startswith("fin") else "hr"
        token, _ = hosts.create_token(department=department, expires_at=today + DAY, now=today)
        hosts.enrol(
            token=token,
            host_id=prefix + host_id,
            hostname=f"{prefix}{host_id}.example",
            agent_version="1.0",
            now=today - 5 * DAY,
        )
    for sequence, (host_id, days) in enumerate(COLD.items(), start=1):
        launches = [
            launch(today - ago * DAY + 9 * 3600, seconds, NEW if ago < 2 else OLD, kind="cold")
            for ago, seconds in days.items()
        ]
        if host_id == "hr-1":
            launches.append(launch(today - 2 * DAY + 10 * 3600, 0.5, OLD))
        first = batch(
            prefix + host_id,
            sequence * 10,
            launches=launches,
            inventory=inventory(today - 4 * DAY, FIN_HARDWARE, OLD),
        )
        hosts.ingest(prefix + host_id, first, received_at=today - DAY, sent_at=None)
    moved = batch(
        prefix + "fin-1", 100, inventory=inventory(today - 2 * DAY + 3600, FIN_HARDWARE, NEW)
    )
    hosts.ingest(prefix + "fin-1", moved, received_at=today - DAY, sent_at=None)


@pytest.fixture
def ui(engine: sa.Engine) -> Iterator[Ui]:
    """The conftest's app, with the frames and findings handed to the interface."""
    clock = Clock()
    stores = stores_on(engine)
    passwords = Passwords(CHEAP)
    web = create_ui(
        users=stores.users,
        sessions=stores.ui_sessions,
        audit=stores.audit,
        recommendations=stores.recommendations,
        settings=UiSettings(
            idle_timeout=600,
            session_lifetime=3600,
            login_failures_per_user=3,
            login_failures_per_address=5,
            secure_cookie=False,
        ),
        hosts=stores.hosts,
        frames=stores.frames,
        findings=stores.findings,
        window_days=WINDOW_DAYS,
        passwords=passwords,
        clock=clock,
    )
    app = create_app(
        stores.hosts,
        ApiSettings(),
        api_tokens=stores.api_tokens,
        recommendations=stores.recommendations,
        audit=stores.audit,
        clock=clock,
        ui=web,
    )
    with TestClient(app) as client:
        yield Ui(client, stores, clock, passwords)


@pytest.fixture
def fleet(ui: Ui) -> Ui:
    write_launches(ui.stores, TODAY)
    since = finding(scope={"from_version": "1", "version": "2"}, detected_at=T0 - 600)
    assert since.key == FINDING
    ui.stores.findings.record_run(
        [replace(since, since=TODAY - 2 * DAY + 7200)], now=T0 - 600, apps=["libreoffice"]
    )
    ui.stores.recommendations.propose(
        [priced(KEY, hosts=("fin-1", "fin-2", "fin-3"), benefit="9000.00")], now=T0 - 60
    )
    return ui


def series_path(key: str) -> str:
    return f"/ui/recommendations/{quote(key, safe='')}/series.json"


def test_the_series_give_each_groups_daily_median_with_its_markers(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    answer = fleet.client.get(series_path(KEY))

    assert answer.status_code == 200
    payload = answer.json()
    first = TODAY - WINDOW_DAYS * DAY
    assert payload["days"] == [first + i * DAY for i in range(WINDOW_DAYS + 1)]
    (chart,) = payload["apps"]
    assert chart["app"] == "libreoffice"
    series = {(s["group"], s["start"]): s["seconds"] for s in chart["series"]}
    assert set(series) == {("these", "cold"), ("others", "cold"), ("others", "warm")}
    empty = [None] * 4
    # fin-1..3 three and two days ago: medians of (2, 3, 10) and (4, 4, 1).
    assert series["these", "cold"] == [*empty, 3.0, 4.0, None, None]
    assert series["others", "cold"] == [*empty, 1.0, None, 1.5, None]
    assert series["others", "warm"] == [*empty, None, 0.5, None, None]
    assert chart["markers"] == [
        {"at": TODAY - 2 * DAY, "kind": "version", "label": "1:7.6.4-1 on 1 host"},
        {"at": TODAY - 2 * DAY, "kind": "change", "label": "change point (version change)"},
    ]


def test_a_manager_outside_its_departments_gets_403_and_no_session_none(fleet: Ui) -> None:
    fleet.add_user("hana", "manager", departments=("hr",))

    assert fleet.client.get(series_path(KEY), follow_redirects=False).status_code == 303
    fleet.login("hana")
    assert fleet.client.get(series_path(KEY)).status_code == 403
    assert fleet.client.get(series_path("upgrade|nothing|1|x")).status_code == 404


def test_the_detail_page_links_its_series_and_cohorts(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    page = fleet.client.get(f"/ui/recommendations/{quote(KEY, safe='')}").text

    assert f'data-series-url="{series_path(KEY)}"' in page
    assert 'data-estimate="0.4" data-low="0.3" data-high="0.5"' in page
    assert '<script src="/ui/static/charts.js"></script>' in page
    assert fleet.client.get("/ui/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


def test_group_medians_takes_the_middle_of_each_day() -> None:
    day = np.array([1, 0, 1, 1, 0, 3])
    value = np.array([5.0, 2.0, 1.0, 3.0, 4.0, 7.0])

    medians = group_medians(day, value, 5)

    assert medians[[0, 1, 3]].tolist() == [3.0, 3.0, 7.0]
    assert np.isnan(medians[[2, 4]]).all()


def test_a_hardware_recommendation_charts_the_apps_of_its_evidence_four_at_most() -> None:
    rec = stored_of(priced("ram|hr-1|16GiB", kind="ram", app="*", target="16 GiB"))
    items: list[dict[str, object]] = [
        {"app": app, "start": "cold", "seconds_per_launch": {}}
        for app in ("calc", "firefox", "calc", "gimp", "thunderbird", "writer")
    ]
    rec.document["benefit"]["evidence"] = items

    assert chart_apps(rec) == ["calc", "firefox", "gimp", "thunderbird"]
    assert len(chart_apps(rec)) == MAX_APPS
