"""The Overview, the findings pages and the audit log in Chromium, at a laptop and a phone
width: a manager logs in and reads them; each passes axe-core."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.browser.axe import check_accessibility
from tests.browser.test_review_flow import log_in
from tests.e2e.advisorproc import AdvisorProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOSTNAME = "<b>ov-ws-01</b>"


@pytest.fixture(scope="module")
def overview_data(review_data: AdvisorProcess) -> str:
    """An enrolled host named like markup and an open finding on it; the finding's key."""
    import sqlalchemy as sa

    from advisor.store.open import stores_on
    from tests.advisor.store.findingsdata import finding

    found = finding(app="overview-calc", hosts=("ov-1",), departments=("finance",))
    engine = sa.create_engine(review_data.database_url)
    try:
        stores = stores_on(engine)
        now = time.time()
        token, _ = stores.hosts.create_token(department="finance", expires_at=now + 600, now=now)
        stores.hosts.enrol(
            token=token, host_id="ov-1", hostname=HOSTNAME, agent_version="1.0", now=now
        )
        stores.findings.record_run([found], now=now - 3600, apps=[found.app])
    finally:
        engine.dispose()
    return found.key


def test_a_manager_reads_the_overview_findings_and_audit_log(
    page: Page, overview_data: str, screenshot: Callable[[str], Path]
) -> None:
    log_in(page)

    page.goto("/ui/")
    assert page.get_by_role("heading", name="Overview", level=1).count() == 1
    assert page.get_by_role("heading", name="Open findings").count() == 1
    screenshot("overview")

    page.goto("/ui/findings")
    page.get_by_role("link", name="overview-calc").click()
    page.wait_for_url(f"**/{quote(overview_data, safe='')}")
    assert page.get_by_text(HOSTNAME).count() == 1  # shown as text, not as markup
    screenshot("finding")

    page.goto("/ui/audit?action=ui.login")
    assert page.get_by_role("cell", name="ui.login").count() >= 1
    screenshot("audit")


@pytest.mark.parametrize(
    "path", ["/ui/", "/ui/findings", "/ui/audit"], ids=["overview", "findings", "audit"]
)
def test_the_overview_findings_and_audit_pages_pass_axe(
    page: Page, overview_data: str, path: str
) -> None:
    log_in(page)
    page.goto(path)
    page.wait_for_selector("h1")

    check_accessibility(page)


def test_a_finding_passes_axe(page: Page, overview_data: str) -> None:
    log_in(page)
    page.goto(f"/ui/findings/{quote(overview_data, safe='')}")
    page.wait_for_selector("h1")

    check_accessibility(page)
