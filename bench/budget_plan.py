"""Budget planner: the optimiser's plan beside the spreadsheet's ratio ranking.

    .venv/bin/python bench/budget_plan.py [--sizes 50 500 5000] [--fractions 0.05 0.2 0.5]
        [--seed 14] [--time-limit 30]

For each size, a seeded set of candidates shaped like the recommendations
(advisor.recommend.budget.BudgetItem), one problem at a time until the size is reached:

- software, 60 % of problems: an upgrade on 5 to 400 hosts (log-uniform), labour 3 to 50 a
  seat (uniform), a licence of 10 to 60 a seat on 20 % of them. Annual benefit: seconds saved
  per launch (log-normal, median 0.5 s, sigma 1) x launches a host and day (2 to 20) x hosts x
  365.25 days / 3600 x a wage of 30 an hour, risk-adjusted by 0.3 to 1. Half of them have an
  alternative (a roll back, the same group: labour 3 to 15 a seat, 0.4 to 1.1 times the
  upgrade's benefit); 8 % of upgrades are risky enough that the risk-adjusted benefit is below
  0 (-200 to 0).
- hardware, 38 %: 1 to 10 hosts losing 1 to 6 s a launch, 10 to 60 launches a day (the same
  money per second). Alternatives, one group of 2 or 3 (a pattern drawn uniformly): RAM
  (100-400 a host, fixing 20-60 % of the loss), SSD (150-300, 30-70 %), RAM+SSD (both, 95 % of
  the price, fixing 90 % of the two fractions' sum, at most all), replace (800-1500, 80-100 %):
  [RAM, replace], [SSD, replace], [RAM+SSD, replace] or [RAM, RAM+SSD, replace]; risk-adjusted
  by 0.5 to 1.
- a setting, 2 %: free (cost 0), 10 to 200 a year.

Budgets are fractions of the cost of doing the first alternative of every problem. Printed per
size and budget: the optimal (MILP) and greedy annual benefit, greedy / optimal, the money
spent by each, the seconds each took (the greedy is Python walking a sorted list; the MILP is
building the model, HiGHS's solve and the Decimal checks), the MILP's CPU seconds (the machine
may be shared) and its method (``milp`` when proven optimal). HiGHS may print a stray debug
line (advisor.recommend.budget._solve) between the rows. No assertions: figures for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import numpy as np

from advisor.recommend.budget import BudgetItem, BudgetPlan, greedy_plan, plan_budget

WAGE = 30.0
DAYS = 365.25


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _per_year(seconds_a_day: float) -> float:
    return seconds_a_day * DAYS / 3600 * WAGE


def _software(rng: np.random.Generator, name: str) -> list[BudgetItem]:
    hosts = int(math.exp(rng.uniform(math.log(5), math.log(400))))
    seat = rng.uniform(3, 50) + (rng.uniform(10, 60) if rng.random() < 0.2 else 0.0)
    saved = rng.lognormal(math.log(0.5), 1.0) * rng.uniform(2, 20) * hosts
    benefit = _per_year(saved) * rng.uniform(0.3, 1.0)
    if rng.random() < 0.08:
        benefit = -rng.uniform(0, 200)
    group = name if rng.random() < 0.5 else None
    items = [BudgetItem(f"{name}-upgrade", _money(seat * hosts), _money(benefit), group=group)]
    if group is not None:
        rollback = abs(benefit) * rng.uniform(0.4, 1.1)
        cost = rng.uniform(3, 15) * hosts
        items.append(BudgetItem(f"{name}-rollback", _money(cost), _money(rollback), group=group))
    return items


def _hardware(rng: np.random.Generator, name: str) -> list[BudgetItem]:
    hosts = int(rng.integers(1, 11))
    loss = _per_year(rng.uniform(1, 6) * rng.uniform(10, 60)) * hosts
    ram, ssd = rng.uniform(100, 400) * hosts, rng.uniform(150, 300) * hosts
    fix_ram, fix_ssd = rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.7)
    options = {
        "ram": (ram, fix_ram),
        "ssd": (ssd, fix_ssd),
        "ram-ssd": ((ram + ssd) * 0.95, min(1.0, 0.9 * (fix_ram + fix_ssd))),
        "replace": (rng.uniform(800, 1500) * hosts, rng.uniform(0.8, 1.0)),
    }
    patterns = (
        ("ram", "replace"),
        ("ssd", "replace"),
        ("ram-ssd", "replace"),
        ("ram", "ram-ssd", "replace"),
    )
    pattern = patterns[int(rng.integers(len(patterns)))]
    risk = rng.uniform(0.5, 1.0)
    return [
        BudgetItem(
            f"{name}-{option}",
            _money(options[option][0]),
            _money(loss * options[option][1] * risk),
            group=name,
        )
        for option in pattern
    ]


def candidates(size: int, seed: int) -> tuple[list[BudgetItem], Decimal]:
    """``size`` candidates (the module docstring's distribution) and the cost of doing the
    first alternative of every problem."""
    rng = np.random.default_rng(seed)
    items: list[BudgetItem] = []
    everything = Decimal(0)
    problem = 0
    while len(items) < size:
        name = f"p{problem:05d}"
        draw = rng.random()
        if draw < 0.6:
            new = _software(rng, name)
        elif draw < 0.98:
            new = _hardware(rng, name)
        else:
            new = [BudgetItem(f"{name}-setting", Decimal(0), _money(rng.uniform(10, 200)))]
        new = new[: size - len(items)]
        items.extend(new)
        everything += new[0].cost
        problem += 1
    return items, everything


def _timed(make: Callable[[], BudgetPlan]) -> tuple[BudgetPlan, float, float]:
    """The plan, the wall seconds and the CPU seconds of this process making it (the machine
    is shared: wall time includes waiting for a core)."""
    started, cpu = time.perf_counter(), time.process_time()
    plan = make()
    return plan, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.2, 0.5])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args()

    print(
        f"{'candidates':>10} {'budget':>12} {'optimal/yr':>12} {'greedy/yr':>12} {'ratio':>6}"
        f" {'opt spent':>12} {'gr spent':>12} {'milp s':>7} {'cpu s':>6} {'greedy s':>8}  method"
    )
    for size in args.sizes:
        items, everything = candidates(size, args.seed)
        for fraction in args.fractions:
            amount = (everything * Decimal(str(fraction))).quantize(Decimal(1))
            best, milp_seconds, milp_cpu = _timed(
                partial(plan_budget, items, amount, time_limit=args.time_limit)
            )
            greedy, greedy_seconds, _ = _timed(partial(greedy_plan, items, amount))
            ratio = greedy.annual_benefit / best.annual_benefit if best.annual_benefit else 1
            print(
                f"{size:>10,} {amount:>12,} {best.annual_benefit:>12,.0f}"
                f" {greedy.annual_benefit:>12,.0f} {ratio:>6.3f} {best.spent:>12,.0f}"
                f" {greedy.spent:>12,.0f} {milp_seconds:>7.3f} {milp_cpu:>6.2f}"
                f" {greedy_seconds:>8.3f}  {best.method}"
            )


if __name__ == "__main__":
    main()
