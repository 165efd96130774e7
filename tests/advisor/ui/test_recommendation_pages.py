"""The recommendations pages and the budget planner, through the real app, on SQLite and
PostgreSQL: what they list, who sees what, what is escaped, who may decide."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
import sqlalchemy as sa

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.open import stores_on
from advisor.ui.app import create_ui
from advisor.ui.pages_recommendations import PAGE_SIZE, detail_path
from advisor.ui.passwords import Passwords
from advisor.ui.settings import UiSettings
from tests.advisor.store.reviewdata import priced
from tests.advisor.ui.conftest import CHEAP, Clock, TestClient, Ui

FINANCE = "upgrade|libreoffice|7.6.4|finance"
HR = "ram|hr-ws-12|16GiB"
BOTH = "upgrade|firefox|128|finance+hr"
EVIL = "upgrade|<script>alert(1)</script>|9|finance"


@pytest.fixture
def ui(engine: sa.Engine) -> Iterator[Ui]:
    """The conftest's app, with the hosts store handed to the interface for hostnames."""
    clock = Clock()
    stores = stores_on(engine)
    passwords = Passwords(CHEAP)
    settings = UiSettings(
        idle_timeout=600,
        session_lifetime=3600,
        login_failures_per_user=3,
        login_failures_per_address=5,
        secure_cookie=False,
    )
    web = create_ui(
        users=stores.users,
        sessions=stores.ui_sessions,
        audit=stores.audit,
        recommendations=stores.recommendations,
        settings=settings,
        hosts=stores.hosts,
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
    """Three recommendations: finance's (best), hr's, and one for both departments."""
    ui.stores.recommendations.propose(
        [
            priced(FINANCE, benefit="9000.00", one_off="1500.00"),
            priced(
                HR,
                kind="ram",
                category="right_sizing",
                app="firefox",
                target="16 GiB",
                departments=("hr",),
                hosts=("hr-1",),
                benefit="3000.00",
                one_off="400.00",
            ),
            priced(
                BOTH,
                app="firefox",
                target="128",
                departments=("finance", "hr"),
                hosts=("fin-1", "hr-1"),
                benefit="1200.00",
                one_off="900.00",
            ),
        ],
        now=ui.clock() - 60,
    )
    return ui


def titles(page: str) -> list[str]:
    """The recommendations a list page links to, in order."""
    return [
        unescape(t) for t in re.findall(r'<a href="/ui/recommendations/[^"]+">([^<]+)</a>', page)
    ]


def enrol(ui: Ui, host_id: str, hostname: str, department: str) -> None:
    token, _ = ui.stores.hosts.create_token(
        department=department, expires_at=ui.clock() + 3600, now=ui.clock()
    )
    ui.stores.hosts.enrol(
        token=token, host_id=host_id, hostname=hostname, agent_version="1.0", now=ui.clock()
    )


def test_the_list_ranks_by_score_in_human_units(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    page = fleet.client.get("/ui/recommendations").text

    assert titles(page)[0] == "upgrade libreoffice to 7.6.4 on 2 hosts"
    assert len(titles(page)) == 3
    assert "EUR 9,000" in page  # money a year, thousands separated
    assert "0.40 s [0.30, 0.50]" in page  # seconds a launch with the interval
    assert " mo<" in page  # payback in months


def test_the_list_filters_by_department_app_kind_and_state(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")
    get = fleet.client.get

    assert len(titles(get("/ui/recommendations?department=hr").text)) == 2
    assert titles(get("/ui/recommendations?kind=ram").text) == ["ram firefox to 16 GiB on 1 hosts"]
    assert len(titles(get("/ui/recommendations?app=firefox").text)) == 2
    assert titles(get("/ui/recommendations?state=approved").text) == []
    assert "No recommendation matches" in get("/ui/recommendations?state=approved").text
    assert get("/ui/recommendations?kind=teleport").status_code == 400


def test_the_list_pages_with_previous_and_next(ui: Ui) -> None:
    ui.stores.recommendations.propose(
        [priced(f"upgrade|app{i:02}|2|finance", app=f"app{i:02}") for i in range(PAGE_SIZE + 2)],
        now=ui.clock() - 60,
    )
    ui.add_user("vera", "viewer")
    ui.login("vera")

    first = ui.client.get("/ui/recommendations").text
    second = ui.client.get(f"/ui/recommendations?offset={PAGE_SIZE}").text

    assert len(titles(first)) == PAGE_SIZE
    assert f'href="/ui/recommendations?offset={PAGE_SIZE}" rel="next"' in first
    assert 'rel="prev"' not in first
    assert len(titles(second)) == 2
    assert 'href="/ui/recommendations" rel="prev"' in second
    assert not set(titles(first)) & set(titles(second))


def test_an_empty_list_says_how_to_get_recommendations(ui: Ui) -> None:
    ui.add_user("vera", "viewer")
    ui.login("vera")

    page = ui.client.get("/ui/recommendations").text

    assert "fleetsight-advisor recommend" in page


def test_a_manager_limited_to_a_department_sees_only_theirs(fleet: Ui) -> None:
    fleet.add_user("henri", "manager", departments=("hr",))
    fleet.login("henri")

    page = fleet.client.get("/ui/recommendations").text

    assert sorted(titles(page)) == [
        "ram firefox to 16 GiB on 1 hosts",
        "upgrade firefox to 128 on 2 hosts",
    ]
    assert fleet.client.get("/ui/recommendations?department=finance").status_code == 403
    assert fleet.client.get(detail_path(FINANCE)).status_code == 403
    # Concerns hr, but finance too: readable, not his to decide.
    both = fleet.client.get(detail_path(BOTH)).text
    assert "/approve" not in both


def test_the_detail_page_names_hosts_by_department_and_shows_the_figures(fleet: Ui) -> None:
    enrol(fleet, "fin-1", "fin-ws-01", "finance")
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    page = fleet.client.get(detail_path(FINANCE)).text

    assert "fin-ws-01" in page  # enrolled: the inventory's hostname, under finance
    assert re.search(r"<h3>finance</h3>\s*<ul class=\"hosts\">\s*<li>fin-ws-01</li>", page)
    assert "fin-2.example" in page  # not enrolled: the name the engine wrote
    assert "Recommended: upgrade libreoffice to 7.6.4 on 2 hosts." in page
    assert "labour" in page  # a cost part...
    assert "2024-05-01" in page  # ...with its date
    assert "cold" in page  # evidence per start kind
    assert "EUR 1,500.00" in page


def test_the_detail_page_escapes_what_agents_sent(ui: Ui) -> None:
    ui.stores.recommendations.propose(
        [priced(EVIL, app="<script>alert(1)</script>", hostnames=["<script>host</script>", "b"])],
        now=ui.clock() - 60,
    )
    ui.add_user("vera", "viewer")
    ui.login("vera")

    detail = ui.client.get(detail_path(EVIL)).text
    listed = ui.client.get("/ui/recommendations").text

    for page in (detail, listed):
        assert "<script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;host&lt;/script&gt;" in detail


def test_a_viewer_sees_no_forms_and_gets_403_posting(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    page = fleet.client.get(detail_path(FINANCE)).text
    answer = fleet.client.post(f"{detail_path(FINANCE)}/approve", data={"csrf_token": fleet.csrf()})

    assert '<form method="post" action="/ui/recommendations/' not in page
    assert answer.status_code == 403
    assert fleet.stores.recommendations.get(FINANCE).state == "proposed"  # type: ignore[union-attr]


def test_a_manager_approves_and_comes_back_to_the_page_with_its_history(fleet: Ui) -> None:
    fleet.add_user("mona", "manager")
    fleet.login("mona")
    assert "Approve</button>" in fleet.client.get(detail_path(FINANCE)).text

    answer = fleet.client.post(
        f"{detail_path(FINANCE)}/approve",
        data={"csrf_token": fleet.csrf(), "reason": "budget 2027Q1"},
        follow_redirects=False,
    )
    page = fleet.client.get(answer.headers["location"]).text

    assert answer.headers["location"] == f"{detail_path(FINANCE)}?done=approve"
    assert "Approved." in page
    assert '<span class="state">approved</span>' in page
    assert "budget 2027Q1" in page  # the history
    assert "mona" in page


def test_the_budget_page_shows_the_plan_and_what_it_leaves_out(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    empty = fleet.client.get("/ui/budget").text
    page = fleet.client.get("/ui/budget?amount=2,000").text
    bad = fleet.client.get("/ui/budget?amount=lots")

    assert "The plan" not in empty
    chosen, left_out = page.split("<h3>Left out")
    assert "upgrade libreoffice to 7.6.4 on 2 hosts" in chosen
    assert "ram firefox to 16 GiB on 1 hosts" in chosen
    assert "upgrade firefox to 128 on 2 hosts" in left_out
    assert "EUR 1,900.00" in page  # spent
    assert "Ranking by ratio" in page
    assert bad.status_code == 400
    assert "the amount must be a number" in bad.text
