"""What the browser tests look at: the widths pages must work at, and pages loaded for a test.

Importing this module needs no Playwright (its types are only named for mypy), so a machine
without it collects the browser tests and skips them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Error, Page, Request


@dataclass(frozen=True)
class Viewport:
    """A screen the pages must work on."""

    name: str
    width: int
    height: int
    mobile: bool


LAPTOP = Viewport("laptop", 1366, 768, mobile=False)
PHONE = Viewport("phone", 390, 844, mobile=True)
VIEWPORTS = (LAPTOP, PHONE)


@dataclass
class LoadedPage:
    """A tab with every URL it requested and every script error it raised since it opened.

    A fixture that returns one gets its tab screenshotted after each test, like ``page``; a
    module-scoped one lets several tests read a page loaded once.
    """

    page: Page
    requested: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)


def load(context: BrowserContext, path: str, ready: str) -> LoadedPage:
    """Open ``path`` in a new tab of ``context`` and wait until ``ready`` (a CSS selector) shows
    and the network has been idle for half a second, recording requests and errors."""
    tab = context.new_page()
    loaded = LoadedPage(tab)

    def on_request(sent: Request) -> None:
        loaded.requested.append(sent.url)

    def on_error(error: Error) -> None:
        loaded.script_errors.append(error.message)

    tab.on("request", on_request)
    tab.on("pageerror", on_error)
    tab.goto(path)
    tab.wait_for_selector(ready)
    # Late requests too: an icon, a font, anything fetched after the first render.
    tab.wait_for_load_state("networkidle")
    return loaded
