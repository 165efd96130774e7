"""``budget plan``: which recommendations an amount should buy.

Over the recommendations still to do (proposed and approved; with ``--quarter``, also the
deferred ones back by the quarter's end: advisor.budget_planning), the set that saves the
most a year (risk-adjusted) for at most the amount, by an exact optimiser, at most one of
each group of alternatives; what is left out and why; and the ratio ranking a spreadsheet
would do, beside it. Exit status: 0 done; 1 when the database cannot be used; 2 for a bad
command line (an amount that is not one, a quarter that has ended).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TextIO

from advisor.cli.common import USAGE, add_group, fail, open_stores
from advisor.cli.ids import short_ids
from advisor.cli.output import FORMATS, Column, write_csv, write_json, write_table
from advisor.cli.recommendations import cents, recommendation_id
from advisor.config import AdvisorConfig
from advisor.quarters import Quarter
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.budget_planning import StoredPlan
    from advisor.cli.common import Commands

MAX_AMOUNT = Decimal(10) ** 15

DESCRIPTION = """\
Plan a budget: of the recommendations still to do (proposed and approved), the set that saves
the most a year for at most AMOUNT (in the recommendations' currency), found by an exact
optimiser (scipy's MILP), taking at most one of each group of alternatives (upgrade or roll
back; RAM and an SSD, or a new machine). What each saves is its risk-adjusted benefit a year
less its recurring cost, what it costs its one-off cost. Every recommendation left out is
listed with the reason; the ratio ranking (best saving per cost first, take what fits) is
shown beside the plan for comparison. --department plans the recommendations of that
department alone; --quarter the ones that can be done in it (deferred ones too, when their
deferral ends before the quarter does)."""

EXAMPLES = """\
  fleetsight-advisor budget plan --amount 20000
  fleetsight-advisor budget plan --amount 5000 --department finance --quarter 2026Q3
  fleetsight-advisor budget plan --amount 20000 --format json
"""


def amount(text: str) -> Decimal:
    """An amount of money, 0 or more: ``20000`` or ``20000.50``."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"expected an amount like 20000 or 20000.50, got {text!r}"
        ) from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise argparse.ArgumentTypeError(f"must be an amount from 0 to 10^15, got {text!r}")
    return value


def quarter(text: str) -> Quarter:
    """A quarter, ``2026Q3``."""
    try:
        return Quarter.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(commands: Commands) -> None:
    """Register ``budget``."""
    group = add_group(
        commands,
        "budget",
        help="plan a budget: the recommendations that save the most for an amount",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    plan = actions.add_parser("plan", help="the best set of recommendations for an amount")
    plan.add_argument(
        "--amount", type=amount, required=True, metavar="AMOUNT", help="what may be spent"
    )
    plan.add_argument("--department", metavar="D", help="only the recommendations of D")
    plan.add_argument(
        "--quarter",
        type=quarter,
        metavar="YYYYQn",
        help="only what can be done in that quarter (not one that has ended)",
    )
    plan.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people; json (the plan, as the API answers) or csv (one line per "
        "candidate) for programs (default: table)",
    )
    group.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``budget plan``."""
    from advisor.budget_planning import DEFERRED, PLANNED_STATES, plan_recommendations
    from advisor.store.recommendations import RecommendationFilter

    if args.department is not None and not args.department.strip():
        fail("--department must not be empty", USAGE)
    stores = open_stores(config)
    try:
        states = (*PLANNED_STATES, DEFERRED) if args.quarter is not None else PLANNED_STATES
        candidates = [
            rec
            for state in states
            for rec in stores.recommendations.list(RecommendationFilter(state=state))
        ]
    finally:
        stores.close()
    try:
        with solver_output_discarded():
            planned = plan_recommendations(
                candidates,
                args.amount,
                now=time.time(),
                department=args.department,
                quarter=args.quarter,
            )
    except ValueError as exc:
        fail(str(exc), USAGE)
    write_plan(planned, args.format, sys.stdout)
    return 0


@contextlib.contextmanager
def solver_output_discarded() -> Iterator[None]:
    """File descriptor 1 pointed at /dev/null for the block: HiGHS (scipy's MILP) writes a
    stray debug line to the process's standard output during some solves (from about 200
    candidates: advisor.recommend.budget._solve), which would corrupt JSON or CSV. What
    Python wrote before is flushed first; what C wrote in the block is flushed into
    /dev/null before file descriptor 1 is restored."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all: nothing to keep clean
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _flush_c_stdio() -> None:
    """fflush(NULL): C's own buffers, so nothing written in the block comes out after it."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


# --- output ---------------------------------------------------------------------------------


def _columns(planned: StoredPlan, *, reason: bool) -> list[Column[str]]:
    recs = planned.recommendations
    currency = planned.currency or ""
    short = short_ids(recommendation_id(key) for key in recs)

    def money(name: str) -> Column[str]:
        def value(key: str) -> Decimal | None:
            item = planned.items.get(key)
            return None if item is None else getattr(item, name)

        return Column(
            name,
            value,
            lambda key: cents(value(key), currency),
            header={"cost": "COST", "annual_benefit": "SAVES/YEAR"}[name],
            right=True,
        )

    columns: list[Column[str]] = [
        Column("id", lambda key: short[recommendation_id(key)]),
        Column("kind", lambda key: recs[key].kind),
        Column("app", lambda key: recs[key].app),
        Column("target", lambda key: recs[key].target),
        Column(
            "departments",
            lambda key: list(recs[key].departments),
            lambda key: ", ".join(recs[key].departments) or "-",
        ),
        Column("state", lambda key: recs[key].state),
        money("cost"),
        money("annual_benefit"),
    ]
    if reason:
        reasons = {out.key: out.reason for out in planned.left_out}
        columns.append(Column("why", lambda key: reasons.get(key, "")))
    return columns


def _csv_columns(planned: StoredPlan) -> list[Column[str]]:
    recs = planned.recommendations
    chosen = {item.key for item in planned.plan.chosen}
    greedy = planned.greedy_keys
    left = {out.key: out for out in planned.left_out}

    def item_value(name: str) -> Column[str]:
        def value(key: str) -> Any:
            item = planned.items.get(key)
            return None if item is None else getattr(item, name)

        return Column(name, value)

    return [
        Column("id", recommendation_id),
        Column("key", lambda key: key),
        Column("kind", lambda key: recs[key].kind),
        Column("app", lambda key: recs[key].app),
        Column("target", lambda key: recs[key].target),
        Column("title", lambda key: recs[key].title),
        Column("departments", lambda key: list(recs[key].departments)),
        Column("state", lambda key: recs[key].state),
        item_value("group"),
        Column("currency", lambda key: recs[key].currency),
        item_value("cost"),
        item_value("annual_benefit"),
        Column("chosen", lambda key: key in chosen),
        Column("greedy_chosen", lambda key: key in greedy),
        Column("reason", lambda key: left[key].reason if key in left else None),
        Column("reason_code", lambda key: left[key].code if key in left else None),
    ]


def write_plan(planned: StoredPlan, fmt: str, out: TextIO) -> None:
    """``planned`` as text for people, JSON (:meth:`StoredPlan.to_dict`, each candidate with
    its id) or CSV (one line per candidate: chosen or not, by the plan and by the greedy
    ranking, and why not)."""
    order = [item.key for item in planned.plan.chosen] + [out.key for out in planned.left_out]
    if fmt == "json":
        document = planned.to_dict()
        for row in (*document["plan"]["chosen"], *document["plan"]["left_out"]):
            row["id"] = recommendation_id(row["key"])
        write_json(out, document)
    elif fmt == "csv":
        write_csv(out, order, _csv_columns(planned))
    else:
        write_plan_text(planned, out)


def write_plan_text(planned: StoredPlan, out: TextIO) -> None:
    """The plan for people: the budget, the chosen set and its totals, what is left out and
    why, and the greedy ranking's totals beside it."""
    plan, greedy = planned.plan, planned.greedy
    currency = planned.currency or ""
    scope = "".join(
        part
        for part in (
            f" for {plan.department}" if plan.department else "",
            f" in {planned.quarter}" if planned.quarter else "",
        )
    )
    states = _listed(planned.states)
    out.write(
        printable(
            f"budget {cents(plan.budget, currency).strip()}{scope}: "
            f"{len(planned.recommendations)} {states} recommendations"
        )
        + "\n"
    )
    if not planned.recommendations:
        out.write("nothing to plan (`fleetsight-advisor recommendations list` shows them all)\n")
        return
    out.write(
        f"plan ({_method(plan.method)}): {len(plan.chosen)} chosen, spending "
        f"{cents(plan.spent, currency)} ({cents(plan.left, currency)} left), saving "
        f"{cents(plan.annual_benefit, currency)} a year\n"
    )
    if plan.chosen:
        _indented(out, [item.key for item in plan.chosen], _columns(planned, reason=False))
    out.write(f"left out: {len(planned.left_out)}\n")
    if planned.left_out:
        _indented(out, [o.key for o in planned.left_out], _columns(planned, reason=True))
    gain = plan.annual_benefit - greedy.annual_benefit
    comparison = (
        f"the plan saves {cents(gain, currency)} a year more"
        + (f" ({gain / greedy.annual_benefit:.0%})" if greedy.annual_benefit > 0 else "")
        if gain > 0
        else "the same as the plan"
    )
    out.write(
        f"greedy ranking (best saving per cost first, for comparison): {len(greedy.chosen)} "
        f"chosen, spending {cents(greedy.spent, currency)}, saving "
        f"{cents(greedy.annual_benefit, currency)} a year: {comparison}\n"
    )


def _indented(out: TextIO, keys: Sequence[str], columns: Sequence[Column[str]]) -> None:
    import io

    table = io.StringIO()
    write_table(table, keys, columns)
    for line in table.getvalue().splitlines():
        out.write(f"  {line}\n")


def _listed(states: Sequence[str]) -> str:
    words = [state.replace("_", " ") for state in states]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _method(method: str) -> str:
    return {
        "milp": "optimal",
        "milp-time-limit": "the best found in the time limit, not proven optimal",
        "milp-repaired": "optimal for a slightly smaller budget",
        "greedy-fallback": "the ratio ranking: the optimiser's answers failed the exact check",
    }.get(method, method)
