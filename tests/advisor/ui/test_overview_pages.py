"""The Overview, the findings pages and the audit log page, through the real app, on SQLite
and PostgreSQL: what they show, what they filter, what is escaped, who may read the log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.catalog.costs import parse_costs
from advisor.cli.ids import finding_id
from advisor.store.audit import recommendation_target
from advisor.store.open import stores_on
from advisor.ui.app import create_ui
from advisor.ui.pages_audit import AuditQuery, read_page
from advisor.ui.passwords import Passwords
from advisor.ui.settings import UiSettings
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.pricedfindings import SHIPPED_COSTS
from tests.advisor.store.reviewdata import priced
from tests.advisor.ui.conftest import CHEAP, Clock, TestClient, Ui

FINANCE = "upgrade|libreoffice|7.6.4|finance"
EVIL_NAME = "<script>alert(1)</script>"
SLOWER = finding(hosts=("fin-1", "evil-1"), departments=("finance",))
PRESSURE = finding(
    "pressure",
    "firefox",
    {"department": "hr"},
    cause="memory",
    effect=0.2,
    hosts=("hr-1",),
    departments=("hr",),
)


@pytest.fixture
def ui(engine: sa.Engine) -> Iterator[Ui]:
    """The conftest's app, with every store the Overview and the findings pages read."""
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
        findings=stores.findings,
        frames=stores.frames,
        catalog=stores.catalog,
        passwords=passwords,
        clock=clock,
    )
    app = create_app(stores.hosts, ApiSettings(), audit=stores.audit, clock=clock, ui=web)
    with TestClient(app) as client:
        yield Ui(client, stores, clock, passwords)


def enrol(ui: Ui, host_id: str, hostname: str, department: str) -> None:
    token, _ = ui.stores.hosts.create_token(
        department=department, expires_at=ui.clock() + 3600, now=ui.clock()
    )
    ui.stores.hosts.enrol(
        token=token, host_id=host_id, hostname=hostname, agent_version="1.0", now=ui.clock()
    )


@pytest.fixture
def fleet(ui: Ui) -> Ui:
    """Three hosts (one named like a script), two open findings found a day ago, the shipped
    cost settings, a recommendation and an approval of it."""
    enrol(ui, "fin-1", "fin-ws-01", "finance")
    enrol(ui, "evil-1", EVIL_NAME, "finance")
    enrol(ui, "hr-1", "hr-ws-12", "hr")
    settings = parse_costs(SHIPPED_COSTS.read_text(), "costs.toml")
    ui.stores.catalog.import_costs(settings, source="costs.toml", now=ui.clock())
    ui.stores.findings.record_run([SLOWER, PRESSURE], now=ui.clock() - 86_400)
    ui.stores.recommendations.propose([priced(FINANCE, benefit="9000.00")], now=ui.clock() - 60)
    ui.stores.recommendations.decide(
        FINANCE, verdict="approve", actor="mona", reason="fits the budget", now=ui.clock() - 30
    )
    return ui


def links(page: str, under: str) -> list[str]:
    """The text of the links to pages under ``under``, in order."""
    return [unescape(t) for t in re.findall(rf'<a href="{under}[^"]+">([^<]+)</a>', page)]


def test_the_overview_shows_the_fleet_its_findings_recommendations_and_week(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    page = fleet.client.get("/ui/").text

    assert "3 hosts enrolled" in page
    assert "0 reported in the last 24 hours" in page
    assert re.search(r"<td>version change</td><td class=\"num\">1</td>", page)
    assert re.search(r"<td>pressure</td><td class=\"num\">1</td>", page)
    assert "USD 0" in page  # priced (no launches measured: nothing lost yet)
    assert links(page, "/ui/recommendations/") == ["upgrade libreoffice to 7.6.4 on 2 hosts"]
    assert "EUR 9,000" in page
    assert "2 finding(s) opened, 0 resolved" in page
    assert "1 approved" in page
    assert "logged in as <strong>Vera</strong> (vera)" in page


def test_the_overview_says_what_to_do_when_there_is_nothing_yet(ui: Ui) -> None:
    ui.add_user("vera", "viewer")
    ui.login("vera")

    page = ui.client.get("/ui/").text

    assert "No hosts enrolled yet" in page
    assert "No open findings" in page
    assert "No recommendations yet" in page
    assert "Nothing proposed or approved" in page
    assert "No decision on a recommendation this week" in page
    assert "Nothing installed reaches its end of life" in page


def test_the_findings_list_filters_by_status_kind_app_and_department(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    def apps(query: str) -> list[str]:
        answer = fleet.client.get(f"/ui/findings{query}")
        assert answer.status_code == 200
        return links(answer.text, "/ui/findings/")

    assert apps("") == ["libreoffice", "firefox"]  # largest effect first
    assert apps("?kind=pressure") == ["firefox"]
    assert apps("?app=libreoffice") == ["libreoffice"]
    assert apps("?department=hr") == ["firefox"]
    assert apps("?status=resolved") == []
    resolved = fleet.client.get("/ui/findings?status=resolved").text
    assert "No finding matches these filters" in resolved
    assert fleet.client.get("/ui/findings?status=gone").status_code == 400
    assert fleet.client.get("/ui/findings?kind=teleport").status_code == 400


def test_a_finding_names_its_hosts_escaped_and_shows_its_history(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    answer = fleet.client.get(f"/ui/findings/{quote(SLOWER.key, safe='')}")

    assert answer.status_code == 200
    page = answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert EVIL_NAME not in page
    assert "fin-ws-01" in page
    assert "+25% [+20%, +30%]" in page  # the effect with its interval
    assert "<td>opened</td>" in page  # the history's status event
    assert "median 2.00 s" in page  # the evidence
    by_id = fleet.client.get(f"/ui/findings/{finding_id(SLOWER.key)}")
    assert by_id.status_code == 200
    assert "fin-ws-01" in by_id.text
    assert fleet.client.get("/ui/findings/nothing-here").status_code == 404


def test_the_audit_log_is_for_managers_and_admins_only(fleet: Ui) -> None:
    fleet.add_user("vera", "viewer")
    fleet.login("vera")

    assert fleet.client.get("/ui/audit").status_code == 403
    assert 'href="/ui/audit"' not in fleet.client.get("/ui/").text


def test_the_audit_log_filters_by_actor_and_action_and_links_recommendations(
    fleet: Ui,
) -> None:
    fleet.add_user("mona", "manager")
    fleet.login("mona")

    every = fleet.client.get("/ui/audit").text
    approvals = fleet.client.get("/ui/audit?actor=mona&action=recommendation.").text
    logins = fleet.client.get("/ui/audit?action=ui.login").text

    assert "ui.login" in every
    assert "recommendation.approved" in every
    assert links(approvals, "/ui/recommendations/") == ["upgrade libreoffice to 7.6.4 on 2 hosts"]
    assert "fits the budget" in approvals
    assert "proposed → approved" in approvals
    assert "ui.login" not in approvals
    assert "recommendation.approved" not in logins
    assert "user:mona" in logins
    assert "No entry matches" in fleet.client.get("/ui/audit?actor=nobody").text
    assert fleet.client.get("/ui/audit?before=x").status_code == 400


def test_the_audit_pages_follow_each_other_when_filtered_by_action(ui: Ui) -> None:
    for i in range(7):
        action = "recommendation.deferred" if i % 2 else "ui.login"
        ui.stores.audit.record(
            actor="mona", action=action, target=recommendation_target(f"k{i}"), detail={}, now=i
        )

    first = read_page(ui.stores.audit, AuditQuery(None, "recommendation.", None), size=2)
    second = read_page(ui.stores.audit, AuditQuery(None, "recommendation.", first.next_before), 2)

    assert [e.target for e in first.entries] == ["recommendation:k5", "recommendation:k3"]
    assert [e.target for e in second.entries] == ["recommendation:k1"]
    assert second.next_before is None
    assert not second.stopped
