"""The recommendation engine end to end, on small seeded fleets whose truth is known."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest

from advisor.analysis.fleet import analyse
from advisor.analysis.frames import FleetData
from advisor.recommend.budget import plan_budget
from advisor.recommend.engine import AFTER_PILOT, Recommendation, VerifiedPilot, recommend
from advisor.recommend.impact import Span
from advisor.recommend.parameters import RecommendParameters
from tests.advisor.analysis.fleetframes import MemoryPressure, Rollout, Spec, build
from tests.advisor.recommend.fleets import (
    OLD_COLD,
    OLD_VERSIONS,
    OLD_WARM,
    base_seconds,
    costs,
    finding,
    hdd_fleet,
    host_ids,
    hosts_on,
    memory_fleet,
    old_fleet,
    record,
    regressed_fleet,
    regression,
    run,
    true_seconds,
    with_fix,
)

CENT = Decimal("0.01")


def by_key(recs: list[Recommendation]) -> dict[str, Recommendation]:
    return {r.key: r for r in recs}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_regressed_version_the_vendor_fixed_is_upgraded_saving_what_the_fix_saves(
    seed: int,
) -> None:
    spec, data = regressed_fleet(fix_share=0.3, seed=seed)
    on2 = hosts_on(data, 0, "2.0")

    inputs, recs = run(data, [regression(data, on2)], {"app0": record()}, spec.now)

    [upgrade] = recs
    assert (upgrade.key, upgrade.kind, upgrade.category) == (
        "upgrade|app0|3.0|from=2.0",
        "upgrade",
        "regression",
    )
    assert upgrade.hosts == tuple(on2)
    assert upgrade.departments == ("finance", "sales")
    assert upgrade.basis == "model"
    assert upgrade.pilot is None
    # 3.0 undoes the +30 %: each launch saves 0.3 of the base load time.
    truth = true_seconds(
        inputs.facts, on2, lambda app, cold: 0.3 * base_seconds(app, cold), apps=(0,)
    )
    span = upgrade.benefit.seconds_per_launch
    assert span is not None
    assert abs(span.estimate - truth) <= 0.25 * truth
    assert span.low <= truth <= span.high
    assert upgrade.benefit.target_hosts == len(hosts_on(data, 0, "3.0"))


def test_without_a_better_version_the_regressed_hosts_roll_back() -> None:
    spec, data = regressed_fleet()
    on2 = hosts_on(data, 0, "2.0")
    catalog = {"app0": record(versions=OLD_VERSIONS)}

    inputs, recs = run(data, [regression(data, on2)], catalog, spec.now)

    [rollback] = recs
    assert rollback.key == "rollback|app0|1.0|from=2.0"
    assert rollback.group == "version|app0|2.0"
    assert rollback.basis == "model"  # the hosts still on 1.0 are the evidence
    truth = true_seconds(
        inputs.facts, on2, lambda app, cold: 0.3 * base_seconds(app, cold), apps=(0,)
    )
    span = rollback.benefit.seconds_per_launch
    assert span is not None
    assert abs(span.estimate - truth) <= 0.25 * truth
    assert span.low <= truth <= span.high
    licence = [p for p in rollback.cost.parts if p.item == "licence"]
    assert [p.amount for p in licence] == [Decimal(0)]


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_a_bad_move_on_top_of_a_regression_rolls_back_past_both(share: float) -> None:
    # 1.0 -> 2.0 made app0 30 % slower; the 2.0 hosts (half, or all: no host runs 2.0
    # any more) then moved on to 3.0, slower still. Back to 2.0 would keep the first
    # regression: the roll-back goes to 1.0.
    spec, data = regressed_fleet()
    data = with_fix(data, share=share, day=38, effect=1 / 1.3 - 1, seed=0)
    on3 = hosts_on(data, 0, "3.0")
    on2 = hosts_on(data, 0, "2.0")
    worse = finding(
        "version_change",
        "app0",
        {"from_version": "2.0", "version": "3.0"},
        on3,
        effect=0.3,
        cause="version",
        data=data,
    )
    catalog = {"app0": record(versions=OLD_VERSIONS)}

    _, recs = run(data, [regression(data, on2), worse], catalog, spec.now)

    rollbacks = {r.key for r in recs if r.kind == "rollback"}
    assert "rollback|app0|1.0|from=3.0" in rollbacks
    assert "rollback|app0|2.0|from=3.0" not in rollbacks


def test_a_roll_back_to_an_end_of_life_version_is_never_recommended() -> None:
    spec, data = regressed_fleet()
    on2 = hosts_on(data, 0, "2.0")
    catalog = {"app0": record(versions=OLD_VERSIONS, end_of_life={"1": dt.date(2023, 12, 1)})}

    _, recs = run(data, [regression(data, on2)], catalog, spec.now)

    assert not [r for r in recs if r.kind == "rollback"]
    # The hosts still on 1.0 must move: a lifecycle upgrade to 2.0, flagged.
    assert [(r.kind, r.target, r.flags[0]) for r in recs] == [("end_of_life", "2.0", "end_of_life")]


def test_an_upgrade_nobody_runs_yet_is_a_pilot_beside_the_roll_back() -> None:
    spec, data = regressed_fleet()
    on2 = hosts_on(data, 0, "2.0")

    _, recs = run(data, [regression(data, on2)], {"app0": record()}, spec.now)

    found = by_key(recs)
    upgrade = found["upgrade|app0|3.0|from=2.0"]
    rollback = found["rollback|app0|1.0|from=2.0"]
    assert upgrade.group == rollback.group
    assert upgrade.basis == "none"
    assert upgrade.benefit.seconds_per_launch is None
    assert upgrade.economics.annual_benefit is None
    assert "no saving is claimed" in (upgrade.explanation)
    pilot = upgrade.pilot
    assert pilot is not None
    assert "pilot" in upgrade.flags
    assert len(pilot.hosts) >= 6
    assert pilot.days % 7 == 0
    assert pilot.days >= 7
    departments = {inputs_department(data, h) for h in pilot.hosts}
    assert departments == {"finance", "sales"}
    assert set(pilot.hosts) <= {data.launches.hosts.host_id.index(h) for h in on2}
    assert pilot.effect == pytest.approx(0.3 / 1.3, abs=1e-3)  # the regression undone
    assert upgrade.pilot_cost is not None
    assert upgrade.pilot_cost.one_off < upgrade.cost.one_off
    assert rollback.rank < upgrade.rank


def test_after_a_verified_pilot_the_rest_get_the_rollout_not_another_pilot() -> None:
    spec, data = regressed_fleet()
    on2 = hosts_on(data, 0, "2.0")
    inputs, recs = run(data, [regression(data, on2)], {"app0": record()}, spec.now)
    key = "upgrade|app0|3.0|from=2.0"
    assert by_key(recs)[key].pilot is not None
    measured = VerifiedPilot(Span(0.6, 0.3, 0.9), hosts=6, control_hosts=30)

    again = by_key(recommend(replace(inputs, verified_pilots={key: measured}), now=spec.now))

    assert key not in again  # the pilot's own record keeps its figures
    rollout = again[key + AFTER_PILOT]
    assert rollout.pilot is None
    assert "after_pilot" in rollout.flags
    assert "A pilot on 6 hosts saved 0.60 s a launch (0.30 to 0.90 s)" in rollout.explanation
    assert rollout.document["after_pilot"]["saving"] == {"estimate": 0.6, "low": 0.3, "high": 0.9}
    assert rollout.hosts == by_key(recs)[key].hosts
    # The roll-back of the same problem is still offered beside it.
    assert "rollback|app0|1.0|from=2.0" in again


def inputs_department(data: FleetData, host: int) -> str:
    return data.launches.hosts.department[host]


def test_memory_pressure_gets_ram_up_to_the_fleets_standard_priced_per_gb() -> None:
    spec, data, findings = memory_fleet()

    inputs, recs = run(data, findings, {}, spec.now)

    assert {r.key for r in recs} == {"ram|*|16GiB|finance", "ram|*|16GiB|sales"}
    settings = costs()
    for ram in recs:
        assert ram.kind == "ram"
        assert ram.category == "regression"
        [hardware] = [p for p in ram.cost.parts if p.item == "hardware"]
        # 4 GiB machines to 16 GiB: 12 GiB each at the DDR4 price per GB.
        assert hardware.what == f"RAM {12 * len(ram.hosts)} GiB DDR4"
        assert hardware.amount == settings.ram_per_gb["DDR4"].amount * 12 * len(ram.hosts)
        truth = true_seconds(
            inputs.facts, list(ram.hosts), lambda app, cold: 0.4 * base_seconds(app, cold)
        )
        span = ram.benefit.seconds_per_launch
        assert span is not None
        assert ram.basis == "model"
        assert abs(span.estimate - truth) <= 0.25 * truth


def test_hdd_hosts_with_io_pressure_get_the_smallest_ssd_of_the_price_list() -> None:
    spec, data, findings = hdd_fleet()
    hdd = host_ids(data, data.launches.hosts.disk_rotational)

    inputs, recs = run(data, findings, {}, spec.now)

    assert sorted(r.key for r in recs) == [
        "ssd|*|SSD 1000GB|finance",
        "ssd|*|SSD 1000GB|sales",
    ]
    assert sorted(h for r in recs for h in r.hosts) == hdd
    for ssd in recs:
        # A standing tier is a right-sizing candidate, shown apart from regressions.
        assert ssd.category == "right_sizing"
        [hardware] = [p for p in ssd.cost.parts if p.item == "hardware"]
        assert hardware.amount == Decimal("118.00") * len(ssd.hosts)
        # An HDD doubles cold starts: an SSD saves one base cold start per cold launch.
        truth = true_seconds(
            inputs.facts,
            list(ssd.hosts),
            lambda app, cold: base_seconds(app, cold) if cold else 0.0,
        )
        span = ssd.benefit.seconds_per_launch
        assert span is not None
        assert abs(span.estimate - truth) <= 0.25 * truth


def test_old_machines_are_refitted_or_replaced_never_both() -> None:
    spec, data, findings = old_fleet()

    _, recs = run(data, findings, {}, spec.now)

    groups: dict[str, set[str]] = {}
    for r in recs:
        groups.setdefault(r.group, set()).add(r.kind)
    assert groups == {
        "old-machines|finance": {"ram_ssd", "replace"},
        "old-machines|sales": {"ram_ssd", "replace"},
    }
    found = by_key(recs)
    replace = found["replace|*|office-desktop|finance:old"]
    refit = found["ram_ssd|*|16GiB+SSD 1000GB|finance:old"]
    # The fleet has standard machines (SSD, 16 GB, 4 cores) to compare with; never an old
    # machine with new RAM and an SSD (they are HDD, 4 GB and 2 cores at once).
    assert replace.basis == "model"
    assert replace.pilot is None
    assert refit.basis == "none"
    assert refit.pilot is not None
    [machines] = [p for p in replace.cost.parts if p.item == "hardware"]
    assert machines.amount == Decimal("900.00") * len(replace.hosts)
    plan = plan_budget([r.budget_item() for r in recs], Decimal("1000000"))
    chosen = [item.group for item in plan.chosen]
    assert len(chosen) == len(set(chosen))


def test_an_end_of_life_version_gets_a_flagged_upgrade_ranked_with_the_rest() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    catalog = {"app0": record(end_of_life={"1": dt.date(2024, 1, 1)})}

    _, recs = run(data, [regression(data, on2)], catalog, spec.now)

    found = by_key(recs)
    lifecycle = found["end_of_life|app0|3.0|from=1.0"]
    assert lifecycle.category == "lifecycle"
    assert "end_of_life" in lifecycle.flags
    assert lifecycle.hosts == tuple(hosts_on(data, 0, "1.0"))
    assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
    assert found["upgrade|app0|3.0|from=2.0"].rank < lifecycle.rank


def test_a_noisy_host_and_an_app_without_remedy_make_no_recommendation() -> None:
    spec = Spec(hosts=60, noisy_hosts=2, rollouts=(Rollout(effect=0.3, share=0.8, day=20),))
    data = build(spec)
    on2 = hosts_on(data, 0, "2.0")
    noisy = finding(
        "change_point",
        "app0",
        {"host": "host-0000"},
        ["host-0000"],
        effect=0.6,
        cause="unknown",
        data=data,
    )
    drift = finding(
        "trend",
        "app1",
        {"department": "finance"},
        host_ids(data, np.array([d == "finance" for d in data.launches.hosts.department])),
        effect=0.2,
        cause="cpu",
        data=data,
    )
    catalog = {"app0": record(versions=OLD_VERSIONS), "app1": record("app1")}

    _, recs = run(data, [noisy, drift, regression(data, on2)], catalog, spec.now)

    assert [r.key for r in recs] == ["rollback|app0|1.0|from=2.0"]
    assert recs[0].finding_keys == (regression(data, on2).key,)


def test_money_is_exact_decimal_from_the_configured_prices() -> None:
    spec, data, findings = memory_fleet()
    costs()

    _, recs = run(data, findings, {}, spec.now)

    finance = by_key(recs)["ram|*|16GiB|finance"]
    n = len(finance.hosts)
    parts = {p.item: p.amount for p in finance.cost.parts}
    expected = {
        "hardware": Decimal("7.50") * 12 * n,
        "labour": Decimal("0.5") * Decimal("29.59") * n,
        "downtime": Decimal("0.5") * Decimal("45.00") * n,  # finance's own wage
    }
    assert parts == expected
    assert finance.cost.one_off == sum(expected.values(), Decimal(0))
    assert finance.cost.recurring_per_year == 0
    assert finance.cost.complete
    money = finance.benefit.money_per_year
    assert money is not None
    assert money.estimate == money.estimate.quantize(CENT)
    assert finance.economics.net_benefit_per_year == (
        money.estimate - finance.cost.one_off / 3
    ).quantize(CENT, rounding=ROUND_HALF_EVEN)
    cost = finance.document["cost"]
    assert Decimal(cost["one_off"]) == finance.cost.one_off
    assert [Decimal(p["amount"]) for p in cost["parts"]] == [p.amount for p in finance.cost.parts]
    assert Decimal(finance.document["benefit"]["money_per_year"]["estimate"]) == money.estimate


def test_the_rank_is_the_documented_formula() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    _, _, memory = memory_fleet()
    catalog = {"app0": record(end_of_life={"1": dt.date(2024, 1, 1)})}
    params = RecommendParameters(risk_aversion=0.5, horizon_years=3)

    _, recs = run(data, [regression(data, on2), *memory], catalog, spec.now, params)

    assert len(recs) >= 2
    for r in recs:
        risk = r.document["risk"]
        money = r.document["benefit"]["money_per_year"]
        adjusted = Decimal(0)
        if money is not None:
            b, low = Decimal(money["estimate"]), Decimal(money["low"])
            p = Decimal(repr(risk["p_evidence"] * risk["p_version"]))
            adjusted = (p * (b - Decimal("0.5") * (b - low))).quantize(CENT)
        assert Decimal(risk["risk_adjusted_benefit"]) == adjusted
        one_off = Decimal(r.document["cost"]["one_off"])
        recurring = Decimal(r.document["cost"]["recurring_per_year"])
        assert r.score == pytest.approx(float(adjusted - recurring - one_off / 3))
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    upgrade = by_key(recs)["upgrade|app0|3.0|from=2.0"]
    assert upgrade.risk.version_age_days == (dt.date(2024, 3, 1) - dt.date(2023, 12, 20)).days
    assert upgrade.risk.p_version == pytest.approx(1 - 0.3 * (1 - 72 / 90))


def test_keys_stay_the_same_when_recomputed_a_day_later() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    catalog = {"app0": record()}

    _, today = run(data, [regression(data, on2)], catalog, spec.now)
    _, tomorrow = run(data, [regression(data, on2)], catalog, spec.now + 86400)

    assert [r.key for r in today] == [r.key for r in tomorrow]
    assert [r.key.split("|") for r in today] == [["upgrade", "app0", "3.0", "from=2.0"]]


def test_the_document_holds_the_evidence_behind_every_figure_as_json() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")

    _, [upgrade] = run(data, [regression(data, on2)], {"app0": record()}, spec.now)

    doc = json.loads(json.dumps(upgrade.document, allow_nan=False))
    assert doc["hosts"]["count"] == len(on2)
    assert doc["hosts"]["hostnames"] == on2
    assert doc["hosts"]["by_department"] == {
        d: sum(1 for h in on2 if data.launches.hosts.department[int(h[5:])] == d)
        for d in ("finance", "sales")
    }
    benefit = doc["benefit"]
    assert benefit["basis"] == "model"
    assert "scikit-learn" in benefit["method"]
    assert {(e["app"], e["start"]) for e in benefit["evidence"]} == {
        ("app0", "cold"),
        ("app0", "warm"),
    }
    assert all(e["target_hosts"] == len(hosts_on(data, 0, "3.0")) for e in benefit["evidence"])
    assert sum(d["hosts"] for d in benefit["by_department"]) == len(on2)
    assert doc["at_stake"][0]["finding"] == regression(data, on2).key
    assert doc["rank"] == 1
    assert doc["explanation"] == upgrade.explanation
    assert "3.0" in upgrade.explanation
    assert "hosts already have this change" in (upgrade.explanation)


def test_hardware_savings_are_within_a_quarter_of_the_truth_and_their_intervals_cover_it() -> None:
    fleets = [
        (memory_fleet, "ram", lambda app, cold: 0.4 * base_seconds(app, cold)),
        (hdd_fleet, "ssd", lambda app, cold: base_seconds(app, cold) if cold else 0.0),
        (
            old_fleet,
            "replace",
            lambda app, cold: base_seconds(app, cold) * ((OLD_COLD if cold else OLD_WARM) - 1),
        ),
    ]
    for make, kind, saved in fleets:
        covered, within = [], []
        for seed in range(5):
            spec, data, findings = make(seed)
            inputs, recs = run(data, findings, {}, spec.now)
            for r in (r for r in recs if r.kind == kind):
                truth = true_seconds(inputs.facts, list(r.hosts), saved)
                span = r.benefit.seconds_per_launch
                assert span is not None
                within.append(abs(span.estimate - truth) <= 0.25 * truth)
                covered.append(span.low <= truth <= span.high)
        assert all(within), kind
        # Ten 95 % intervals: at least eight cover (nine or more 95 % of the time).
        assert len(covered) == 10, kind
        assert sum(covered) >= 8, (kind, covered)


def test_the_version_the_fleet_already_runs_well_wins_over_a_newer_unproven_one() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    versions = (*OLD_VERSIONS, ("3.0", dt.date(2023, 12, 20)), ("3.1", dt.date(2024, 2, 20)))

    _, recs = run(data, [regression(data, on2)], {"app0": record(versions=versions)}, spec.now)

    assert [r.key for r in recs] == ["upgrade|app0|3.0|from=2.0"]


def test_a_fix_in_an_end_of_life_cycle_is_never_the_target() -> None:
    spec, data = regressed_fleet(fix_share=0.3)
    on2 = hosts_on(data, 0, "2.0")
    versions = (*OLD_VERSIONS, ("3.0", dt.date(2023, 12, 20)), ("4.0", dt.date(2024, 2, 1)))
    catalog = {"app0": record(versions=versions, end_of_life={"3": True})}

    _, recs = run(data, [regression(data, on2)], catalog, spec.now)

    found = by_key(recs)
    assert "upgrade|app0|3.0|from=2.0" not in found
    upgrade = found["upgrade|app0|4.0|from=2.0"]
    assert upgrade.basis == "none"
    assert upgrade.pilot is not None
    # The hosts already on 3.0 are on an end-of-life cycle: they must move too.
    assert found["end_of_life|app0|4.0|from=3.0"].category == "lifecycle"
    assert "rollback|app0|1.0|from=2.0" in found


def test_hosts_still_on_a_version_the_fleet_found_slower_upgrade_to_the_faster_one() -> None:
    spec = Spec(hosts=60, rollouts=(Rollout(effect=-0.25, share=0.5, day=20),))
    data = build(spec)
    on1, on2 = hosts_on(data, 0, "1.0"), hosts_on(data, 0, "2.0")
    faster = finding(
        "version_change",
        "app0",
        {"from_version": "1.0", "version": "2.0"},
        on2,
        effect=-0.25,
        cause="version",
        direction="faster",
        data=data,
    )

    inputs, recs = run(data, [faster], {"app0": record(versions=OLD_VERSIONS)}, spec.now)

    [upgrade] = recs
    assert upgrade.key == "upgrade|app0|2.0|from=1.0"
    assert upgrade.hosts == tuple(on1)
    truth = true_seconds(
        inputs.facts, on1, lambda app, cold: 0.25 * base_seconds(app, cold), apps=(0,)
    )
    span = upgrade.benefit.seconds_per_launch
    assert span is not None
    assert abs(span.estimate - truth) <= 0.25 * truth


def test_an_empty_fleet_or_findings_about_unknown_hosts_recommend_nothing() -> None:
    spec = Spec(hosts=10)
    data = build(spec)
    stranger = finding(
        "pressure",
        "app0",
        {"pressure": "memory"},
        ["host-0001"],
        effect=0.4,
        cause="memory",
        data=data,
    )
    unknown = replace(stranger, hosts=("gone-1", "gone-2"), app="not-in-the-fleet")

    _, recs = run(data, [unknown], {"app0": record()}, spec.now)
    _, later = run(data, [stranger], {}, spec.now + 365 * 86400.0)

    assert recs == []
    assert later == []  # a year on, nothing was launched in the recent days


def test_the_analysis_own_findings_become_the_recommendations_their_problems_need() -> None:
    spec = Spec(
        hosts=80,
        apps=3,
        hdd_share=0.25,
        hdd_cold_factor=2.0,
        hdd_io=0.1,
        low_ram_share=0.25,
        memory=MemoryPressure(effect=0.4, day=25, ramp_days=10, ram_gb=4.0),
        noisy_hosts=2,
        rollouts=(Rollout(effect=0.3, share=0.7, day=20),),
    )
    data = with_fix(build(spec), share=0.3, day=40, effect=0.3, seed=1)
    findings = analyse(data, now=spec.now)

    _, recs = run(data, findings, {"app0": record()}, spec.now)

    assert recs[0].key == "upgrade|app0|3.0|from=2.0"
    assert {(r.kind, r.category) for r in recs[1:]} == {
        ("ram", "regression"),
        ("ssd", "right_sizing"),
    }
    table = data.launches.hosts
    low = host_ids(data, table.ram_bytes <= 4 * 2**30)
    assert sorted(h for r in recs if r.kind == "ram" for h in r.hosts) == low
    hdd = host_ids(data, table.disk_rotational)
    assert sorted(h for r in recs if r.kind == "ssd" for h in r.hosts) == hdd
