"""A recommendation's charts in Chromium, at a laptop and at a phone width: the script draws the
load times (uPlot, vendored) and the cohorts, with no console error and no CSP violation, and
the page passes axe-core."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.advisor.ui.test_recommendation_series import write_launches
from tests.browser.axe import check_accessibility
from tests.browser.conftest import REVIEWER, REVIEWER_PASSWORD, review_proposals
from tests.browser.screens import Viewport
from tests.e2e.advisorproc import AdvisorProcess

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

KEY = "upgrade|libreoffice|7.6.4|charts"
DETAIL = f"/ui/recommendations/{quote(KEY, safe='')}"
VENDOR = Path(__file__).resolve().parents[2] / "advisor" / "ui" / "static" / "vendor" / "uplot"
# Canvas pixels that are not transparent: a drawn chart has thousands.
PAINTED = """canvas => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) painted++; }
    return painted;
}"""


@pytest.fixture(scope="module")
def chart_data(review_data: AdvisorProcess) -> AdvisorProcess:
    """Launches of three finance hosts and one of hr (``chart-`` prefixed) over the last days,
    and a recommendation (:data:`KEY`) on the finance ones."""
    import sqlalchemy as sa

    from advisor.store.open import stores_on
    from tests.advisor.store.reviewdata import priced

    engine = sa.create_engine(review_data.database_url)
    try:
        stores = stores_on(engine)
        now = time.time()
        write_launches(stores, now // 86_400 * 86_400, prefix="chart-")
        hosts = ("chart-fin-1", "chart-fin-2", "chart-fin-3")
        charts = priced(KEY, title="Upgrade LibreOffice for the charts", hosts=hosts)
        # With the review tests' own: a proposal makes every key it leaves out obsolete.
        stores.recommendations.propose([*review_proposals(), charts], now=now - 60)
    finally:
        engine.dispose()
    return review_data


def log_in(page: Page) -> None:
    page.goto("/ui/login")
    if not page.url.endswith("/ui/login"):
        return
    page.fill("#user", REVIEWER)
    page.fill("#password", REVIEWER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/")


def test_the_detail_page_draws_its_charts(
    page: Page, viewport: Viewport, chart_data: AdvisorProcess, screenshot: Callable[[str], Path]
) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        # Chromium asks for /favicon.ico on its own; the advisor has none (a 404).
        if message.type == "error" and not where.endswith("/favicon.ico"):
            problems.append(f"{message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page)

    page.goto(DETAIL)
    page.wait_for_selector('[data-series-url][data-rendered="true"]', timeout=10_000)
    page.wait_for_selector('[data-cohorts][data-rendered="true"]', timeout=10_000)

    load_chart = page.locator('[data-series-url] canvas[role="img"]')
    assert load_chart.count() == 1
    assert "libreoffice" in (load_chart.get_attribute("aria-label") or "")
    assert load_chart.evaluate(PAINTED) > 1000
    cohorts = page.locator('.cohort-canvas[role="img"]')
    assert "0.40 s (0.30 to 0.50)" in (cohorts.get_attribute("aria-label") or "")
    assert cohorts.evaluate(PAINTED) > 500
    summary = page.locator("[data-series-url] .sr tbody tr")
    assert summary.count() == 3  # these hosts cold; other hosts cold and warm
    assert page.get_by_text(re.compile(r"1:7\.6\.4-1 on 1 host$")).count() == 1
    screenshot("charts")
    assert page.evaluate("document.documentElement.scrollWidth") == viewport.width
    assert problems == []
    check_accessibility(page)


def test_the_vendored_uplot_is_the_one_its_readme_names() -> None:
    readme = (VENDOR / "README.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"| `{name}` sha256 | `{digest}` |" in readme
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
