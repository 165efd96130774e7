"""Browser tests: Playwright driving Debian's Chromium against a real advisor on loopback.

One advisor process and one Chromium per session; a test asks for ``page`` and runs once at a
laptop width and once at a phone width. Playwright cannot download a browser of its own here, so
it launches ``/usr/bin/chromium`` (Debian's ``chromium``, installed by ``make system-deps``).
Without it or without the ``playwright`` package the tests are skipped, except under
``CI=true`` where they fail: CI must run them.

Every test leaves a screenshot of each tab it used under ``$FLEETSIGHT_ARTIFACTS/browser``
(default ``.artifacts/browser``), named after the test: the screen as the user sees it, or the
whole page with ``-FAILED`` in the name when the test failed. ``screenshot("step")`` saves the
whole page mid-test.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.screens import VIEWPORTS, LoadedPage, Viewport
from tests.conftest import REPO, require_tool
from tests.e2e.advisorproc import AdvisorProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

    from advisor.store.recommendations import Proposal

CHROMIUM = "/usr/bin/chromium"


def artifacts_dir() -> Path:
    """Where screenshots go: ``$FLEETSIGHT_ARTIFACTS/browser``, default ``.artifacts/browser``."""
    root = os.environ.get("FLEETSIGHT_ARTIFACTS")
    return (Path(root) if root else REPO / ".artifacts") / "browser"


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """Emptied at the start of the session: what is there is from the last run."""
    directory = artifacts_dir()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    require_tool(CHROMIUM, "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright not installed (the dev extra: pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Chromium's sandbox refuses to start as root (CI runs as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="session")
def advisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisorProcess]:
    """``fleetsight-advisor serve`` on loopback with an empty, migrated SQLite database."""
    workdir = tmp_path_factory.mktemp("browser-advisor")
    process = AdvisorProcess(workdir, f"sqlite:///{workdir / 'advisor.sqlite3'}")
    process.cli("db", "upgrade")
    try:
        yield process.start()
    finally:
        process.close()


@pytest.fixture(scope="session")
def contexts(
    browser: Browser, advisor: AdvisorProcess, screenshots_dir: Path
) -> Iterator[dict[str, BrowserContext]]:
    """One browser context per viewport for the session: pages opened in it share cookies."""
    made = {
        viewport.name: browser.new_context(
            base_url=advisor.url,
            viewport={"width": viewport.width, "height": viewport.height},
            is_mobile=viewport.mobile,
            has_touch=viewport.mobile,
        )
        for viewport in VIEWPORTS
    }
    try:
        yield made
    finally:
        for context in made.values():
            context.close()


@pytest.fixture(params=VIEWPORTS, ids=[viewport.name for viewport in VIEWPORTS])
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """The screen the test runs on: each test using it runs at a laptop and at a phone width."""
    chosen: Viewport = request.param
    return chosen


@pytest.fixture
def page(contexts: dict[str, BrowserContext], viewport: Viewport) -> Iterator[Page]:
    """A fresh tab at ``viewport``: its own listeners and history, the context's cookies."""
    opened = contexts[viewport.name].new_page()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def screenshot(
    page: Page, request: pytest.FixtureRequest, screenshots_dir: Path
) -> Callable[[str], Path]:
    """``screenshot("after-login")`` saves ``page`` as it is now, named after the test."""

    def take(label: str) -> Path:
        path = screenshots_dir / f"{_file_name(request.node.name)}-{_file_name(label)}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    # Right after the test body, before its fixtures are torn down: the tabs it used are open.
    if report.when == "call" and isinstance(item, pytest.Function):
        suffix = "-FAILED" if report.failed else ""
        for index, tab in enumerate(_pages_used(item)):
            name = _file_name(item.name) + (f"-{index}" if index else "") + suffix
            try:
                # The whole page when it failed; the screen otherwise (a tall page costs ~0.3 s).
                tab.screenshot(path=artifacts_dir() / f"{name}.png", full_page=report.failed)
            except Exception as exc:  # a crashed tab must not hide the test's own outcome
                report.sections.append(("screenshot", f"{name}: {exc}"))
        advisor = item.funcargs.get("advisor")
        if report.failed and isinstance(advisor, AdvisorProcess):
            report.sections.append(("advisor log (last 40 lines)", _tail(advisor.log, 40)))
    return report


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return str(exc)


def _pages_used(item: pytest.Function) -> list[Page]:
    """The open tabs among the test's fixtures: ``page`` and :class:`LoadedPage` ones."""
    if "contexts" not in item.fixturenames:
        return []
    from playwright.sync_api import Page

    tabs = [
        value.page if isinstance(value, LoadedPage) else value for value in item.funcargs.values()
    ]
    return [tab for tab in tabs if isinstance(tab, Page) and not tab.is_closed()]


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


REVIEWER = "mona"
REVIEWER_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def review_data(advisor: AdvisorProcess) -> AdvisorProcess:
    """The advisor's database with a manager (:data:`REVIEWER`) and recommendations: one of
    finance per viewport (each width's review test approves its own), one of hr."""
    import sqlalchemy as sa

    from advisor.store.open import stores_on
    from advisor.ui.passwords import Passwords

    engine = sa.create_engine(advisor.database_url)
    try:
        stores = stores_on(engine)
        now = time.time()
        stores.users.add(REVIEWER, name="Mona Lind", role="manager", departments=(), now=now)
        stores.users.set_password_hash(REVIEWER, Passwords().hash(REVIEWER_PASSWORD))
        stores.recommendations.propose(review_proposals(), now=now - 60)
    finally:
        engine.dispose()
    return advisor


def review_proposals() -> list[Proposal]:
    """The recommendations :func:`review_data` proposes. A fixture that proposes more passes
    these too: a run's proposal makes every key it does not name obsolete."""
    from tests.advisor.store.reviewdata import priced

    proposals = [
        priced(
            review_key(viewport.name),
            app=f"calc-{viewport.name}",
            title=f"Upgrade Calc for the {viewport.name} review",
            benefit="8000.00",
        )
        for viewport in VIEWPORTS
    ]
    proposals.append(
        priced(
            "ram|hr-ws-12|16GiB",
            kind="ram",
            category="right_sizing",
            app="firefox",
            target="16 GiB",
            title="Add RAM to hr-ws-12",
            departments=("hr",),
            hosts=("hr-1",),
            benefit="3000.00",
            one_off="400.00",
        )
    )
    return proposals


def review_key(viewport_name: str) -> str:
    """The recommendation the review test at ``viewport_name`` approves."""
    return f"upgrade|calc-{viewport_name}|7.6.4|finance"
