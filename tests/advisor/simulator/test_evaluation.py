"""Scoring findings against ground truth: hand-made findings on a hand-made truth."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from advisor.analysis.findings import Cause, Effect, Evidence, Finding, Kind, Quantiles
from advisor.simulator.calendar import DAY
from advisor.simulator.evaluation import (
    EffectScore,
    EventKey,
    TruthEvent,
    classify,
    cold_shares,
    count_launches_after,
    detection_delays,
    effect_checks,
    effect_score,
    effect_scores_by_event,
    events_from_truth,
    median_delay,
    score,
    true_effect,
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


# --- true effects and effect scoring ------------------------------------------------------

COLD_ONLY = event(
    "lo-cold",
    "version_rollout",
    "libreoffice",
    "version",
    effect=0.35,
    cold_effect=0.35,
    warm_effect=0.0,
    version_to="7.6",
    host_starts=dict.fromkeys(HOSTS[:6], T0 + 10 * DAY),
)
RAMP = event(
    "mem",
    "memory_pressure",
    "gimp",
    "memory",
    hosts=HOSTS[6:],
    effect=0.5,
    cold_effect=0.5,
    warm_effect=0.5,
    start=T0 + 10 * DAY,
    full_at=T0 + 20 * DAY,
)
OLD = event(
    "hardware-tier-old",
    "hardware_tier",
    "evince",
    "hardware_tier",
    hosts=HOSTS[:4],
    effect=1.8,
    cold_effect=1.8,
    warm_effect=0.5,
    start=T0,
    cohort="old",
    aliases=["hdd", "low_cpu", "low_ram"],
)
EFFECTS_TRUTH = {"hosts": TRUTH["hosts"], "events": [COLD_ONLY, RAMP, OLD]}


def effect_events(cold_share: float | None = None) -> dict[str, TruthEvent]:
    shares: dict[EventKey, float] = {}
    if cold_share is not None:
        shares[("lo-cold", "libreoffice")] = cold_share
    return {e.id: e for e in events_from_truth(EFFECTS_TRUTH, cold_shares=shares)}


def with_effect(f: Finding, estimate: float, low: float, high: float, **scope: str) -> Finding:
    return dataclasses.replace(
        f, effect=Effect(estimate, low, high), scope={**f.scope, **scope}, key=f"{f.key}|{scope}"
    )


def test_a_rollouts_true_effect_is_its_effect_on_the_start_kind_asked_for() -> None:
    rollout = effect_events()["lo-cold"]
    assert true_effect(rollout, END, "cold") == 0.35
    assert true_effect(rollout, END, "warm") == 0.0
    assert true_effect(rollout, END, None) is None  # the mix is unknown without a cold share
    assert true_effect(rollout, END, "lukewarm") is None


def test_pooled_over_start_kinds_the_true_effect_mixes_them_on_the_log_scale() -> None:
    rollout = effect_events(cold_share=0.4)["lo-cold"]
    pooled = true_effect(rollout, END, None)
    assert pooled is not None
    assert pooled == pytest.approx(math.exp(0.4 * math.log(1.35)) - 1)
    assert 0.0 < pooled < 0.4 * 0.35  # below the linear mix: logs average a ratio


def test_a_ramps_true_effect_grows_with_its_progress() -> None:
    ramp = effect_events()["mem"]
    assert true_effect(ramp, T0 + 5 * DAY, "warm") == 0.0
    assert true_effect(ramp, T0 + 15 * DAY, "cold") == pytest.approx(0.25)
    assert true_effect(ramp, T0 + 15 * DAY, None) == pytest.approx(0.25)  # same on both kinds
    assert true_effect(ramp, END, "warm") == 0.5


def test_a_tiers_true_effect_is_per_start_kind_and_must_not_flag_events_have_none() -> None:
    events = {e.id: e for e in events_from_truth(TRUTH | {"events": [OLD, *TRUTH["events"]]})}
    assert true_effect(events["hardware-tier-old"], END, "cold") == 1.8
    assert true_effect(events["hardware-tier-old"], END, "warm") == 0.5
    assert true_effect(events["outage"], END, None) is None
    assert true_effect(events["noisy"], END, None) is None
    # Events of an older truth without per-kind effects: the effect on both kinds.
    assert true_effect(events["lo-slower"], END, "warm") == 0.35


def test_coverage_and_error_are_scored_per_finding_and_summed_per_event() -> None:
    events = list(effect_events().values())
    version = finding(
        "libreoffice",
        cause="version",
        hosts=(),
        since=T0 + 10 * DAY,
        kind="version_change",
        scope={"version": "7.6"},
    )
    tier = finding(
        "evince", cause="hardware_tier", hosts=(), since=T0, kind="hardware_tier", scope={}
    )
    findings = [
        with_effect(version, 0.33, 0.28, 0.39, start="cold"),  # covered, 6 % off
        with_effect(version, 0.05, 0.01, 0.09, start="warm"),  # misses 0: no error to take
        with_effect(version, 0.30, 0.25, 0.40),  # pooled, mix unknown: not checked
        with_effect(tier, 2.4, 2.2, 2.6, tier="cores<=2", start="cold"),  # an alias of "old"
    ]
    verdicts = classify(findings, events, data_end=END)
    assert [v.status for v in verdicts] == ["true"] * 4
    checks = effect_checks(verdicts, data_end=END)
    assert [(c.start, c.true) for c in checks] == [("cold", 0.35), ("warm", 0.0), ("cold", 1.8)]
    assert [c.covered for c in checks] == [True, False, False]
    assert checks[0].error == pytest.approx(0.02 / 0.35)
    assert checks[1].error is None
    assert checks[2].error == pytest.approx(0.6 / 1.8)
    total = effect_score(checks)
    assert (total.checks, total.covered, total.with_error, total.within) == (3, 1, 2, 1)
    assert total.coverage == pytest.approx(1 / 3)
    assert total.within_share == 0.5
    per_event = effect_scores_by_event(checks)
    assert per_event[("lo-cold", "libreoffice")] == EffectScore(2, 1, 1, 1)
    assert per_event[("hardware-tier-old", "evince")] == EffectScore(1, 0, 1, 0)
    assert effect_score([]).coverage is None


def test_a_ramp_finding_is_scored_against_the_ramp_where_it_was_when_found() -> None:
    early = dataclasses.replace(
        finding("gimp", cause="memory", hosts=tuple(HOSTS[6:]), since=T0 + 11 * DAY),
        detected_at=T0 + 15 * DAY,
    )
    checks = effect_checks(
        classify(
            [with_effect(early, 0.24, 0.2, 0.3)], list(effect_events().values()), data_end=END
        ),
        data_end=END,
    )
    assert len(checks) == 1
    assert checks[0].true == pytest.approx(0.25)
    assert checks[0].covered


def test_cold_shares_weigh_the_launches_after_each_event() -> None:
    evs = events_from_truth(TRUTH)
    host = np.array([0, 0, 0, 5, 9], dtype=np.int32)
    app = np.array([0, 0, 0, 0, 1], dtype=np.int32)
    time = np.array([T0, T0 + 11 * DAY, T0 + 12 * DAY, T0 + 13 * DAY, T0 + 12 * DAY])
    cold = np.array([True, True, False, False, True])
    shares = cold_shares(
        evs,
        host_ids=HOSTS,
        apps=["libreoffice", "evince"],
        host=host,
        app=app,
        true_time=time,
        cold=cold,
    )
    # lo-slower: the three launches after each host's change, one of them cold.
    assert shares[("lo-slower", "libreoffice")] == pytest.approx(1 / 3)
    assert shares[("memory", "evince")] == 1.0


def test_holidays_dst_changes_and_reinstalls_are_must_not_flag_events() -> None:
    quiet = [
        event("holiday", "holiday", None, None, hosts=[], all_hosts=True, effect=None,
              start=T0 + 3 * DAY, end=T0 + 4 * DAY),
        event("dst", "dst_change", None, None, hosts=[], all_hosts=True, effect=None,
              start=T0 + 6 * DAY, end=T0 + 8 * DAY),
        event("reinstall", "reinstall", None, None, hosts=["h8", "h8-new"], effect=None,
              start=T0 + 12 * DAY, end=T0 + 15 * DAY),
    ]  # fmt: skip
    truth = {"hosts": [*TRUTH["hosts"], {"host_id": "h8-new", "department": "sales"}]}
    evs = events_from_truth(truth | {"events": quiet})
    on_holiday = finding("gimp", cause="unknown", hosts=("h1",), since=T0 + 3 * DAY + 3600)
    after_dst = finding("gimp", cause="unknown", hosts=("h2",), since=T0 + 7 * DAY)
    new_host = finding("gimp", cause="unknown", hosts=("h8-new",), since=T0 + 16 * DAY)
    elsewhere = finding("gimp", cause="unknown", hosts=("h3",), since=T0 + 16 * DAY)
    verdicts = classify([on_holiday, after_dst, new_host, elsewhere], evs, data_end=END)
    assert [v.status for v in verdicts] == ["must_not_flag"] * 3 + ["false"]
    assert [v.event.kind for v in verdicts[:3] if v.event] == ["holiday", "dst_change", "reinstall"]


def test_a_tier_finding_goes_to_the_cohort_its_scope_names_not_one_with_the_same_hosts() -> None:
    tiers = [
        event("hardware-tier-hdd", "hardware_tier", "evince", "hardware_tier", hosts=HOSTS[:4],
              effect=1.0, cold_effect=1.0, warm_effect=0.05, start=T0, cohort="hdd"),
        event("hardware-tier-low_cpu", "hardware_tier", "evince", "hardware_tier",
              hosts=HOSTS[:2], effect=0.3, cold_effect=0.3, warm_effect=0.3, start=T0,
              cohort="low_cpu"),
        event("hardware-tier-high_cpu", "hardware_tier", "evince", "hardware_tier",
              hosts=HOSTS[8:], effect=-0.175, cold_effect=-0.175, warm_effect=-0.175, start=T0,
              cohort="high_cpu", aliases=["ram_32gb"]),
    ]  # fmt: skip
    evs = events_from_truth({"hosts": TRUTH["hosts"], "events": tiers})
    low = finding("evince", cause="hardware_tier", hosts=tuple(HOSTS[:2]), since=T0,
                  kind="hardware_tier", scope={"tier": "cores<=2"})  # fmt: skip
    merged = finding("evince", cause="hardware_tier", hosts=(), since=T0, kind="hardware_tier",
                     scope={"tier": "ram>16gb+cores>8"})  # fmt: skip
    verdicts = classify([low, merged], evs, data_end=END)
    assert [v.event.id for v in verdicts if v.event] == [
        "hardware-tier-low_cpu",  # its hosts are all HDD too: a tie on overlap
        "hardware-tier-high_cpu",  # the parts of a combined tier name the merged cohort
    ]
    assert [c.true for c in effect_checks(verdicts, data_end=END)] == [0.3, -0.175]


def test_a_department_finding_without_hosts_is_not_about_a_reinstalled_machine() -> None:
    reinstall = event("reinstall", "reinstall", None, None, hosts=["h8"], effect=None,
                      start=T0 + 12 * DAY, end=T0 + 15 * DAY)  # fmt: skip
    evs = events_from_truth({"hosts": TRUTH["hosts"], "events": [reinstall]})
    department = dataclasses.replace(
        finding("gimp", cause="unknown", hosts=(), since=T0 + 13 * DAY), departments=("sales",)
    )
    assert [v.status for v in classify([department], evs, data_end=END)] == ["false"]
