"""Findings across runs on SQLite and PostgreSQL: new, updated, resolved, reopened, with
hysteresis and a history; queries."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from advisor.analysis.stability import StabilityPolicy
from advisor.store.findings import (
    EVENTS,
    HISTORY,
    FindingFilter,
    FindingHistory,
    Findings,
    SqlFindings,
)
from tests.advisor.store.findingsdata import (
    DAY,
    T0,
    WEAK_Q,
    finding,
    record_runs,
    slower_again,
    weak,
)

HOUR = 3600.0
FLAPPING = ".###.###..#.##.#####."
"""Measured from outside on a fleet analysed every two days (issue 13): # found, . missed."""
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


def test_an_open_finding_survives_brief_misses_and_is_resolved_once_gone_for_runs_and_days(
    findings: Findings,
    engine: sa.Engine,
) -> None:
    findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0)

    first_miss = findings.record_run([FIREFOX_RAM], now=T0 + 2 * DAY)
    second_miss = findings.record_run([FIREFOX_RAM], now=T0 + 4 * DAY)

    assert (first_miss.resolved, first_miss.updated, first_miss.missing, first_miss.open) == (
        0,
        1,
        1,
        2,
    )
    assert second_miss.resolved == 0
    missing = findings.get(LIBREOFFICE.key)
    assert missing is not None
    assert (missing.status, missing.missed_runs, missing.last_detected_at) == ("open", 2, T0)

    gone = findings.record_run([FIREFOX_RAM], now=T0 + 6 * DAY)

    assert (gone.resolved, gone.missing, gone.open) == (1, 0, 1)
    resolved = findings.get(LIBREOFFICE.key)
    assert resolved is not None
    assert (resolved.status, resolved.resolved_at, resolved.missed_runs) == (
        "resolved",
        T0 + 6 * DAY,
        3,
    )
    still_gone = findings.record_run([FIREFOX_RAM], now=T0 + 8 * DAY)
    assert still_gone.resolved == 0  # resolved once, not again


def test_runs_hours_apart_do_not_resolve_a_finding_before_the_days_have_passed(
    findings: Findings, engine: sa.Engine
) -> None:
    every = 6 * HOUR
    record_runs(findings, [[LIBREOFFICE]] + [[]] * 15, every=every)
    assert [f.key for f in findings.find()] == [LIBREOFFICE.key]

    gone = findings.record_run([], now=T0 + 16 * every)

    assert gone.resolved == 1
    resolved = findings.get(LIBREOFFICE.key)
    assert resolved is not None
    assert resolved.resolved_at == T0 + 4 * DAY == T0 + 16 * every


def test_a_resolved_finding_reopens_on_strong_evidence_and_counts_the_reopen(
    findings: Findings, engine: sa.Engine
) -> None:
    record_runs(findings, [[LIBREOFFICE], [], [], []])

    back = findings.record_run([slower_again(LIBREOFFICE, 0.4)], now=T0 + 10 * DAY)

    assert (back.new, back.reopened, back.updated, back.open) == (0, 1, 0, 1)
    reopened = findings.get(LIBREOFFICE.key)
    assert reopened is not None
    assert (reopened.status, reopened.resolved_at, reopened.reopen_count) == ("open", None, 1)
    assert (reopened.first_detected_at, reopened.opened_at) == (T0, T0 + 10 * DAY)
    assert (reopened.last_detected_at, reopened.runs_seen) == (T0 + 10 * DAY, 2)


def test_a_resolved_finding_seen_once_on_weak_evidence_stays_resolved_until_seen_again(
    findings: Findings, engine: sa.Engine
) -> None:
    record_runs(findings, [[LIBREOFFICE], [], [], []])

    once = findings.record_run([weak(LIBREOFFICE)], now=T0 + 8 * DAY)

    assert (once.reopened, once.pending, once.open) == (0, 1, 0)
    seen_once = findings.get(LIBREOFFICE.key)
    assert seen_once is not None
    assert (seen_once.status, seen_once.resolved_at) == ("resolved", T0 + 6 * DAY)
    assert seen_once.last_detected_at == T0 + 8 * DAY

    twice = findings.record_run([weak(LIBREOFFICE)], now=T0 + 10 * DAY)

    assert (twice.reopened, twice.pending, twice.open) == (1, 0, 1)
    assert [e.event for e in findings.history(LIBREOFFICE.key).events] == [
        "opened",
        "resolved",
        "reopened",
    ]


def test_a_finding_on_weak_evidence_is_a_candidate_until_a_second_run_finds_it(
    findings: Findings, engine: sa.Engine
) -> None:
    first = findings.record_run([weak(LIBREOFFICE)], now=T0)

    assert (first.new, first.pending, first.open) == (0, 1, 0)
    candidate = findings.get(LIBREOFFICE.key)
    assert candidate is not None
    assert (candidate.status, candidate.opened_at) == ("candidate", None)
    assert findings.find() == []
    assert [f.key for f in findings.find(FindingFilter(status="candidate"))] == [LIBREOFFICE.key]

    findings.record_run([], now=T0 + 2 * DAY)
    second = findings.record_run([weak(LIBREOFFICE)], now=T0 + 4 * DAY)

    assert (second.new, second.pending, second.open) == (1, 0, 1)
    opened = findings.get(LIBREOFFICE.key)
    assert opened is not None
    assert (opened.status, opened.opened_at, opened.first_detected_at) == (
        "open",
        T0 + 4 * DAY,
        T0,
    )


def test_a_candidate_not_found_again_within_the_window_is_dropped_and_starts_over(
    findings: Findings, engine: sa.Engine
) -> None:
    summaries = record_runs(findings, [[weak(LIBREOFFICE)], [], []])

    assert [(s.new, s.pending, s.expired) for s in summaries] == [(0, 1, 0), (0, 0, 0), (0, 0, 1)]
    assert findings.get(LIBREOFFICE.key) is None
    assert findings.history(LIBREOFFICE.key) == FindingHistory(total_points=0)
    assert [r.expired for r in findings.last_runs()] == [1, 0, 0]

    again = findings.record_run([weak(LIBREOFFICE)], now=T0 + 6 * DAY)

    assert (again.new, again.pending) == (0, 1)  # one sighting in three runs: a new candidate
    stored = findings.get(LIBREOFFICE.key)
    assert stored is not None
    assert (stored.status, stored.runs_seen, stored.first_detected_at) == (
        "candidate",
        1,
        T0 + 6 * DAY,
    )


def test_a_candidate_missed_once_is_kept_and_opens_when_found_again(
    findings: Findings, engine: sa.Engine
) -> None:
    summaries = record_runs(findings, [[weak(LIBREOFFICE)], [], [weak(LIBREOFFICE)]])

    assert [(s.new, s.expired) for s in summaries] == [(0, 0), (0, 0), (1, 0)]
    stored = findings.get(LIBREOFFICE.key)
    assert stored is not None
    assert (stored.status, stored.runs_seen, stored.first_detected_at) == ("open", 2, T0)


def test_the_flapping_fleet_gives_one_finding_open_from_its_second_sighting_on(
    findings: Findings, engine: sa.Engine
) -> None:
    flapping = weak(LIBREOFFICE)
    statuses = []
    for i, seen in enumerate(FLAPPING):
        findings.record_run([flapping] if seen == "#" else [], now=T0 + i * 2 * DAY)
        stored = findings.get(flapping.key)
        statuses.append("-" if stored is None else stored.status[0])

    assert "".join(statuses) == "-c" + "o" * (len(FLAPPING) - 2)
    history = findings.history(flapping.key)
    assert [(e.event, e.at) for e in history.events] == [("opened", T0 + 4 * DAY)]
    assert len(history.points) == FLAPPING.count("#")
    stored = findings.get(flapping.key)
    assert stored is not None
    assert (stored.runs_seen, stored.missed_runs, stored.reopen_count) == (14, 1, 0)


def test_a_finding_keeps_a_history_point_per_run_that_found_it_and_its_events(
    findings: Findings, engine: sa.Engine
) -> None:
    runs = record_runs(
        findings,
        [[LIBREOFFICE], [slower_again(LIBREOFFICE, 0.4)], [], [], [], [LIBREOFFICE]],
    )

    history = findings.history(LIBREOFFICE.key)

    assert [(p.detected_at, p.run_id) for p in history.points] == [
        (T0, runs[0].run_id),
        (T0 + 2 * DAY, runs[1].run_id),
        (T0 + 10 * DAY, runs[5].run_id),
    ]
    second = history.points[1]
    assert (second.effect.estimate, second.effect.low, second.effect.high) == pytest.approx(
        (0.4, 0.3, 0.5)
    )
    assert (second.hosts, second.cause, second.confidence) == (2, "version", 0.9)
    assert math.isnan(second.q_value)  # the method gave none
    assert [(e.event, e.at, e.run_id) for e in history.events] == [
        ("opened", T0, runs[0].run_id),
        ("resolved", T0 + 8 * DAY, runs[4].run_id),
        ("reopened", T0 + 10 * DAY, runs[5].run_id),
    ]
    as_json = history.to_dict()
    assert as_json["points"][1]["q_value"] is None
    assert as_json["points"][1]["effect"] == pytest.approx(
        {"estimate": 0.4, "low": 0.3, "high": 0.5}
    )
    assert as_json["events"][0] == {"at": T0, "event": "opened", "run_id": runs[0].run_id}


def test_the_history_of_an_unknown_key_is_empty(findings: Findings, engine: sa.Engine) -> None:
    assert findings.history("trend|nothing") == FindingHistory(total_points=0)
    assert findings.history("trend|nothing", limit=5).to_dict() == {
        "points": [],
        "events": [],
        "total_points": 0,
        "truncated": False,
    }


def test_a_history_limit_keeps_the_newest_points_every_event_and_the_total(
    findings: Findings, engine: sa.Engine
) -> None:
    runs = record_runs(
        findings, [[slower_again(LIBREOFFICE, 0.1 * i)] for i in range(1, 6)] + [[]] * 3
    )

    newest = findings.history(LIBREOFFICE.key, limit=2)
    every = findings.history(LIBREOFFICE.key, limit=5)

    assert [p.run_id for p in newest.points] == [runs[3].run_id, runs[4].run_id]
    assert [p.effect.estimate for p in newest.points] == pytest.approx([0.4, 0.5])
    assert [e.event for e in newest.events] == ["opened", "resolved"]
    assert (newest.stored_points, newest.truncated) == (5, True)
    assert newest.to_dict()["total_points"] == 5
    assert (len(every.points), every.truncated) == (5, False)
    assert findings.history(LIBREOFFICE.key) == every
    with pytest.raises(ValueError, match="limit must be at least 1"):
        findings.history(LIBREOFFICE.key, limit=0)


def test_a_history_point_keeps_the_q_value_of_the_run(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([weak(LIBREOFFICE)], now=T0)

    (point,) = findings.history(LIBREOFFICE.key).points

    assert point.q_value == WEAK_Q


def test_every_run_is_kept_in_the_history_with_its_counts(
    findings: Findings, engine: sa.Engine
) -> None:
    findings.record_run([LIBREOFFICE, FIREFOX_RAM], now=T0, notes=["3 hosts without hardware"])
    findings.record_run([], now=T0 + HOUR, started_at=T0 + HOUR - 5, finished_at=T0 + HOUR)

    findings.record_run([weak(slower_again(LIBREOFFICE, 0.1))], now=T0 + 2 * HOUR)

    newest, second, first = findings.last_runs()

    assert (first.new, first.open, first.notes) == (2, 2, ("3 hosts without hardware",))
    assert (second.resolved, second.missing, second.open, second.analysed_at) == (
        0,
        2,
        2,
        T0 + HOUR,
    )
    assert (newest.updated, newest.pending, newest.missing) == (1, 0, 1)
    assert newest.run_id > second.run_id > first.run_id


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
        (FindingFilter(status=None), ["firefox-hr", "libreoffice", "writer", "gimp"]),
        (FindingFilter(status="resolved"), ["writer"]),
        (FindingFilter(status="candidate"), ["gimp"]),
        (FindingFilter(app="libreoffice"), ["libreoffice"]),
        (FindingFilter(kind="pressure"), ["firefox-hr"]),
        (FindingFilter(cause="memory"), ["firefox-hr"]),
        (FindingFilter(department="hr"), ["firefox-hr"]),
        (FindingFilter(department="finance", status=None), ["libreoffice", "writer", "gimp"]),
        (FindingFilter(app="nothing"), []),
    ],
)
def test_findings_are_listed_by_filter_open_first_and_largest_effect_first(
    findings: Findings, engine: sa.Engine, where: FindingFilter, keys: list[str]
) -> None:
    writer = finding("trend", "writer", {}, cause="unknown", effect=0.9)
    gimp = weak(finding("trend", "gimp", {}, cause="unknown", effect=1.5))
    both = [LIBREOFFICE, FIREFOX_RAM]
    record_runs(findings, [[*both, writer], both, both, [*both, gimp]])
    names = {
        LIBREOFFICE.key: "libreoffice",
        FIREFOX_RAM.key: "firefox-hr",
        writer.key: "writer",
        gimp.key: "gimp",
    }

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


# -- the SQL implementation's own: its tables and its bounds ---------------------------------


def test_a_run_deletes_no_history_point_however_old(engine: sa.Engine) -> None:
    findings = SqlFindings(engine)

    record_runs(findings, [[LIBREOFFICE]] * 3, every=400 * DAY)

    points = findings.history(LIBREOFFICE.key).points
    assert [p.detected_at for p in points] == [T0, T0 + 400 * DAY, T0 + 800 * DAY]


def test_the_history_goes_with_its_finding(engine: sa.Engine) -> None:
    findings = SqlFindings(engine)
    record_runs(findings, [[LIBREOFFICE, FIREFOX_RAM]] * 2)

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM findings WHERE key = :key"), {"key": LIBREOFFICE.key})

    with engine.connect() as conn:
        kept = {
            table.name: sorted(conn.execute(sa.select(table.c.finding_key)).scalars())
            for table in (HISTORY, EVENTS)
        }
    assert kept == {
        "finding_history": [FIREFOX_RAM.key] * 2,
        "finding_events": [FIREFOX_RAM.key],
    }


def test_the_policy_before_hysteresis_resolves_on_the_first_miss(engine: sa.Engine) -> None:
    findings = SqlFindings(
        engine, policy=StabilityPolicy(confirm_runs=1, resolve_runs=1, resolve_days=0.0)
    )

    summaries = record_runs(findings, [[weak(LIBREOFFICE)], [], [weak(LIBREOFFICE)]], every=HOUR)

    assert [(s.new, s.resolved, s.reopened) for s in summaries] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
