"""The budget planner: given an amount, the set of recommendations that saves the most.

:func:`plan_budget` chooses among costed candidates (:class:`BudgetItem`: a one-off cost, a
risk-adjusted annual benefit) the set with the largest total annual benefit whose total cost is
at most the amount, taking at most one item of each ``group`` (alternatives for the same
problem: upgrade or roll back; RAM and SSD, or a new machine) and an item only with the items it
``requires``. It is exact: a 0-1 integer programme (a knapsack with choice and precedence
constraints) solved to proven optimality by HiGHS through :func:`scipy.optimize.milp`.
:func:`greedy_plan` is the ratio ranking a spreadsheet would do, for comparison only: it can
miss the optimum by far (bench/budget_plan.py, docs/benchmarks.md).

Exactness. Money is :class:`~decimal.Decimal` at the edges; the solver sees integers:

- costs and the amount in the finest unit any of them uses (cents, usually), so the budget row
  holds exactly in integers; only past 2^50 units, where doubles stop holding integers with
  room to spare, in a coarser unit, costs rounded up and the amount down;
- benefits to the nearest 10^-4 at the finest (also coarser past 2^50), so the objective is an
  integer and a relative gap of 0 means the optimum itself, not one within HiGHS's default
  0.01 %.

After solving, the binary values are rounded and the chosen set is checked in Decimal (total
cost at most the amount, one per group, requirements in). Should the solver's float tolerance
ever let a set through that fails, it solves again with the budget tightened by the overshoot,
and after three tries falls back to the greedy plan (``method="greedy-fallback"``). A plan that
holds is then topped up in Decimal with anything that still fits (nothing, when the integers
were exact and the solve optimal).

Ties. Among plans saving the same, HiGHS's choice, improved by single swaps of a chosen item
for an unchosen one with the same benefit that costs less, or costs the same and has the
smaller key (a second solve for the least cost at the best benefit took three times as long as
the first at 5,000 candidates). Candidates are sorted by key before the model is built, so the
same candidates in any order give the same plan (HiGHS is deterministic).

Reasons. Every candidate left out gets one, the first that applies: ``outside the department
asked for``, ``outside the quarter asked for``, ``no benefit`` (an annual benefit of 0 or
less), ``an alternative was chosen: <key>``, ``needs <key>, which is not in the plan``,
``over budget (needs <cost>, <left> left)``. An optimal plan leaves no other kind: an item
that fits, has a benefit and conflicts with nothing would have been taken.

>>> items = [
...     BudgetItem("ssd-sales", Decimal("500"), Decimal("500")),
...     BudgetItem("ram-sales", Decimal("500"), Decimal("500")),
...     BudgetItem("replace-hr-07", Decimal("600"), Decimal("700")),
... ]
>>> plan = plan_budget(items, Decimal("1000"))
>>> [item.key for item in plan.chosen], plan.annual_benefit, plan.method
(['ram-sales', 'ssd-sales'], Decimal('1000'), 'milp')
>>> [(left.key, left.reason) for left in plan.left_out]
[('replace-hr-07', 'over budget (needs 600.00, 0.00 left)')]
>>> greedy_plan(items, Decimal("1000")).annual_benefit  # best ratio first: 700 / 600
Decimal('700')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "BudgetItem",
    "BudgetPlan",
    "LeftOut",
    "LeftOutCode",
    "Method",
    "greedy_plan",
    "plan_budget",
]

Method = Literal["milp", "milp-time-limit", "milp-repaired", "greedy", "greedy-fallback"]
"""How a plan was made: ``milp``, proven optimal; ``milp-time-limit``, the best HiGHS found
before ``time_limit`` (then topped up greedily), not proven optimal; ``milp-repaired``, optimal
for a budget tightened because the solver's first answer failed the exact check (then topped
up), not proven optimal for the amount; ``greedy``, the ratio ranking; ``greedy-fallback``, the
ratio ranking because the solver's answers kept failing the exact check."""

LeftOutCode = Literal[
    "outside-department",
    "outside-quarter",
    "no-benefit",
    "alternative-chosen",
    "needs",
    "over-budget",
]

DEFAULT_TIME_LIMIT = 30.0
"""Seconds HiGHS may search before the best plan found so far is taken."""
_BENEFIT_PLACES = 4
_INTEGER_LIMIT = 2**50
_REPAIRS = 3
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BudgetItem:
    """One costed recommendation the planner may choose.

    ``cost`` is one-off and at least 0; ``annual_benefit`` is the risk-adjusted expected saving
    a year and may be 0 or less (such an item is chosen only as another's requirement).
    Items sharing a ``group`` are alternatives for the same problem: at most one is chosen.
    ``requires`` names other candidates' keys that must be chosen with this one. ``department``
    and ``quarter`` are what the planner's filters match (exactly; None matches no filter).

        >>> BudgetItem("ram-hr-07", Decimal("180.00"), Decimal("412.50"), group="slow-hr-07")
        ... # doctest: +ELLIPSIS
        BudgetItem(key='ram-hr-07', cost=Decimal('180.00'), ..., group='slow-hr-07', requires=())
    """

    key: str
    cost: Decimal
    annual_benefit: Decimal
    department: str | None = None
    quarter: str | None = None
    group: str | None = None
    requires: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.cost.is_finite() or self.cost < 0:
            raise ValueError(
                f"{self.key}: cost must be a finite amount of 0 or more, not {self.cost}"
            )
        if not self.annual_benefit.is_finite():
            raise ValueError(
                f"{self.key}: annual_benefit must be finite, not {self.annual_benefit}"
            )


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A candidate not in the plan, with the plain reason (see the module docstring) and its
    ``code`` for machines (JSON, CSV)."""

    key: str
    reason: str
    code: LeftOutCode


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """What a budget buys: ``chosen`` (largest benefit first, then by key), every other
    candidate in ``left_out`` (in the same order) with its reason, the totals in Decimal, and
    the filters asked for."""

    chosen: tuple[BudgetItem, ...]
    left_out: tuple[LeftOut, ...]
    spent: Decimal
    annual_benefit: Decimal
    budget: Decimal
    method: Method
    department: str | None = None
    quarter: str | None = None

    @property
    def left(self) -> Decimal:
        """The part of the budget not spent."""
        return self.budget - self.spent


def plan_budget(
    items: Iterable[BudgetItem],
    amount: Decimal,
    *,
    department: str | None = None,
    quarter: str | None = None,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> BudgetPlan:
    """The set of ``items`` with the largest total annual benefit costing at most ``amount``.

    Only items matching ``department`` and ``quarter`` (when given) are considered; at most one
    item per group; an item only with everything it requires. ``time_limit`` bounds HiGHS's
    solve, in seconds; a plan stopped by it has ``method="milp-time-limit"`` and may depend on
    the machine's speed.

    Raises ValueError for a negative or non-finite amount, duplicate keys, or a requirement
    that is not among the candidates.
    """
    problem = _Problem.of(items, amount, department, quarter)
    chosen, method = _optimise(problem, time_limit)
    return problem.plan(chosen, method)


def greedy_plan(
    items: Iterable[BudgetItem],
    amount: Decimal,
    *,
    department: str | None = None,
    quarter: str | None = None,
) -> BudgetPlan:
    """The spreadsheet's plan, for comparison: items with a benefit by benefit / cost, highest
    first (free ones first, ties by key), each taken if it fits in what is left, its group has
    nothing yet and its requirements are in; the list is walked again until nothing more fits.

    Same filters, reasons and errors as :func:`plan_budget`; not optimal.
    """
    problem = _Problem.of(items, amount, department, quarter)
    return problem.plan(problem.fill(set()), "greedy")


@dataclass(frozen=True, slots=True)
class _Problem:
    """Candidates sorted by key, which of them the filters let in, and the amount."""

    items: tuple[BudgetItem, ...]
    index: Mapping[str, int]
    eligible: tuple[bool, ...]
    amount: Decimal
    department: str | None
    quarter: str | None

    @classmethod
    def of(
        cls,
        items: Iterable[BudgetItem],
        amount: Decimal,
        department: str | None,
        quarter: str | None,
    ) -> _Problem:
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"the amount must be a finite amount of 0 or more, not {amount}")
        ordered = tuple(sorted(items, key=lambda item: item.key))
        index = {item.key: i for i, item in enumerate(ordered)}
        if len(index) < len(ordered):
            twice = sorted({a.key for a, b in pairwise(ordered) if a.key == b.key})
            raise ValueError(f"candidate keys must be unique: {', '.join(twice)} appear twice")
        for item in ordered:
            unknown = [key for key in item.requires if key not in index]
            if unknown:
                raise ValueError(
                    f"{item.key} requires {', '.join(unknown)}, which is not among the candidates"
                )
        eligible = tuple(
            (department is None or item.department == department)
            and (quarter is None or item.quarter == quarter)
            for item in ordered
        )
        return cls(ordered, index, eligible, amount, department, quarter)

    def cost(self, chosen: Iterable[int]) -> Decimal:
        return sum((self.items[i].cost for i in chosen), Decimal(0))

    def holds(self, chosen: set[int]) -> bool:
        """Whether ``chosen`` is a plan: eligible, within the amount (in Decimal), one per
        group, requirements in."""
        groups = [self.items[i].group for i in chosen if self.items[i].group is not None]
        return (
            all(self.eligible[i] for i in chosen)
            and self.cost(chosen) <= self.amount
            and len(groups) == len(set(groups))
            and all(self.index[key] in chosen for i in chosen for key in self.items[i].requires)
        )

    def ratio_order(self) -> list[int]:
        """Eligible items with a benefit, by benefit / cost descending (free first), by key."""

        def rank(i: int) -> tuple[int, Decimal, str]:
            item = self.items[i]
            if item.cost == 0:
                return (0, -item.annual_benefit, item.key)
            return (1, -(item.annual_benefit / item.cost), item.key)

        useful = [
            i for i, item in enumerate(self.items) if self.eligible[i] and item.annual_benefit > 0
        ]
        return sorted(useful, key=rank)

    def fill(self, chosen: set[int]) -> set[int]:
        """``chosen`` topped up in ratio order with every item that fits and conflicts with
        nothing, walking the list until nothing more is taken."""
        chosen = set(chosen)
        left = self.amount - self.cost(chosen)
        taken_groups = {self.items[i].group for i in chosen} - {None}
        order = self.ratio_order()
        added = True
        while added:
            added = False
            for i in order:
                item = self.items[i]
                if (
                    i not in chosen
                    and item.cost <= left
                    and (item.group is None or item.group not in taken_groups)
                    and all(self.index[key] in chosen for key in item.requires)
                ):
                    chosen.add(i)
                    left -= item.cost
                    taken_groups.add(item.group)
                    added = True
        return chosen

    def plan(self, chosen: set[int], method: Method) -> BudgetPlan:
        spent = self.cost(chosen)
        left = self.amount - spent
        by_group = {self.items[i].group: self.items[i].key for i in chosen}
        keys = {self.items[i].key for i in chosen}
        left_out = [
            LeftOut(item.key, *self._reason(i, keys, by_group, left))
            for i, item in enumerate(self.items)
            if i not in chosen
        ]
        order = {item.key: (-item.annual_benefit, item.key) for item in self.items}
        return BudgetPlan(
            chosen=tuple(sorted((self.items[i] for i in chosen), key=lambda item: order[item.key])),
            left_out=tuple(sorted(left_out, key=lambda out: order[out.key])),
            spent=spent,
            annual_benefit=sum((self.items[i].annual_benefit for i in chosen), Decimal(0)),
            budget=self.amount,
            method=method,
            department=self.department,
            quarter=self.quarter,
        )

    def _reason(
        self, i: int, chosen: set[str], by_group: Mapping[str | None, str], left: Decimal
    ) -> tuple[str, LeftOutCode]:
        item = self.items[i]
        if self.department is not None and item.department != self.department:
            return "outside the department asked for", "outside-department"
        if self.quarter is not None and item.quarter != self.quarter:
            return "outside the quarter asked for", "outside-quarter"
        if item.annual_benefit <= 0:
            return "no benefit", "no-benefit"
        if item.group is not None and item.group in by_group:
            return f"an alternative was chosen: {by_group[item.group]}", "alternative-chosen"
        missing = [key for key in item.requires if key not in chosen]
        if missing:
            return f"needs {missing[0]}, which is not in the plan", "needs"
        # An optimal (or topped-up) plan leaves nothing else out: this item does not fit.
        return f"over budget (needs {_money(item.cost)}, {_money(left)} left)", "over-budget"


def _money(value: Decimal) -> str:
    """``1,200.00``; sub-cent digits are kept rather than rounded away (``0.0000001``)."""
    return f"{value:,.2f}" if value == value.quantize(_CENT) else f"{value:,f}"


def _optimise(problem: _Problem, time_limit: float | None) -> tuple[set[int], Method]:
    """The optimal plan's indices, checked in Decimal; repaired or replaced if the check fails."""
    variables = _worth_a_variable(problem)
    if not variables:
        return set(), "milp"
    model = _Model.of(problem, variables)
    capacity = model.capacity
    for attempt in range(_REPAIRS):
        picked, optimal = _solve(model, capacity, time_limit)
        chosen = _without_idle(problem, {variables[j] for j in picked})
        if problem.holds(chosen):
            if not optimal:
                return problem.fill(chosen), "milp-time-limit"
            settled = problem.fill(_settle_ties(problem, chosen))
            return settled, "milp" if attempt == 0 else "milp-repaired"
        overshoot = int(sum(model.costs[j] for j in picked)) - capacity
        capacity -= max(overshoot, 1)
        if capacity < 0:
            break
    return problem.fill(set()), "greedy-fallback"


def _without_idle(problem: _Problem, chosen: set[int]) -> set[int]:
    """``chosen`` less items without a benefit that no chosen item requires (free ones the
    solver had no reason to leave out)."""
    chosen = set(chosen)
    while True:
        required = {problem.index[key] for i in chosen for key in problem.items[i].requires}
        idle = {i for i in chosen if problem.items[i].annual_benefit <= 0 and i not in required}
        if not idle:
            return chosen
        chosen -= idle


def _worth_a_variable(problem: _Problem) -> list[int]:
    """Indices that can be in some plan and might add to it: eligible, affordable alone, with
    requirements that are too; and either a benefit or required (in turn) by an item with one."""
    items = problem.items
    possible = {
        i for i, item in enumerate(items) if problem.eligible[i] and item.cost <= problem.amount
    }
    dropped = True
    while dropped:
        blocked = {
            i
            for i in possible
            if any(problem.index[key] not in possible for key in items[i].requires)
        }
        possible -= blocked
        dropped = bool(blocked)
    useful = {i for i in possible if items[i].annual_benefit > 0}
    todo = list(useful)
    while todo:
        for key in items[todo.pop()].requires:
            needed = problem.index[key]
            if needed not in useful:
                useful.add(needed)
                todo.append(needed)
    return sorted(useful)


@dataclass(frozen=True, slots=True)
class _Model:
    """The integer programme over ``variables`` (indices into the problem's items)."""

    costs: npt.NDArray[np.float64]
    benefits: npt.NDArray[np.float64]
    capacity: int
    rows: sparse.csr_array
    upper: npt.NDArray[np.float64]

    @classmethod
    def of(cls, problem: _Problem, variables: Sequence[int]) -> _Model:
        items = [problem.items[i] for i in variables]
        cost_scale = _places([item.cost for item in items] + [problem.amount])
        while cost_scale > 0 and problem.amount.scaleb(cost_scale) > _INTEGER_LIMIT:
            cost_scale -= 1
        benefit_scale = min(_BENEFIT_PLACES, _places([item.annual_benefit for item in items]))
        total = sum((abs(item.annual_benefit) for item in items), Decimal(0))
        while benefit_scale > 0 and total.scaleb(benefit_scale) > _INTEGER_LIMIT:
            benefit_scale -= 1
        costs = [_integer(item.cost, cost_scale, ROUND_CEILING) for item in items]
        benefits = [_integer(item.annual_benefit, benefit_scale, ROUND_HALF_EVEN) for item in items]
        capacity = _integer(problem.amount, cost_scale, ROUND_FLOOR)

        column = {i: j for j, i in enumerate(variables)}
        members: defaultdict[str, list[int]] = defaultdict(list)
        for j, item in enumerate(items):
            if item.group is not None:
                members[item.group].append(j)
        # Row 0 is the budget; then one row per group (at most one), one per requirement
        # (x_item - x_required <= 0).
        entries: list[tuple[int, int, float]] = [(0, j, float(c)) for j, c in enumerate(costs)]
        upper: list[float] = [float(capacity)]
        for group in sorted(members):
            if len(members[group]) > 1:
                row = len(upper)
                entries.extend((row, j, 1.0) for j in members[group])
                upper.append(1.0)
        for j, item in enumerate(items):
            for key in item.requires:
                row = len(upper)
                entries.extend([(row, j, 1.0), (row, column[problem.index[key]], -1.0)])
                upper.append(0.0)
        r, c, v = zip(*entries, strict=True)
        rows = sparse.csr_array((v, (r, c)), shape=(len(upper), len(items)))
        return cls(
            costs=np.array(costs, dtype=np.float64),
            benefits=np.array(benefits, dtype=np.float64),
            capacity=capacity,
            rows=rows,
            upper=np.array(upper, dtype=np.float64),
        )


def _places(values: Iterable[Decimal]) -> int:
    """Decimal places of the finest value (trailing zeros ignored)."""
    exponents = [int(value.normalize().as_tuple().exponent) for value in values if value != 0]
    return max([0, *(-e for e in exponents)])


def _integer(value: Decimal, places: int, rounding: str) -> int:
    return int(value.scaleb(places).to_integral_value(rounding=rounding))


def _solve(model: _Model, capacity: int, time_limit: float | None) -> tuple[list[int], bool]:
    """The columns HiGHS chose for the best benefit within ``capacity``, and whether it proved
    them optimal (rather than stopping at the time limit).

    HiGHS 1.12 (scipy 1.17) sometimes writes ``HighsMipSolverData::
    transformNewIntegerFeasibleSolution tmpSolver.run();`` to the process's standard output, a
    leftover debug line (ERGO-Code/HiGHS#2783): a command printing JSON or CSV to stdout should
    plan with file descriptor 1 pointed elsewhere.
    """
    upper = model.upper.copy()
    upper[0] = capacity
    n = len(model.costs)
    options: dict[str, float] = {"mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = time_limit
    result = optimize.milp(
        -model.benefits,
        integrality=np.ones(n),
        bounds=optimize.Bounds(np.zeros(n), np.ones(n)),
        constraints=[optimize.LinearConstraint(model.rows, -np.inf, upper)],
        options=options,
    )
    if result.x is None:
        return [], False
    return np.flatnonzero(np.round(result.x) > 0.5).tolist(), result.status == 0


def _settle_ties(problem: _Problem, chosen: set[int]) -> set[int]:
    """``chosen`` with single swaps, while the plan stays whole, of a chosen item for an
    unchosen one with the same benefit that costs less, or the same and has a smaller key."""
    items = problem.items
    same_benefit: defaultdict[Decimal, list[int]] = defaultdict(list)
    for i in sorted(range(len(items)), key=lambda i: (items[i].cost, items[i].key)):
        if problem.eligible[i]:
            same_benefit[items[i].annual_benefit].append(i)
    dependents: defaultdict[int, set[int]] = defaultdict(set)
    for i, item in enumerate(items):
        for key in item.requires:
            dependents[problem.index[key]].add(i)
    chosen = set(chosen)
    taken = {items[i].group: i for i in chosen if items[i].group is not None}

    def swappable(out: int, into: int) -> bool:
        group = items[into].group
        return (
            (group is None or taken.get(group, out) == out)
            and all(problem.index[key] in chosen - {out} for key in items[into].requires)
            and not dependents[out] & chosen
        )

    for bucket in same_benefit.values():
        if len(bucket) < 2 or not chosen & set(bucket):
            continue
        swapped = True
        while swapped:
            swapped = False
            # The bucket is in (cost, key) order: look for a later chosen item for an earlier
            # unchosen one.
            for rank, into in enumerate(bucket):
                if into in chosen:
                    continue
                later = (out for out in reversed(bucket[rank + 1 :]) if out in chosen)
                out = next((out for out in later if swappable(out, into)), None)
                if out is not None:
                    chosen = (chosen - {out}) | {into}
                    taken.pop(items[out].group, None)
                    if items[into].group is not None:
                        taken[items[into].group] = into
                    swapped = True
                    break
    return chosen
