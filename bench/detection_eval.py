"""Detection against the simulator's ground truth: precision, recall, delay, attribution,
and how well findings measure the effects (interval coverage, effect error).

    .venv/bin/python bench/detection_eval.py [--seeds 3] [--hosts 1000] [--days 90] [--quick]
        [--scenario FILE] [--start 2025-09-15]

    # the outside fleet of issue 13: 200 hosts, 8 weeks
    .venv/bin/python bench/detection_eval.py --scenario config/scenarios/outside-fleet.toml \
        --hosts 200 --days 56 --quick

For each seed: a fleet of the scenario (default: the built-in one, every kind of scripted
event once), its measurements drawn once with the columnar path
(advisor/simulator/columnar.py) and its ground truth.
``advisor.analysis.fleet.analyse(data, now=now)`` then runs on the data as the advisor held
it at a series of ``now`` (the frames cut with ``until=now``):

- after each qualifying event, 0.5, 1, 2, 3, 5 and 8 days after its load-time shift reached
  20 % (until a run finds it): the detection delay;
- 1 day after each windowed must-not-flag event (the outage, the delivery outage) and 8 h
  after each weekend, holiday, daylight-saving change and reinstall: findings on
  must-not-flag events;
- at the end of the data: precision, recall and attribution.

Matching and the figures are defined in advisor/simulator/evaluation.py (its docstring).
Precision, recall and attribution are over the final runs' findings, summed over seeds; the
delay is the median over the qualifying events found; must-not-flag findings are counted over
every run (distinct seed, finding key and event). Interval coverage and effect error are over
the final runs' true findings whose event has a known true effect, per event and in total.
Targets (issues 5 and 13) print beside each figure. ``--quick`` runs the final run only.
``--start`` (default 2025-09-15, a Monday) dates the run: it decides where a time zone's
daylight-saving change and a holiday given as a date fall. No assertions: figures for docs.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.analysis.findings import Finding  # noqa: E402
from advisor.simulator import Scenario, default_scenario, ground_truth, plan_fleet  # noqa: E402
from advisor.simulator.calendar import DAY, HOUR  # noqa: E402
from advisor.simulator.columnar import FleetColumns, fleet_columns  # noqa: E402
from advisor.simulator.errors import ScenarioError  # noqa: E402
from advisor.simulator.evaluation import (  # noqa: E402
    COVERAGE_TARGET,
    ERROR_LIMIT,
    EffectCheck,
    EventKey,
    Score,
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
)
from advisor.simulator.scenario_file import load_scenario  # noqa: E402

START = "2025-09-15"  # a Monday; 8 weeks from it hold a holiday and Berlin's DST change
DELAY_PROBES_DAYS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
QUIET_PROBE = {
    "outage": DAY,
    "delivery_outage": DAY,
    "weekend": 8 * HOUR,
    "holiday": 8 * HOUR,
    "dst_change": 8 * HOUR,
    "reinstall": 8 * HOUR,
}

Analyse = Callable[..., list[Finding]]


def load_analyse() -> Analyse | None:
    """``advisor.analysis.fleet.analyse``, or None while it does not exist."""
    try:
        module = importlib.import_module("advisor.analysis.fleet")
    except ModuleNotFoundError:
        return None
    analyse: Analyse = module.analyse
    return analyse


def evaluate_seed(
    analyse: Analyse,
    scenario: Scenario,
    seed: int,
    hosts: int,
    days: float,
    quick: bool,
    start: float,
) -> dict[str, Any]:
    """One seed's runs and figures."""
    fleet = plan_fleet(scenario, hosts=hosts, days=days, seed=seed, start=start, interval=3600.0)
    columns = fleet_columns(fleet)
    truth = ground_truth(fleet)
    counts, shares = launch_mix(columns, truth)
    events = events_from_truth(truth, counts, shares)
    end = fleet.end
    runs: list[tuple[float, list[Finding]]] = []
    quiet: set[tuple[str, str]] = set()
    false_any_run: set[str] = set()
    analyse_seconds: list[float] = []

    def run(now: float) -> list[Finding]:
        data = columns.at(min(now, end + 2 * HOUR))
        started = time.perf_counter()
        findings = analyse(data, now=now)
        analyse_seconds.append(time.perf_counter() - started)
        for verdict in classify(findings, events, data_end=min(now, end)):
            if verdict.status == "must_not_flag" and verdict.event is not None:
                quiet.add((verdict.finding.key, verdict.event.id))
            if verdict.status != "true":
                false_any_run.add(verdict.finding.key)
        runs.append((now, findings))
        return findings

    if not quick:
        for now, purposes in schedule(events, end):
            if None in purposes or not all(_found(k, runs, events, now) for k in purposes):
                run(now)
    final = run(end + HOUR)
    final_score = score(final, events, data_end=end)
    effects = effect_checks(classify(final, events, data_end=end), data_end=end)
    delays = detection_delays(runs, events, data_end=end) if not quick else {}
    return {
        "seed": seed,
        "score": final_score,
        "delays": delays,
        "must_not_flag": len(quiet),
        "quiet_examples": sorted(quiet)[:5],
        "false_any_run": len(false_any_run),
        "runs": len(runs),
        "analyse_s": sum(analyse_seconds),
        "launches": len(columns.launches),
        "effects": effects,
    }


def launch_mix(
    columns: FleetColumns, truth: dict[str, Any]
) -> tuple[dict[EventKey, int], dict[EventKey, float]]:
    """Per event, the launches after it and their share of cold starts."""
    frame = columns.launches
    events = events_from_truth(truth)
    host_ids, apps, host, app = frame.hosts.host_id, frame.apps, frame.host, frame.app
    counts = count_launches_after(
        events, host_ids=host_ids, apps=apps, host=host, app=app, true_time=columns.true_time
    )
    shares = cold_shares(
        events,
        host_ids=host_ids,
        apps=apps,
        host=host,
        app=app,
        true_time=columns.true_time,
        cold=frame.cold,
    )
    return counts, shares


def schedule(events: list[TruthEvent], end: float) -> list[tuple[float, set[EventKey | None]]]:
    """The ``now`` of each run before the final one, and the events it looks for (None: a
    must-not-flag check); a run is skipped when every event it looks for is found."""
    planned: dict[float, set[EventKey | None]] = {}
    for event in events:
        if event.qualifies:
            for d in DELAY_PROBES_DAYS:
                planned.setdefault(event.shift_at() + d * DAY, set()).add(event.key)
        elif event.kind in QUIET_PROBE and event.end is not None:
            planned.setdefault(event.end + QUIET_PROBE[event.kind], set()).add(None)
    return sorted((t, purposes) for t, purposes in planned.items() if t < end)


def _found(
    key: EventKey | None,
    runs: list[tuple[float, list[Finding]]],
    events: list[TruthEvent],
    now: float,
) -> bool:
    if key is None:
        return False
    delays = detection_delays(runs, events, data_end=now)
    return delays.get(key) is not None


def report(results: list[dict[str, Any]], name: str, hosts: int, days: float, quick: bool) -> None:
    total = Score(0, 0, 0, 0, 0, 0, ())
    delays: dict[tuple[int, EventKey], float | None] = {}
    for result in results:
        total = total + result["score"]
        for key, delay in result["delays"].items():
            delays[(result["seed"], key)] = delay
        s = result["score"]
        print(
            f"seed {result['seed']}: {result['launches']:,} launches, {result['runs']} runs "
            f"({result['analyse_s']:.0f} s in analyse); final run: {s.true_findings} true, "
            f"{s.false_findings} false ({s.must_not_flag} on must-not-flag), "
            f"{s.found}/{s.qualifying} events found, {s.cause_right} causes right; "
            f"false in any run: {result['false_any_run']}"
        )
        for key in s.missed:
            print(f"    missed: {key[0]} ({key[1]})")
        for example in result["quiet_examples"]:
            print(f"    on must-not-flag: {example[1]}: {example[0]}")
    quiet = sum(r["must_not_flag"] for r in results)
    median = median_delay(delays) if not quick else None
    found = sum(d is not None for d in delays.values())
    print()
    print(f"{len(results)} seeds x {hosts:,} hosts x {days:.0f} days, scenario {name}")
    rows = [
        ("precision", f"{total.precision:.3f}", ">= 0.95", total.precision >= 0.95),
        ("recall", f"{total.recall:.3f}", ">= 0.90", total.recall >= 0.9),
        (
            "median delay (days)",
            "-" if median is None else f"{median:.2f} ({found}/{len(delays)} found)",
            "<= 1",
            median is not None and median <= 1.0,
        ),
        ("cause right", f"{total.attribution:.1%}", ">= 90 %", total.attribution >= 0.9),
        ("findings on must-not-flag", f"{quiet}", "0", quiet == 0),
    ]
    checks: list[EffectCheck] = [c for r in results for c in r["effects"]]
    total_effects = effect_score(checks)
    rows += [
        (
            "interval coverage",
            _share(total_effects.coverage, total_effects.covered, total_effects.checks),
            f">= {COVERAGE_TARGET:.2f}",
            total_effects.coverage is not None and total_effects.coverage >= COVERAGE_TARGET,
        ),
        (
            f"effect error <= {ERROR_LIMIT:.0%}",
            _share(total_effects.within_share, total_effects.within, total_effects.with_error),
            "all",
            total_effects.within == total_effects.with_error,
        ),
    ]
    for label, value, target, met in rows:
        print(f"{label:<27} {value:<22} target {target:<8} {'met' if met else 'MISSED'}")
    report_effects(checks)


def report_effects(checks: list[EffectCheck]) -> None:
    """Per event: findings checked, intervals covering the truth, errors within the limit,
    the median error; then per event the check that missed worst."""
    print()
    print("effect sizes per event (final runs' true findings with a known true effect)")
    if not checks:
        print("    none: no true finding had a known true effect")
        return
    print(f"{'event':<44} {'checks':>6} {'covered':>9} {'<=25 %':>9} {'median error':>13}")
    for key, summary in effect_scores_by_event(checks).items():
        errors = sorted(c.error for c in checks if c.event == key and c.error is not None)
        median = f"{statistics.median(errors):.1%}" if errors else "-"
        print(
            f"{key[0] + ' (' + str(key[1]) + ')':<44} {summary.checks:>6} "
            f"{_ratio(summary.covered, summary.checks):>9} "
            f"{_ratio(summary.within, summary.with_error):>9} {median:>13}"
        )
    worst: dict[EventKey, EffectCheck] = {}
    for check in checks:  # per event, the check furthest from the truth (interval misses first)
        if check.covered and (check.error is None or check.error <= ERROR_LIMIT):
            continue
        rank = (not check.covered, check.error or 0.0)
        if check.event not in worst or rank > (
            not worst[check.event].covered,
            worst[check.event].error or 0.0,
        ):
            worst[check.event] = check
    if worst:
        print("worst miss per event:")
    for check in worst.values():
        print(
            f"    {check.finding} [{check.start or 'pooled'}]: true {check.true:+.3f}, "
            f"estimate {check.estimate:+.3f} [{check.low:+.3f}, {check.high:+.3f}]"
        )


def _share(value: float | None, part: int, whole: int) -> str:
    return "-" if value is None else f"{value:.3f} ({part}/{whole})"


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole}" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="only the final run per seed")
    parser.add_argument(
        "--scenario", type=Path, help="a scenario TOML file (default: the built-in scenario)"
    )
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=dt.date.fromisoformat(START),
        help=f"first day of the run, UTC (default: {START})",
    )
    args = parser.parse_args()
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    except ScenarioError as exc:
        parser.exit(2, f"detection_eval: {exc}\n")
    start = float(calendar.timegm(args.start.timetuple()))
    analyse = load_analyse()
    if analyse is None:
        print("advisor.analysis.fleet.analyse does not exist yet: nothing to evaluate")
        return
    results = []
    for seed in range(1, args.seeds + 1):
        results.append(
            evaluate_seed(analyse, scenario, seed, args.hosts, args.days, args.quick, start)
        )
        print(f"... seed {seed} done", file=sys.stderr)
    report(results, scenario.name, args.hosts, args.days, args.quick)


if __name__ == "__main__":
    main()
