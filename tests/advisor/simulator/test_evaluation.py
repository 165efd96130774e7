"""Scoring findings against ground truth: hand-made findings on a hand-made truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.analysis.findings import Cause, Effect, Evidence, Finding, Kind, Quantiles
from advisor.simulator.calendar import DAY
from advisor.simulator.evaluation import (
    EventKey,
    TruthEvent,
    count_launches_after,
    detection_delays,
    events_from_truth,
    median_delay,
    score,
)

T0 = 1_762_128_000.0
END = T0 + 30 * DAY
HOSTS = [f"h{i}" for i in range(10)]


def event(
    event_id: str, kind: str, app: str | None, cause: str | None, **more: Any
) -> dict[str, Any]:
    base = {
        "id": event_id,
        "kind": kind,
        "app": app,
        "cause": cause,
        "expect_finding": cause is not None,
        "start": T0 + 10 * DAY,
        "end": None,
        "effect": 0.35,
        "hosts": HOSTS[:6],
        "all_hosts": False,
    }
    return base | more


TRUTH = {
    "hosts": [
        {"host_id": h, "department": "finance" if i < 5 else "sales"} for i, h in enumerate(HOSTS)
    ],
    "events": [
        event(
            "lo-slower",
            "version_rollout",
            "libreoffice",
            "version",
            version_to="7.5",
            host_starts={h: T0 + 10 * DAY + i * 3600 for i, h in enumerate(HOSTS[:6])},
        ),
        event(
            "memory",
            "memory_pressure",
            "evince",
            "memory",
            hosts=HOSTS[6:],
            effect=0.5,
            start=T0 + 5 * DAY,
            full_at=T0 + 15 * DAY,
        ),
        event(
            "hardware-tier-hdd",
            "hardware_tier",
            "evince",
            "hardware_tier",
            hosts=HOSTS[:3],
            effect=1.0,
            start=T0,
            cohort="hdd",
        ),
        event(
            "outage",
            "outage",
            "libreoffice",
            None,
            hosts=HOSTS[:5],
            start=T0 + 20 * DAY,
            end=T0 + 20 * DAY + 2700,
        ),
        event("noisy", "noisy_host", None, None, hosts=["h9"], effect=None),
    ],
}
ENOUGH: dict[EventKey, int] = {("lo-slower", "libreoffice"): 500, ("memory", "evince"): 400}


def finding(
    app: str,
    *,
    cause: Cause,
    hosts: tuple[str, ...],
    since: float,
    kind: Kind = "change_point",
    scope: dict[str, str] | None = None,
) -> Finding:
    q = Quantiles(100, 1.0, 1.2, 1.6)
    return Finding(
        key=f"{kind}|{app}|{since}",
        kind=kind,
        app=app,
        scope=scope or {},
        direction="slower",
        effect=Effect(0.3, 0.2, 0.4),
        cause=cause,
        confidence=0.9,
        since=since,
        detected_at=END,
        hosts=hosts,
        departments=(),
        evidence=Evidence(before=q, after=q),
    )


ROLLOUT = finding(
    "libreoffice",
    cause="version",
    hosts=(),
    since=T0 + 10 * DAY,
    kind="version_change",
    scope={"version": "7.5", "from_version": "7.4"},
)
MEMORY = finding("evince", cause="swap", hosts=tuple(HOSTS[6:]), since=T0 + 9 * DAY)
TIER = finding(
    "evince", cause="hardware_tier", hosts=(), since=T0, kind="hardware_tier", scope={"tier": "hdd"}
)


def events() -> list[TruthEvent]:
    return events_from_truth(TRUTH, ENOUGH)


def test_a_perfect_set_of_findings_scores_one_on_every_figure() -> None:
    result = score([ROLLOUT, MEMORY, TIER], events(), data_end=END)
    assert (result.precision, result.recall, result.attribution) == (1.0, 1.0, 1.0)
    assert (result.qualifying, result.found, result.must_not_flag) == (2, 2, 0)


def test_a_missing_event_lowers_recall_and_is_named() -> None:
    result = score([ROLLOUT, TIER], events(), data_end=END)
    assert result.recall == 0.5
    assert result.precision == 1.0
    assert result.missed == (("memory", "evince"),)


def test_a_finding_matching_no_event_lowers_precision() -> None:
    stray = finding("gimp", cause="unknown", hosts=("h1",), since=T0 + 3 * DAY)
    wrong_time = finding("evince", cause="memory", hosts=tuple(HOSTS[6:]), since=T0 + DAY)
    result = score([ROLLOUT, MEMORY, stray, wrong_time], events(), data_end=END)
    assert result.false_findings == 2
    assert result.precision == 0.5
    assert result.recall == 1.0
    assert result.must_not_flag == 0


def test_a_wrong_cause_lowers_attribution_but_still_finds_the_event() -> None:
    wrong = finding("evince", cause="disk_io", hosts=tuple(HOSTS[6:]), since=T0 + 9 * DAY)
    result = score([ROLLOUT, wrong], events(), data_end=END)
    assert result.recall == 1.0
    assert result.attribution == 0.5


def test_findings_on_must_not_flag_events_are_counted_as_such_and_as_false() -> None:
    on_outage = finding(
        "libreoffice", cause="unknown", hosts=tuple(HOSTS[:5]), since=T0 + 20 * DAY + 600
    )
    on_noisy_host = finding("gimp", cause="unknown", hosts=("h9",), since=T0 + 4 * DAY)
    result = score([ROLLOUT, MEMORY, on_outage, on_noisy_host], events(), data_end=END)
    assert result.must_not_flag == 2
    assert result.false_findings == 2
    assert result.precision == 0.5


def test_a_hardware_tier_finding_is_true_only_where_the_truth_lists_that_gap() -> None:
    other_app = finding(
        "gimp",
        cause="hardware_tier",
        hosts=(),
        since=T0,
        kind="hardware_tier",
        scope={"tier": "hdd"},
    )
    result = score([TIER, other_app], events(), data_end=END)
    assert (result.true_findings, result.false_findings) == (1, 1)


def test_an_event_with_too_few_launches_after_it_is_not_in_the_recall_denominator() -> None:
    few = events_from_truth(TRUTH, {("lo-slower", "libreoffice"): 29})
    result = score([], few, data_end=END)
    assert result.qualifying == 0
    assert result.recall == 1.0


def test_the_delay_runs_from_the_shift_to_the_first_run_that_finds_it() -> None:
    runs = [
        (T0 + 11 * DAY, [ROLLOUT]),
        (T0 + 12 * DAY, [ROLLOUT]),
        (T0 + 14 * DAY, [ROLLOUT, MEMORY]),
    ]
    delays = detection_delays(runs, events(), data_end=END)
    assert delays[("lo-slower", "libreoffice")] == 1.0
    # The memory ramp (0.5 over 10 days from day 5) passes 20 % at day 9.
    assert delays[("memory", "evince")] == 5.0
    assert median_delay(delays) == 3.0


def test_launches_after_count_each_hosts_own_change() -> None:
    evs = events_from_truth(TRUTH)
    host = np.array([0, 0, 5, 9], dtype=np.int32)
    app = np.array([0, 0, 0, 1], dtype=np.int32)
    time = np.array([T0, T0 + 11 * DAY, T0 + 10 * DAY + 4 * 3600, T0 + 12 * DAY])
    counts = count_launches_after(
        evs, host_ids=HOSTS, apps=["libreoffice", "evince"], host=host, app=app, true_time=time
    )
    # Host 5 launched at +4 h, before its own change at +5 h; host 0 after its change.
    assert counts[("lo-slower", "libreoffice")] == 1
    assert counts[("memory", "evince")] == 1
