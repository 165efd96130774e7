"""Findings across runs on SQLite and PostgreSQL: new, updated, resolved, reopened; queries."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from advisor.store.findings import (
    FindingFilter,
    Findings,
)
from tests.advisor.store.findingsdata import T0, finding, slower_again

HOUR = 3600.0
LIBREOFFICE = finding()
FIREFOX_RAM = finding(
    "pressure",
    "firefox",
    {"department": "hr"},
    cause="memory",
    effect=0.4,
    departments=("hr",),
    hosts=("hr-1",),
)


def test_a_first_run_stores_its_findings_open(findings: Findings, engine: sa.Engine) -> None:
    summary = findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0, launches=1000)

    assert (summary.new, summary.updated, summary.reopened, summary.resolved) == (2, 0, 0, 0)
    assert summary.open_by_kind == {"pressure": 1, "version_change": 1}
    stored = findings.get(LIBREOFFICE.key)
    assert stored is not None
    assert (stored.status, stored.first_detected_at, stored.last_detected_at) == ("open", T0, T0)
    assert stored.resolved_at is None
    assert stored.scope == {"from_version": "7.5.9", "version": "7.6.4"}
    assert (stored.effect.estimate, stored.effect.low, stored.effect.high) == (0.25, 0.2, 0.3)
    assert stored.hosts == ("fin-1", "fin-2")
    assert stored.departments == ("finance",)
    assert stored.evidence["before"] == {"count": 120, "p10": 1.5, "p50": 2.0, "p90": 3.0}
    # JSONB refuses NaN: a figure that is not a number is stored as null.
    assert stored.evidence["q_value"] is None
    assert stored.evidence["detail"] == {"hosts_moved": 2.0}


def test_a_finding_found_again_is_updated_and_keeps_when_it_was_first_seen(
    findings: Findings,
    engine: sa.Engine,
) -> None:
    findings.record_run([LIBREOFFICE], now=T0)

    summary = findings.record_run([slower_again(LIBREOFFICE, 0.5)], now=T0 + 6 * HOUR)

    assert (summary.new, summary.updated, summary.resolved) == (0, 1, 0)
    stored = findings.get(LIBREOFFICE.key)
    assert stored is not None
    assert stored.effect.estimate == 0.5
    assert (stored.first_detected_at, stored.last_detected_at) == (T0, T0 + 6 * HOUR)


def test_a_finding_a_run_no_longer_finds_is_resolved_and_reopens_when_found_again(
    findings: Findings,
    engine: sa.Engine,
) -> None:
    findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0)

    gone = findings.record_run([FIREFOX_RAM], now=T0 + 6 * HOUR)

    assert (gone.resolved, gone.updated, gone.open) == (1, 1, 1)
    resolved = findings.get(LIBREOFFICE.key)
    assert resolved is not None
    assert (resolved.status, resolved.resolved_at) == ("resolved", T0 + 6 * HOUR)

    still_gone = findings.record_run([FIREFOX_RAM], now=T0 + 12 * HOUR)
    assert still_gone.resolved == 0  # resolved once, not again

    back = findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0 + 18 * HOUR)

    assert (back.new, back.reopened, back.updated) == (0, 1, 1)
    reopened = findings.get(LIBREOFFICE.key)
    assert reopened is not None
    assert (reopened.status, reopened.resolved_at) == ("open", None)
    assert (reopened.first_detected_at, reopened.last_detected_at) == (T0, T0 + 18 * HOUR)


def test_every_run_is_kept_in_the_history_with_its_counts(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0, notes=["3 hosts without hardware"])
    findings.record_run([], now=T0 + HOUR, started_at=T0 + HOUR - 5, finished_at=T0 + HOUR)

    newest, first = findings.last_runs()

    assert (first.new, first.open, first.notes) == (2, 2, ("3 hosts without hardware",))
    assert (newest.resolved, newest.open, newest.analysed_at) == (2, 0, T0 + HOUR)
    assert newest.run_id > first.run_id


def test_a_repeated_key_in_one_run_keeps_the_last_and_says_so(
    findings: Findings, engine: sa.Engine
) -> None:
    summary = findings.record_run([LIBREOFFICE, slower_again(LIBREOFFICE, 0.6)], now=T0)

    assert summary.new == 1
    assert summary.notes == ("1 finding(s) with a repeated key: last kept",)
    stored = findings.get(LIBREOFFICE.key)
    assert stored is not None
    assert stored.effect.estimate == 0.6


@pytest.mark.parametrize(
    ("where", "keys"),
    [
        (FindingFilter(), ["firefox-hr", "libreoffice"]),
        (FindingFilter(status=None), ["firefox-hr", "libreoffice", "writer"]),
        (FindingFilter(status="resolved"), ["writer"]),
        (FindingFilter(app="libreoffice"), ["libreoffice"]),
        (FindingFilter(kind="pressure"), ["firefox-hr"]),
        (FindingFilter(cause="memory"), ["firefox-hr"]),
        (FindingFilter(department="hr"), ["firefox-hr"]),
        (FindingFilter(department="finance", status=None), ["libreoffice", "writer"]),
        (FindingFilter(app="nothing"), []),
    ],
)
def test_findings_are_listed_by_filter_open_first_and_largest_effect_first(
    findings: Findings, engine: sa.Engine, where: FindingFilter, keys: list[str]
) -> None:
    writer = finding("trend", "writer", {}, cause="unknown", effect=0.9)
    findings.record_run([LIBREOFFICE, FIREFOX_RAM, writer], now=T0)
    findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0 + HOUR)
    names = {LIBREOFFICE.key: "libreoffice", FIREFOX_RAM.key: "firefox-hr", writer.key: "writer"}

    found = findings.find(where)

    assert [names[f.key] for f in found] == keys


def test_an_unknown_key_is_none_and_a_faster_finding_keeps_its_sign(
    findings: Findings, engine: sa.Engine
) -> None:
    faster = finding("change_point", "gimp", {"host": "fin-1"}, cause="unknown", effect=-0.3)
    findings.record_run([faster], now=T0)

    stored = findings.get(faster.key)

    assert findings.get("version_change|nothing") is None
    assert stored is not None
    assert (stored.direction, stored.effect.estimate) == ("faster", -0.3)
    assert stored.to_dict()["effect"] == {"estimate": -0.3, "low": -0.35, "high": -0.25}
    assert not math.isnan(stored.confidence)
