"""``recommendations list|show|approve|reject|defer|departments``: review what the advisor
recommends.

The analysis runs compute the recommendations and store them (``recommend``); here a person
reads them, ranked, with what each saves and costs, and decides: approve, reject (with a
reason) or defer (until a date). Every decision is written to the audit log with the person's
name (``--actor``, else ``$USER``), and ``show`` prints that history. Exit status: 0 done; 1
when there is no such recommendation, its state does not allow the step (the message says
its state and what would) or the database cannot be used; 2 for a bad command line (an
ambiguous id prefix, a date in the past, an empty reason).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO, cast

from advisor.cli.args import positive_int, start_of_day_or_instant
from advisor.cli.common import USAGE, add_group, fail, open_stores
from advisor.cli.ids import finding_id, short_ids
from advisor.cli.output import (
    Column,
    add_format_option,
    time_column,
    write_json,
    write_rows,
    write_table,
)
from advisor.cli.units import iso_utc, when
from advisor.config import AdvisorConfig
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.recommendation_figures import Figures, HostDetail
    from advisor.store.audit import AuditEntry
    from advisor.store.open import Stores
    from advisor.store.recommendations import (
        DepartmentTotal,
        Recommendations,
        RecommendationState,
        StoredRecommendation,
    )

    Ranked = tuple[int, StoredRecommendation]
    """A row of ``list``: its rank and the recommendation."""

# The store's names (advisor.store.recommendations), repeated here so that building the
# parser imports no store; tests/advisor/test_recommendations_cli.py holds them equal.
STATES = (
    "proposed",
    "approved",
    "rejected",
    "deferred",
    "rolled_out",
    "verified",
    "reopened",
    "obsolete",
)
KINDS = ("upgrade", "rollback", "ram", "ssd", "ram_ssd", "replace", "end_of_life")
CATEGORIES = ("regression", "right_sizing", "lifecycle")
COUNTED_STATES = ("proposed", "approved")
CURRENT = "current"
"""``list``'s default: every state but obsolete (what no run proposes any more)."""

READ_HISTORY = 100
"""Audit entries ``show`` reads unless ``--history`` says (the newest)."""
SHOWN_HOSTS = 12
"""Hostnames ``show`` prints per department (``--format json`` has them all)."""

DESCRIPTION = """\
The analysis' recommendations: what to change (upgrade or roll back an application, add RAM,
an SSD, replace a machine), for which hosts, what it saves (seconds a launch with an interval,
money a year at the departments' wages), what it costs (one-off and a year), the net benefit
a year and the payback, ranked by the risk-adjusted net benefit. A person approves, rejects
(a reason is required) or defers them (until a date, when the analysis proposes them again);
each decision goes to the audit log, under --actor NAME or else $USER. `show` prints one in
full: the explanation, the evidence, the hosts by department, the cost, the risk, the pilot
plan when the evidence is weak, and its history. An ID is what `list` prints (any unique
prefix of it) or the recommendation's key."""

EXAMPLES = """\
  fleetsight-advisor recommendations list
  fleetsight-advisor recommendations list --state proposed --department finance --format csv
  fleetsight-advisor recommendations show 3fa9c2e1
  fleetsight-advisor recommendations approve 3fa9c2e1 --reason "budget 2026Q3"
  fleetsight-advisor recommendations reject 77ab10c2 --reason "the machines retire in March"
  fleetsight-advisor recommendations defer 5d0e41aa --until 2026-09-01 --actor alice
  fleetsight-advisor recommendations departments --format json
"""


def recommendation_id(key: str) -> str:
    """A short, stable id for a recommendation, whose key is long and starts like its
    siblings' (the same hash as a finding's id).

    >>> recommendation_id("upgrade|app0|3.0|from=2.0")
    'a19e73feb4ce'
    """
    return finding_id(key)


def add_parser(commands: Commands) -> None:
    """Register ``recommendations``."""
    group = add_group(
        commands,
        "recommendations",
        help="review the recommendations: list, show, approve, reject, defer, departments",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="the recommendations, ranked (default: all but obsolete ones)",
        description="Ranked by the risk-adjusted net benefit a year, highest first; RANK is "
        "the place in this list.",
    )
    listing.add_argument(
        "--state",
        choices=(*STATES, CURRENT, "all"),
        default=CURRENT,
        help="only this state (default: current, every state but obsolete; all: every one)",
    )
    listing.add_argument("--category", choices=CATEGORIES, help="only this category")
    listing.add_argument("--kind", choices=KINDS, help="only this kind")
    listing.add_argument("--department", metavar="D", help="only those concerning department D")
    listing.add_argument("--app", metavar="APP", help="only those for this application")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="only the first N")
    add_format_option(listing)

    show = actions.add_parser("show", help="one recommendation in full, with its history")
    _add_id(show)
    show.add_argument(
        "--history",
        type=positive_int,
        default=READ_HISTORY,
        metavar="N",
        help=f"read the newest N audit entries (default: {READ_HISTORY})",
    )
    show.add_argument("--format", choices=("text", "json"), default="text", help="(default: text)")

    approve = actions.add_parser("approve", help="approve a recommendation")
    _add_id(approve)
    approve.add_argument("--reason", metavar="TEXT", help="why (optional)")
    _add_actor(approve)
    reject = actions.add_parser("reject", help="reject a recommendation (a reason is required)")
    _add_id(reject)
    reject.add_argument("--reason", metavar="TEXT", required=True, help="why (required)")
    _add_actor(reject)
    defer = actions.add_parser(
        "defer", help="defer a recommendation until a date (then it is proposed again)"
    )
    _add_id(defer)
    defer.add_argument(
        "--until",
        type=start_of_day_or_instant,
        required=True,
        metavar="DATE",
        help="YYYY-MM-DD (its midnight UTC) or YYYY-MM-DDTHH:MM (UTC unless it says); "
        "in the future",
    )
    defer.add_argument("--reason", metavar="TEXT", help="why (optional)")
    _add_actor(defer)

    departments = actions.add_parser(
        "departments",
        help="per department: how many recommendations and their net benefit a year",
        description="A recommendation of several departments counts, whole, in each: the "
        "departments' totals do not add up to the fleet's.",
    )
    departments.add_argument(
        "--state",
        action="append",
        choices=STATES,
        help="count this state (repeatable; default: proposed and approved)",
    )
    add_format_option(departments)
    group.set_defaults(run=run)


def _add_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recommendation",
        metavar="ID",
        help="the ID `recommendations list` shows (a unique prefix) or the key",
    )


def _add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor",
        metavar="NAME",
        help="who decides, for the audit log (default: $USER, the login name)",
    )


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """One ``recommendations`` action."""
    actor = _actor(args) if args.action in ("approve", "reject", "defer") else None
    stores = open_stores(config)
    try:
        if args.action == "list":
            _list(stores, args)
        elif args.action == "show":
            found = find_one(stores.recommendations, args.recommendation)
            _show(stores, found, args)
        elif args.action == "departments":
            states = tuple(dict.fromkeys(args.state or COUNTED_STATES))
            totals = stores.recommendations.department_totals(
                states=cast("Sequence[RecommendationState]", states)
            )
            write_departments(totals, args.format, sys.stdout, states)
        else:
            assert actor is not None
            _decide(stores, args, actor)
        return 0
    finally:
        stores.close()


def _actor(args: argparse.Namespace) -> str:
    actor: str | None = args.actor if args.actor is not None else os.environ.get("USER")
    if actor is None or not actor.strip():
        fail("who decides? pass --actor NAME (USER is not set)", USAGE)
    return actor


def _list(stores: Stores, args: argparse.Namespace) -> None:
    from advisor.store.recommendations import CURRENT_STATES, RecommendationFilter

    where = RecommendationFilter(
        state=None if args.state in (CURRENT, "all") else args.state,
        states=CURRENT_STATES if args.state == CURRENT else None,
        category=args.category,
        kind=args.kind,
        department=args.department,
        app=args.app,
    )
    found = stores.recommendations.list(where, limit=args.limit)
    write_recommendations(found, args.format, sys.stdout)


def find_one(recommendations: Recommendations, given: str) -> StoredRecommendation:
    """The recommendation whose key is ``given``, or whose id or key starts with it (only one
    may)."""
    found = recommendations.get(given)
    if found is not None:
        return found
    every = recommendations.list()
    matches = [
        rec
        for rec in every
        if given and (recommendation_id(rec.key).startswith(given) or rec.key.startswith(given))
    ]
    if not matches:
        fail(f"no recommendation {given!r} (`recommendations list --state all` shows every id)")
    if len(matches) > 1:
        ids = ", ".join(sorted(recommendation_id(rec.key) for rec in matches)[:5])
        fail(
            f"recommendation id {given!r} is ambiguous: it starts {len(matches)} ({ids}); "
            "type more of it",
            USAGE,
        )
    return matches[0]


def _decide(stores: Stores, args: argparse.Namespace, actor: str) -> None:
    from advisor.errors import InvalidRecommendationInput, TransitionRefused

    now = time.time()
    until = getattr(args, "until", None)
    if until is not None and until <= now:
        fail(f"--until {when(until)} is not in the future", USAGE)
    found = find_one(stores.recommendations, args.recommendation)
    verdict = args.action
    try:
        after = stores.recommendations.decide(
            found.key, verdict=verdict, actor=actor, reason=args.reason, until=until, now=now
        )
    except TransitionRefused as refused:
        fail(str(refused))
    except InvalidRecommendationInput as bad:
        fail(str(bad), USAGE)
    line = (
        f"{recommendation_id(after.key)} {after.key}: {_state_words(after.state)} "
        f"(was {_state_words(found.state)}) by {after.decided_by}"
    )
    if after.deferred_until is not None:
        line += f" until {when(after.deferred_until)}"
    print(printable(line))


def _state_words(state: str) -> str:
    return state.replace("_", " ")


# --- list ---------------------------------------------------------------------------------


def recommendation_columns(
    recs: Sequence[StoredRecommendation],
) -> list[Column[tuple[int, StoredRecommendation]]]:
    """The columns of ``list``: ranked, with what each saves and costs; JSON and CSV have
    every figure exact, times ISO 8601 UTC."""
    from advisor.recommendation_figures import figures_of

    figures = {rec.key: figures_of(rec) for rec in recs}
    short = short_ids(recommendation_id(rec.key) for rec in recs)

    def fig(row: Ranked) -> Figures:
        return figures[row[1].key]

    def span(name: str, part: str) -> Callable[[Ranked], float | None]:
        def get(row: Ranked) -> float | None:
            value = getattr(fig(row), name)
            return None if value is None else float(getattr(value, part))

        return get

    def money(part: str) -> Callable[[Ranked], Decimal | None]:
        def get(row: Ranked) -> Decimal | None:
            value = fig(row).money_per_year
            return None if value is None else getattr(value, part)

        return get

    def attr(name: str) -> Callable[[Ranked], Any]:
        return lambda row: getattr(fig(row), name)

    def stored(name: str) -> Callable[[Ranked], Any]:
        return lambda row: getattr(row[1], name)

    def exact_time(name: str) -> Column[Ranked]:
        return time_column(name, lambda row: getattr(row[1], name), table=False)

    def currency(row: Ranked) -> str:
        return row[1].currency

    return [
        Column("rank", lambda row: row[0], right=True),
        Column(
            "id",
            lambda row: recommendation_id(row[1].key),
            lambda row: short[recommendation_id(row[1].key)],
        ),
        Column("key", stored("key"), table=False),
        Column("kind", stored("kind")),
        Column("category", stored("category"), table=False),
        Column("app", stored("app")),
        Column("target", stored("target")),
        Column("title", stored("title"), table=False),
        Column(
            "departments",
            lambda row: list(row[1].departments),
            lambda row: ", ".join(row[1].departments) or "-",
        ),
        Column("hosts", lambda row: len(row[1].hosts), right=True),
        Column(
            "seconds_per_launch",
            span("seconds_per_launch", "estimate"),
            lambda row: seconds_interval(fig(row)),
            header="SAVES/LAUNCH",
            right=True,
        ),
        Column("seconds_per_launch_low", span("seconds_per_launch", "low"), table=False),
        Column("seconds_per_launch_high", span("seconds_per_launch", "high"), table=False),
        Column("launches_per_day", attr("launches_per_day"), table=False),
        Column("hours_per_month", span("hours_per_month", "estimate"), table=False),
        Column(
            "money_per_year",
            money("estimate"),
            lambda row: money_text(money("estimate")(row), currency(row)),
            header="MONEY/YEAR",
            right=True,
        ),
        Column("money_per_year_low", money("low"), table=False),
        Column("money_per_year_high", money("high"), table=False),
        Column("currency", currency, table=False),
        Column(
            "cost_one_off",
            attr("one_off"),
            lambda row: money_text(fig(row).one_off, currency(row)),
            header="COST",
            right=True,
        ),
        Column("cost_recurring_per_year", attr("recurring_per_year"), table=False),
        Column("cost_complete", attr("cost_complete"), table=False),
        Column("annual_benefit", attr("annual_benefit"), table=False),
        Column(
            "net_benefit_per_year",
            stored("net_benefit_per_year"),
            lambda row: money_text(row[1].net_benefit_per_year, currency(row)),
            header="NET/YEAR",
            right=True,
        ),
        Column(
            "payback_months",
            attr("payback_months"),
            lambda row: months(fig(row).payback_months),
            header="PAYBACK",
            right=True,
        ),
        Column("roi", attr("roi"), table=False),
        Column("risk_adjusted_benefit", attr("risk_adjusted_benefit"), table=False),
        Column("score", stored("score"), table=False),
        Column("state", stored("state")),
        Column("basis", attr("basis"), lambda row: fig(row).basis or "-"),
        Column("pilot", attr("pilot")),
        Column("pilot_hosts", attr("pilot_hosts"), table=False),
        Column("flags", lambda row: list(fig(row).flags), table=False),
        Column("group", attr("group"), table=False),
        Column("state_reason", stored("state_reason"), table=False),
        exact_time("deferred_until"),
        Column("decided_by", stored("decided_by"), table=False),
        exact_time("decided_at"),
        exact_time("created_at"),
        exact_time("updated_at"),
        exact_time("last_proposed_at"),
    ]


def write_recommendations(recs: Sequence[StoredRecommendation], fmt: str, out: TextIO) -> None:
    """``recs`` (ranked) as a table, ``{"recommendations": [...]}`` or CSV."""
    write_rows(
        out,
        fmt,
        list(enumerate(recs, start=1)),
        recommendation_columns(recs),
        name="recommendations",
        empty="no recommendations (`fleetsight-advisor recommend` computes them)",
    )


def seconds_interval(figures: Figures) -> str:
    """Seconds saved a launch with the interval: ``0.41 s [0.37, 0.45]``; ``-`` without
    evidence."""
    span = figures.seconds_per_launch
    if span is None:
        return "-"
    return f"{span.estimate:.2f} s [{span.low:.2f}, {span.high:.2f}]"


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount, whole, with its currency: ``USD 12,346``; ``-`` for None."""
    if amount is None:
        return "-"
    return f"{currency} {amount:,.0f}"


def cents(amount: Decimal | None, currency: str) -> str:
    """An amount to the cent with its currency: ``USD 12,345.67``; ``-`` for None."""
    return "-" if amount is None else f"{currency} {amount:,.2f}"


def months(value: float | None) -> str:
    """A payback period: ``12.3 mo``; ``never`` when the benefit never pays the cost."""
    return "never" if value is None else f"{value:,.1f} mo"


# --- departments ----------------------------------------------------------------------------


_DEPARTMENT_COLUMNS: list[Column[DepartmentTotal]] = [
    Column("department", lambda t: t.department),
    Column("currency", lambda t: t.currency),
    Column("count", lambda t: t.count, right=True),
    Column(
        "net_benefit_per_year",
        lambda t: t.net_benefit_per_year,
        lambda t: f"{t.net_benefit_per_year:,.2f}",
        header="NET/YEAR",
        right=True,
    ),
    Column("unpriced", lambda t: t.unpriced, right=True),
]


def write_departments(
    totals: Sequence[DepartmentTotal], fmt: str, out: TextIO, states: Sequence[str]
) -> None:
    """The department totals; JSON says which states they count."""
    write_rows(
        out,
        fmt,
        totals,
        _DEPARTMENT_COLUMNS,
        name="departments",
        empty=f"no {' or '.join(states)} recommendations",
        extra={"states": list(states)},
    )


# --- show ---------------------------------------------------------------------------------


def decimal_of(value: object) -> Decimal | None:
    """Money as a document writes it (exact text), or None."""
    from advisor.recommendation_figures import decimal_of as read

    return read(value)


def _show(stores: Stores, found: StoredRecommendation, args: argparse.Namespace) -> None:
    from advisor.recommendation_figures import host_details
    from advisor.store.audit import recommendation_target

    hosts = {record.host_id: record for record in stores.hosts.list_hosts()}
    details = host_details(found, hosts)
    entries = stores.audit.entries(target=recommendation_target(found.key), limit=args.history)
    truncated = len(entries) == args.history
    history = list(reversed(entries))
    if args.format == "json":
        write_json(sys.stdout, recommendation_document(found, details, history, truncated))
    else:
        write_recommendation(found, details, history, truncated, sys.stdout)


def recommendation_document(
    found: StoredRecommendation,
    details: Sequence[HostDetail],
    history: Sequence[AuditEntry],
    truncated: bool,
) -> dict[str, Any]:
    """One recommendation as JSON: every stored value (times ISO 8601 UTC), its id, its
    figures as ``list`` reads them, ``host_details`` (id, hostname, department), the
    ``history`` (audit entries oldest first, ``truncated`` when older ones were not read) and
    the engine's whole ``document``."""
    from advisor.recommendation_figures import figures_of

    values = found.to_dict()
    for name in (
        "deferred_until",
        "decided_at",
        "rolled_out_at",
        "verified_at",
        "created_at",
        "updated_at",
        "last_proposed_at",
    ):
        values[name] = iso_utc(getattr(found, name), exact=True)
    figures = figures_of(found)
    document = values.pop("document")
    return {
        "id": recommendation_id(found.key),
        **values,
        "explanation": figures.explanation,
        "figures": figures.to_dict(found.currency),
        "host_details": [d.to_dict() for d in details],
        "history": {
            "entries": [
                {**entry.to_dict(), "at": iso_utc(entry.at, exact=True)} for entry in history
            ],
            "truncated": truncated,
        },
        "document": document,
    }


LABEL = 13
"""Width of ``show``'s labels."""


def write_recommendation(
    found: StoredRecommendation,
    details: Sequence[HostDetail],
    history: Sequence[AuditEntry],
    truncated: bool,
    out: TextIO,
) -> None:
    """One recommendation in full (module docstring), every text escaped."""
    from advisor.recommendation_figures import figures_of

    figures = figures_of(found)
    doc = found.document
    currency = found.currency
    what = f"{found.kind} ({found.category}): {found.app} -> {found.target or '-'}"
    if figures.group:
        what += f"; alternatives: group {figures.group}"
    sections: list[tuple[str, str, list[str]]] = [
        ("id", recommendation_id(found.key), []),
        ("title", found.title, []),
        ("what", what, []),
        ("state", _state_line(found), []),
        ("explanation", figures.explanation or "-", []),
        ("saves", _saves_line(figures), []),
        ("cost", _cost_line(figures, currency), _cost_parts(doc, currency)),
        ("economics", _economics_line(found, figures), []),
        ("risk", _risk_line(doc, figures, currency), []),
        ("evidence", _evidence_line(doc, figures), _evidence_items(doc)),
        ("pilot", _pilot_line(doc, currency), []),
        ("flags", ", ".join(figures.flags) or "-", []),
        ("findings", ", ".join(found.finding_keys) or "-", []),
    ]
    out.write(f"{printable(found.key)}\n")
    for label, text, items in sections:
        _paragraph(out, label, text)
        for item in items:
            _paragraph(out, "", item, indent=2)
    _write_hosts(out, details)
    if found.realised is not None:
        _paragraph(out, "realised", _compact(found.realised))
    _write_history(out, history, truncated)


def _paragraph(out: TextIO, label: str, text: str, *, indent: int = 0) -> None:
    first = f"  {label:<{LABEL}}" + " " * indent
    rest = " " * (2 + LABEL + indent + (2 if indent else 0))
    for line in textwrap.wrap(
        printable(text), width=100, initial_indent=first, subsequent_indent=rest
    ) or [first.rstrip()]:
        out.write(f"{line}\n")


def _state_line(found: StoredRecommendation) -> str:
    text = _state_words(found.state)
    if found.state == "deferred" and found.deferred_until is not None:
        text += f" until {when(found.deferred_until)}"
    if found.decided_by is not None:
        text += f"; last decided by {found.decided_by} at {when(found.decided_at)}"
    if found.state_reason:
        text += f": {found.state_reason}"
    text += f"; proposed first {when(found.created_at)}, last {when(found.last_proposed_at)}"
    if found.rolled_out_at is not None:
        text += f"; rolled out {when(found.rolled_out_at)}"
    if found.verified_at is not None:
        text += f"; verified {when(found.verified_at)}"
    return text


def _saves_line(figures: Figures) -> str:
    span = figures.seconds_per_launch
    launches = figures.launches_per_day
    per_day = f"{launches:,.0f} launches a day" if launches is not None else "launches unknown"
    if span is None:
        return (
            f"no saving claimed (evidence: {figures.basis or 'none'}): the fleet cannot tell "
            f"yet what it saves; it touches {per_day}"
        )
    text = f"{seconds_interval(figures)} a launch (evidence: {figures.basis}), {per_day}"
    if figures.hours_per_month is not None:
        text += f", {figures.hours_per_month.estimate:,.1f} h a month"
    money = figures.money_per_year
    if money is not None:
        text += (
            f", {money.currency} {money.estimate:,.2f} a year [{money.low:,.2f}, {money.high:,.2f}]"
        )
    return text


def _cost_line(figures: Figures, currency: str) -> str:
    text = f"{cents(figures.one_off, currency)} once"
    if figures.recurring_per_year:
        text += f" and {cents(figures.recurring_per_year, currency)} a year"
    if figures.cost_complete is False:
        text += " (not complete: some parts have no price)"
    return text


def _cost_parts(doc: dict[str, Any], currency: str) -> list[str]:
    cost = doc.get("cost")
    parts = cost.get("parts") if isinstance(cost, dict) else None
    if not isinstance(parts, list):
        return []
    lines = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        amount = decimal_of(part.get("amount"))
        shown = "not priced" if amount is None else cents(amount, currency)
        source = part.get("source")
        seats = part.get("seats")
        line = f"{part.get('item')}: {part.get('what')}"
        if seats is not None:
            line += f", {seats} seats"
        line += f": {shown}" + (" a year" if part.get("recurring") else "")
        if source:
            line += f" ({'estimate; ' if part.get('estimate') else ''}{source}"
            line += f", as of {part['as_of']})" if part.get("as_of") else ")"
        lines.append(line)
    return lines


def _economics_line(found: StoredRecommendation, figures: Figures) -> str:
    economics = found.document.get("economics")
    horizon = economics.get("horizon_years") if isinstance(economics, dict) else None
    if found.net_benefit_per_year is None:
        return "not priced: no saving is claimed, so no net benefit"
    text = f"net {cents(found.net_benefit_per_year, found.currency)} a year"
    if horizon:
        text += f" over {horizon} years"
    text += "; " + (
        "never paid back"
        if figures.payback_months is None
        else f"paid back in {figures.payback_months:,.1f} months"
    )
    if figures.roi is not None:
        text += f"; ROI {figures.roi:.0%}"
    return text


def _risk_line(doc: dict[str, Any], figures: Figures, currency: str) -> str:
    risk = doc.get("risk")
    if not isinstance(risk, dict):
        return "-"
    text = f"risk-adjusted benefit {cents(figures.risk_adjusted_benefit, currency)} a year"
    parts = []
    for name in ("p_evidence", "p_version", "interval_share"):
        if isinstance(risk.get(name), int | float):
            parts.append(f"{name} {risk[name]:g}")
    if risk.get("version_age_days") is not None:
        parts.append(f"vendor version {risk['version_age_days']} days old")
    if parts:
        text += f" ({', '.join(parts)})"
    if isinstance(risk.get("score"), int | float):
        text += f"; score {risk['score']:,.2f}"
    return text


def _evidence_line(doc: dict[str, Any], figures: Figures) -> str:
    benefit = doc.get("benefit")
    if not isinstance(benefit, dict):
        return figures.basis or "-"
    basis = figures.basis or "none"
    if basis == "model":
        return (
            f"model: {benefit.get('target_hosts')} hosts already have the change, compared "
            f"with {benefit.get('compared_hosts')} that do not ({benefit.get('method')}; "
            f"{benefit.get('confidence')} interval, {benefit.get('resamples')} resamples)"
        )
    if basis == "finding":
        return "finding: no host has the change; the finding's effect undone stands in"
    return "none: no host has the change, or the fleet cannot tell it apart"


def _evidence_items(doc: dict[str, Any]) -> list[str]:
    benefit = doc.get("benefit")
    items = benefit.get("evidence") if isinstance(benefit, dict) else None
    if not isinstance(items, list):
        return []
    lines = []
    for item in items:
        if not isinstance(item, dict):
            continue
        span = item.get("seconds_per_launch")
        saved = (
            f"{span['estimate']:.2f} s [{span['low']:.2f}, {span['high']:.2f}] a launch"
            if isinstance(span, dict) and all(isinstance(span.get(k), float | int) for k in
                                               ("estimate", "low", "high"))
            else "no saving measured"
        )  # fmt: skip
        line = f"{item.get('app')} {item.get('start')} starts: {saved}, {item.get('hosts')} hosts"
        if item.get("note"):
            line += f"; {item['note']}"
        lines.append(line)
    return lines


def _pilot_line(doc: dict[str, Any], currency: str) -> str:
    pilot = doc.get("pilot")
    if not isinstance(pilot, dict):
        return "- (the evidence is strong enough to roll it out)"
    written = pilot.get("hostnames")
    names: list[Any] = written if isinstance(written, list) else []
    where = pilot.get("by_department")
    spread = (
        ", ".join(f"{d or 'no department'} {n}" for d, n in sorted(where.items()))
        if isinstance(where, dict)
        else ""
    )
    text = (
        f"first on {len(names)} hosts ({spread}) for {pilot.get('days')} days, because "
        f"{pilot.get('reason')}; measuring the {pilot.get('measurement')}"
    )
    cost = pilot.get("cost")
    one_off = decimal_of(cost.get("one_off")) if isinstance(cost, dict) else None
    if one_off is not None:
        text += f"; the pilot costs {cents(one_off, currency)}"
    if names:
        shown = ", ".join(str(n) for n in names[:SHOWN_HOSTS])
        more = f" and {len(names) - SHOWN_HOSTS} more" if len(names) > SHOWN_HOSTS else ""
        text += f"; pilot hosts: {shown}{more}"
    return text


def _write_hosts(out: TextIO, details: Sequence[HostDetail]) -> None:
    """The hosts by department, hostnames first (a host not enrolled now: the engine's name
    for it, under "not enrolled")."""
    counts = Counter(d.department for d in details)
    order = sorted(counts, key=lambda d: (d is None, d or ""))
    spread = ", ".join(f"{d or 'not enrolled'} {counts[d]}" for d in order)
    _paragraph(out, "hosts", f"{len(details)}: {spread}" if details else "0")
    for department in order:
        names = [d.hostname or d.host_id for d in details if d.department == department]
        more = f" ... and {len(names) - SHOWN_HOSTS} more" if len(names) > SHOWN_HOSTS else ""
        shown = ", ".join(names[:SHOWN_HOSTS])
        _paragraph(out, "", f"{department or 'not enrolled'}: {shown}{more}", indent=2)


_HISTORY_COLUMNS: list[Column[AuditEntry]] = [
    Column("at", lambda e: None, lambda e: when(e.at)),
    Column("actor", lambda e: None, lambda e: e.actor),
    Column("from", lambda e: None, lambda e: str(e.detail.get("from") or "-")),
    Column("to", lambda e: None, lambda e: str(e.detail.get("to") or "-")),
    Column("why", lambda e: None, lambda e: _why(e)),
]


def _why(entry: AuditEntry) -> str:
    detail = entry.detail
    parts = []
    if detail.get("reason"):
        parts.append(str(detail["reason"]))
    if isinstance(detail.get("until"), int | float):
        parts.append(f"until {when(float(detail['until']))}")
    if isinstance(detail.get("realised"), dict):
        parts.append(f"measured {_compact(detail['realised'])}")
    return "; ".join(parts) or "-"


def _compact(value: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in value.items())


def _write_history(out: TextIO, history: Sequence[AuditEntry], truncated: bool) -> None:
    if not history:
        out.write("  history      -\n")
        return
    heading = f"  history      {len(history)} " + ("entry" if len(history) == 1 else "entries")
    if truncated:
        heading += f" (the newest {len(history)}; --history N reads more)"
    out.write(f"{heading}\n")
    table = io.StringIO()
    write_table(table, history, _HISTORY_COLUMNS)
    for line in table.getvalue().splitlines():
        out.write(f"    {line}\n")
