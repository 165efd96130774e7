"""Accessibility checks with axe-core, run inside the page under test.

axe-core is vendored (``vendor/axe-core``: version, licence and update steps in its README.md) so
the check needs no network. :func:`check_accessibility` injects it, runs it and fails the test
with one line per serious or critical violation::

    check_accessibility(page)                                 # a page of ours: zero tolerance
    check_accessibility(page, expected={"color-contrast"})    # third-party page, known issues

``expected`` is strict both ways: a listed rule that no longer fails is an error too, so the
list shrinks as the page gets fixed instead of going stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Collection

    from playwright.sync_api import Page

AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# axe's default rule set (WCAG 2.0-2.2 A and AA and its best practices); only violations are
# gathered, which keeps a run on a long page well under a second.
RUN_OPTIONS = {"resultTypes": ["violations"]}


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks, and where.

    >>> Violation("image-alt", "critical", "Images must have alternative text", ("img#logo",))
    """

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    @property
    def blocking(self) -> bool:
        return self.impact in BLOCKING_IMPACTS

    def describe(self, most: int = 5) -> str:
        """One line: the rule, its impact, axe's help and the first ``most`` elements."""
        shown = ", ".join(self.targets[:most])
        more = f" and {len(self.targets) - most} more" if len(self.targets) > most else ""
        return f"{self.rule} ({self.impact}): {self.help} at {shown}{more}"


def run_axe(page: Page) -> list[Violation]:
    """Every violation axe-core finds on ``page`` as it is now, whatever its impact."""
    if page.evaluate("typeof window.axe") != "object":
        # Evaluated through the DevTools protocol, which a Content-Security-Policy does not
        # govern: the advisor's pages forbid inline scripts, so add_script_tag (an inline
        # <script>) is refused there, and a context made with bypass_csp=True would let the
        # tests pass pages whose own scripts the real policy blocks.
        loaded = page.evaluate(AXE_SCRIPT.read_text() + "\n;typeof window.axe")
        if loaded != "object":
            raise RuntimeError(f"axe-core did not load in {page.url}")
    results: dict[str, Any] = page.evaluate("options => axe.run(document, options)", RUN_OPTIONS)
    return parse_violations(results)


def parse_violations(results: dict[str, Any]) -> list[Violation]:
    """axe's ``results`` object reduced to what a failure message needs."""
    found = []
    for violation in results["violations"]:
        targets = tuple(
            # A target is a list of selectors when the node is inside an iframe or shadow DOM.
            " >> ".join(part) if isinstance(part, list) else str(part)
            for node in violation["nodes"]
            for part in node["target"]
        )
        found.append(
            Violation(
                rule=violation["id"],
                impact=violation["impact"] or "unknown",
                help=violation["help"],
                targets=targets,
            )
        )
    return found


def blocking_problems(violations: list[Violation], expected: Collection[str] = ()) -> list[str]:
    """Why the page fails the check: serious or critical violations not in ``expected``, and
    rules in ``expected`` that no longer fail (so the list is kept honest)."""
    blocking = [violation for violation in violations if violation.blocking]
    problems = [violation.describe() for violation in blocking if violation.rule not in expected]
    fixed = sorted(set(expected) - {violation.rule for violation in blocking})
    problems.extend(f"{rule}: listed as expected but no longer fails" for rule in fixed)
    return problems


def check_accessibility(page: Page, expected: Collection[str] = ()) -> list[Violation]:
    """Fail the test on any serious or critical axe violation on ``page`` outside ``expected``
    (rule ids of known third-party problems). Returns every violation found, for the record."""
    violations = run_axe(page)
    problems = blocking_problems(violations, expected)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        pytest.fail(f"accessibility check failed on {page.url}:\n{lines}", pytrace=False)
    return violations
