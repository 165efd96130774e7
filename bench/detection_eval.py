"""Detection against the simulator's ground truth: precision, recall, delay, attribution.

    .venv/bin/python bench/detection_eval.py [--seeds 3] [--hosts 1000] [--days 90] [--quick]

For each seed: a fleet of the default scenario (every kind of scripted event once), its
measurements drawn once with the columnar path (advisor/simulator/columnar.py) and its ground
truth. ``advisor.analysis.fleet.analyse(data, now=now)`` then runs on the data as the advisor
held it at a series of ``now`` (the frames cut with ``until=now``):

- after each qualifying event, 0.5, 1, 2, 3, 5 and 8 days after its load-time shift reached
  20 % (until a run finds it): the detection delay;
- 1 day after each windowed must-not-flag event (the outage, the delivery outage) and 8 h
  after each weekend: findings on must-not-flag events;
- at the end of the data: precision, recall and attribution.

Matching and the figures are defined in advisor/simulator/evaluation.py (its docstring).
Precision, recall and attribution are over the final runs' findings, summed over seeds; the
delay is the median over the qualifying events found; must-not-flag findings are counted over
every run (distinct seed, finding key and event). Targets (issue 5) print beside each figure.
``--quick`` runs the final run only. No assertions: figures for docs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.analysis.findings import Finding  # noqa: E402
from advisor.simulator import default_scenario, ground_truth, plan_fleet  # noqa: E402
from advisor.simulator.calendar import DAY, HOUR  # noqa: E402
from advisor.simulator.columnar import FleetColumns, fleet_columns  # noqa: E402
from advisor.simulator.evaluation import (  # noqa: E402
    EventKey,
    Score,
    TruthEvent,
    classify,
    count_launches_after,
    detection_delays,
    events_from_truth,
    median_delay,
    score,
)

START = 1_756_684_800.0  # 2025-09-01 00:00 UTC, a Monday
DELAY_PROBES_DAYS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
QUIET_PROBE = {"outage": DAY, "delivery_outage": DAY, "weekend": 8 * HOUR}

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
    analyse: Analyse, seed: int, hosts: int, days: float, quick: bool
) -> dict[str, Any]:
    """One seed's runs and figures."""
    fleet = plan_fleet(
        default_scenario(), hosts=hosts, days=days, seed=seed, start=START, interval=3600.0
    )
    columns = fleet_columns(fleet)
    truth = ground_truth(fleet)
    events = events_from_truth(truth, launches_after(columns, truth))
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
    }


def launches_after(columns: FleetColumns, truth: dict[str, Any]) -> dict[EventKey, int]:
    frame = columns.launches
    return count_launches_after(
        events_from_truth(truth),
        host_ids=frame.hosts.host_id,
        apps=frame.apps,
        host=frame.host,
        app=frame.app,
        true_time=columns.true_time,
    )


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


def report(results: list[dict[str, Any]], hosts: int, days: float, quick: bool) -> None:
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
    print(f"{len(results)} seeds x {hosts:,} hosts x {days:.0f} days, default scenario")
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
    for name, value, target, met in rows:
        print(f"{name:<27} {value:<22} target {target:<8} {'met' if met else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="only the final run per seed")
    args = parser.parse_args()
    analyse = load_analyse()
    if analyse is None:
        print("advisor.analysis.fleet.analyse does not exist yet: nothing to evaluate")
        return
    results = []
    for seed in range(1, args.seeds + 1):
        results.append(evaluate_seed(analyse, seed, args.hosts, args.days, args.quick))
        print(f"... seed {seed} done", file=sys.stderr)
    report(results, args.hosts, args.days, args.quick)


if __name__ == "__main__":
    main()
