"""The accessibility check itself: it fails on pages we know to be broken, and only on those."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.axe import (
    AXE_SCRIPT,
    Violation,
    blocking_problems,
    check_accessibility,
)
from tests.browser.screens import LAPTOP

if TYPE_CHECKING:
    from playwright.sync_api import Page

ACCESSIBLE = """<!doctype html><html lang="en"><head><title>Plan</title></head>
<body><main><h1>Budget plan</h1><p>Three upgrades fit the budget.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Savings by month">
<button type="button">Approve</button></main></body></html>"""

# An image without alternative text and a button with no name: both critical for axe.
BROKEN = ACCESSIBLE.replace(' alt="Savings by month"', "").replace("Approve", "")

# The advisor's own policy (advisor/ui forbids inline scripts): the check must run anyway, and
# the page must still be held to it (an image without alternative text to find, too).
STRICT_POLICY = """<!doctype html><html lang="en"><head><title>Plan</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'">
</head><body><main><h1>Budget plan</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</main><script>window.inlineRan = true</script></body></html>"""

# The check is about the page's markup, not its width: one viewport is enough here.
laptop_only = pytest.mark.parametrize("viewport", [LAPTOP], ids=["laptop"])


@laptop_only
def test_an_accessible_page_passes(page: Page) -> None:
    page.set_content(ACCESSIBLE)
    assert [v for v in check_accessibility(page) if v.blocking] == []


@laptop_only
def test_a_page_with_critical_violations_fails_naming_rule_impact_and_element(page: Page) -> None:
    page.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failure:
        check_accessibility(page)
    message = str(failure.value)
    assert "image-alt (critical): Images must have alternative text at img" in message
    assert "button-name (critical)" in message
    assert "at button" in message


@laptop_only
def test_violations_listed_as_expected_are_tolerated(page: Page) -> None:
    page.set_content(BROKEN)
    found = check_accessibility(page, expected={"image-alt", "button-name"})
    assert {"image-alt", "button-name"} <= {violation.rule for violation in found}


@laptop_only
def test_axe_runs_where_the_policy_forbids_inline_scripts_and_the_policy_still_holds(
    page: Page,
) -> None:
    page.set_content(STRICT_POLICY)
    found = check_accessibility(page, expected={"image-alt"})
    assert [violation.rule for violation in found if violation.blocking] == ["image-alt"]
    assert page.evaluate("window.inlineRan") is None


def test_moderate_and_minor_violations_do_not_block() -> None:
    found = [
        Violation("region", "moderate", "Content should be in landmarks", (".intro",)),
        Violation("heading-order", "minor", "Heading levels should increase by one", ("h3",)),
    ]
    assert blocking_problems(found) == []


def test_an_expected_violation_that_is_gone_is_reported_so_the_list_shrinks() -> None:
    found = [Violation("color-contrast", "serious", "Contrast", (".badge",))]
    problems = blocking_problems(found, expected={"color-contrast", "nested-interactive"})
    assert problems == ["nested-interactive: listed as expected but no longer fails"]


def test_the_vendored_axe_core_is_the_version_and_file_its_readme_states() -> None:
    readme = (AXE_SCRIPT.parent / "README.md").read_text()
    version = re.search(r"`axe-core` \*\*([\d.]+)\*\*", readme)
    assert version
    assert AXE_SCRIPT.read_text()[:40].startswith(f"/*! axe v{version[1]}\n")
    assert hashlib.sha256(AXE_SCRIPT.read_bytes()).hexdigest() in readme
    assert (AXE_SCRIPT.parent / "LICENSE").read_text().startswith("Mozilla Public License")


def test_a_violation_on_many_elements_names_the_first_five_and_counts_the_rest() -> None:
    found = Violation("nested-interactive", "serious", "Nested controls", tuple("abcdefg"))
    assert (
        found.describe()
        == "nested-interactive (serious): Nested controls at a, b, c, d, e and 2 more"
    )
