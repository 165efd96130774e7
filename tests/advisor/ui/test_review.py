"""Decisions from the web interface: who may take them, with what, and the audit trail."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.advisor.store.recommendationsdata import UPGRADE_KEY, proposal
from tests.advisor.ui.conftest import Ui

URL = f"/ui/recommendations/{quote(UPGRADE_KEY, safe='')}"


@pytest.fixture
def proposed(ui: Ui) -> Ui:
    ui.stores.recommendations.propose([proposal()], now=ui.clock() - 60)
    return ui


def state(ui: Ui) -> str:
    found = ui.stores.recommendations.get(UPGRADE_KEY)
    assert found is not None
    return found.state


def test_a_manager_approves_and_is_the_actor_in_the_audit_log(proposed: Ui) -> None:
    ui = proposed
    ui.add_user("mona", "manager")
    ui.login("mona")

    answer = ui.client.post(
        f"{URL}/approve",
        data={"csrf_token": ui.csrf(), "reason": "worth it"},
        follow_redirects=False,
    )

    assert answer.status_code == 303
    assert state(ui) == "approved"
    entry = ui.stores.audit.entries(actor="mona", limit=1)[0]
    assert entry.action == "recommendation.approved"
    assert entry.detail["reason"] == "worth it"


def test_a_viewer_gets_403_on_approve_whatever_the_page_shows(proposed: Ui) -> None:
    ui = proposed
    ui.add_user("vera", "viewer")
    ui.login("vera")

    answer = ui.client.post(f"{URL}/approve", data={"csrf_token": ui.csrf()})

    assert answer.status_code == 403
    assert "manager" in answer.text
    assert state(ui) == "proposed"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_decision_without_the_sessions_csrf_token_is_refused(
    proposed: Ui, token: str | None
) -> None:
    ui = proposed
    ui.add_user("mona", "manager")
    ui.login("mona")
    data = {} if token is None else {"csrf_token": token}

    answer = ui.client.post(f"{URL}/approve", data=data)

    assert answer.status_code == 403
    assert state(ui) == "proposed"


def test_a_decision_without_a_session_is_401(proposed: Ui) -> None:
    answer = proposed.client.post(f"{URL}/approve", data={"csrf_token": "x"})

    assert answer.status_code == 401
    assert state(proposed) == "proposed"


def test_reject_needs_a_reason(proposed: Ui) -> None:
    ui = proposed
    ui.add_user("mona", "manager")
    ui.login("mona")

    without = ui.client.post(f"{URL}/reject", data={"csrf_token": ui.csrf(), "reason": " "})
    assert without.status_code == 400
    assert "reason" in without.text
    assert state(ui) == "proposed"

    ui.client.post(f"{URL}/reject", data={"csrf_token": ui.csrf(), "reason": "retiring"})
    assert state(ui) == "rejected"


@pytest.mark.parametrize(("until", "status"), [("", 400), ("soon", 400), ("2001-01-01", 400)])
def test_defer_needs_a_date_in_the_future(proposed: Ui, until: str, status: int) -> None:
    ui = proposed
    ui.add_user("mona", "manager")
    ui.login("mona")

    answer = ui.client.post(f"{URL}/defer", data={"csrf_token": ui.csrf(), "until": until})

    assert answer.status_code == status
    assert state(ui) == "proposed"


def test_defer_to_a_date_sets_the_deferral(proposed: Ui) -> None:
    ui = proposed
    ui.add_user("mona", "manager")
    ui.login("mona")

    ui.client.post(f"{URL}/defer", data={"csrf_token": ui.csrf(), "until": "2030-01-01"})

    found = ui.stores.recommendations.get(UPGRADE_KEY)
    assert found is not None
    assert (found.state, found.deferred_until) == ("deferred", 1893456000.0)


def test_a_manager_of_other_departments_cannot_decide(proposed: Ui) -> None:
    ui = proposed
    ui.add_user("hank", "manager", departments=("hr",))
    ui.login("hank")

    answer = ui.client.post(f"{URL}/approve", data={"csrf_token": ui.csrf()})

    assert answer.status_code == 403
    assert state(ui) == "proposed"


def test_an_unknown_recommendation_is_404(ui: Ui) -> None:
    ui.add_user("ada", "admin")
    ui.login("ada")

    answer = ui.client.post("/ui/recommendations/nope/approve", data={"csrf_token": ui.csrf()})

    assert answer.status_code == 404
