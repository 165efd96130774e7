"""Fleet analysis at scale: 1,000, 3,000 and 10,000 hosts x 20 apps x 90 days.

    .venv/bin/python bench/analysis_scale.py [--hosts 10000] [--days 90] [--seed 1]

For each size (all three unless ``--hosts`` names one or more): generates the fleet's frames
with the simulator's columnar path (advisor/simulator/columnar.py, scenario ``scale-20-apps``),
then runs ``advisor.analysis.fleet.analyse`` at the end of the data: once timed, once under
tracemalloc (``--no-trace`` skips it). Prints generation time and launches, then analysis
time, peak allocations during analysis (tracemalloc: Python objects and numpy arrays) and the
process's peak resident size (ru_maxrss, frames included), and the time per 1,000 hosts
and its ratio between sizes (growth no worse than linear: ratio <= about 1). The target is
10,000 hosts analysed in under 60 s on this 2-core machine. Each size runs in a fresh
process (``--in-process`` to run them in this one), so ru_maxrss is per size. No assertions:
figures for docs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.simulator import plan_fleet  # noqa: E402
from advisor.simulator.calendar import DAY  # noqa: E402
from advisor.simulator.columnar import fleet_data  # noqa: E402
from advisor.simulator.scenario import scale_scenario  # noqa: E402

SIZES = (1_000, 3_000, 10_000)
TARGET_SECONDS = 60.0
TARGET_HOSTS = 10_000
START = 1_756_684_800.0  # 2025-09-01 00:00 UTC, a Monday


def load_analyse() -> Callable[..., list[Any]] | None:
    """``advisor.analysis.fleet.analyse``, or None while it does not exist."""
    try:
        module = importlib.import_module("advisor.analysis.fleet")
    except ModuleNotFoundError:
        return None
    analyse: Callable[..., list[Any]] = module.analyse
    return analyse


def measure(hosts: int, days: float, seed: int, trace: bool) -> dict[str, Any]:
    """Generate and analyse one size; the figures as a dict."""
    started = time.perf_counter()
    fleet = plan_fleet(
        scale_scenario(), hosts=hosts, days=days, seed=seed, start=START, interval=3600.0
    )
    data = fleet_data(fleet)
    row: dict[str, Any] = {
        "hosts": hosts,
        "generate_s": time.perf_counter() - started,
        "launches": len(data.launches),
        "pressure_rows": len(data.pressure),
        "rss_after_generate_mb": _maxrss_mb(),
    }
    analyse = load_analyse()
    if analyse is None:
        row["note"] = "advisor.analysis.fleet.analyse does not exist yet"
        return row
    now = START + days * DAY
    started = time.perf_counter()
    findings = analyse(data, now=now)
    row["analyse_s"] = time.perf_counter() - started
    row["findings"] = len(findings)
    row["maxrss_mb"] = _maxrss_mb()
    if trace:  # a second run: tracing slows allocation, so it is not the one timed
        tracemalloc.start()
        analyse(data, now=now)
        row["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return row


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_in_child(hosts: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--hosts",
        str(hosts),
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
    ]
    if args.no_trace:
        command.append("--no-trace")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def report(rows: list[dict[str, Any]]) -> None:
    def fmt(value: Any, spec: str) -> str:
        return format("-", spec.split(".")[0]) if value is None else format(value, spec)

    print(
        f"{'hosts':>7} {'gen s':>7} {'launches':>11} {'analyse s':>10} {'s/1k hosts':>10} "
        f"{'ratio':>6} {'traced MB':>10} {'maxrss MB':>10} {'findings':>8}"
    )
    previous = None
    for row in rows:
        per_k = row["analyse_s"] / row["hosts"] * 1000 if "analyse_s" in row else None
        ratio = per_k / previous if per_k is not None and previous else None
        print(
            f"{row['hosts']:>7,} {row['generate_s']:>7.1f} {row['launches']:>11,} "
            f"{fmt(row.get('analyse_s'), '>10.1f')} {fmt(per_k, '>10.2f')} "
            f"{fmt(ratio, '>6.2f')} {fmt(row.get('traced_peak_mb'), '>10.0f')} "
            f"{fmt(row.get('maxrss_mb', row['rss_after_generate_mb']), '>10.0f')} "
            f"{fmt(row.get('findings'), '>8')}"
        )
        previous = per_k
        if "note" in row:
            print(f"        ({row['note']})")
    target = next((r for r in rows if r["hosts"] == TARGET_HOSTS and "analyse_s" in r), None)
    verdict = (
        "not run"
        if target is None
        else f"{target['analyse_s']:.1f} s: {'met' if target['analyse_s'] < 60 else 'MISSED'}"
    )
    print(
        f"target: {TARGET_HOSTS:,} hosts x 20 apps x 90 days analysed in under "
        f"{TARGET_SECONDS:.0f} s on 2 cores, growth per host no worse than linear "
        f"(ratio <= ~1) -> {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, action="append", help="a size (repeatable)")
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--in-process", action="store_true", help="all sizes in this process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.hosts or list(SIZES)
    if args.child:
        print(json.dumps(measure(sizes[0], args.days, args.seed, not args.no_trace)))
        return
    rows = []
    for hosts in sizes:
        if args.in_process:
            rows.append(measure(hosts, args.days, args.seed, not args.no_trace))
        else:
            rows.append(run_in_child(hosts, args))
        print(f"... {hosts:,} hosts done", file=sys.stderr)
    report(rows)


if __name__ == "__main__":
    main()
