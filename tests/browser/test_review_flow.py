"""A manager reviews a recommendation in Chromium, at a laptop and at a phone width: log in,
filter the list, open one, approve it with a reason, see its state change, log out; and the
recommendations and budget pages pass axe-core."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.browser.axe import check_accessibility
from tests.browser.conftest import REVIEWER, REVIEWER_PASSWORD, review_key
from tests.browser.screens import Viewport
from tests.e2e.advisorproc import AdvisorProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

HR_DETAIL = f"/ui/recommendations/{quote('ram|hr-ws-12|16GiB', safe='')}"


def log_in(page: Page) -> None:
    """Log in as the reviewer, unless this width's context already has a session."""
    page.goto("/ui/login")
    if not page.url.endswith("/ui/login"):
        return
    page.fill("#user", REVIEWER)
    page.fill("#password", REVIEWER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/")


def test_a_manager_filters_opens_and_approves_a_recommendation(
    page: Page,
    viewport: Viewport,
    review_data: AdvisorProcess,
    screenshot: Callable[[str], Path],
) -> None:
    title = f"Upgrade Calc for the {viewport.name} review"
    log_in(page)

    page.goto("/ui/recommendations")
    page.select_option("#department", "finance")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**department=finance**")
    assert page.get_by_role("link", name="Add RAM to hr-ws-12").count() == 0
    screenshot("filtered")

    page.get_by_role("link", name=title).click()
    page.wait_for_url(f"**/{quote(review_key(viewport.name), safe='')}")
    page.fill("#approve-reason", "fits the 2027 budget")
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url("**?done=approve")
    assert page.locator(".done").inner_text() == "Approved."
    assert page.locator(".facts .state").inner_text() == "approved"
    assert page.get_by_role("cell", name="fits the 2027 budget").count() == 1
    screenshot("approved")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login")
    page.goto("/ui/recommendations")
    assert page.url.endswith("/ui/login")


@pytest.mark.parametrize(
    "path",
    ["/ui/recommendations", HR_DETAIL, "/ui/budget?amount=5000"],
    ids=["list", "detail", "budget"],
)
def test_the_review_pages_pass_axe(page: Page, review_data: AdvisorProcess, path: str) -> None:
    log_in(page)
    page.goto(path)
    page.wait_for_selector("h1")

    check_accessibility(page)
