"""``analyse`` and ``findings list|show``.

``analyse`` runs one analysis now, as the scheduled ``analysis`` job does (same lease: it never
runs beside another advisor's run), and prints what it found. ``findings`` reads the stored
findings. Exit status: 0 done (or another advisor was running the analysis); 1 when the run
failed, the database could not be used or there is no such finding; 2 for a bad command line
(an ambiguous id prefix included).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from advisor.analysis.finding_status import CANDIDATE, OPEN, RESOLVED, STATUSES
from advisor.cli.args import end_of_day_or_instant, positive_int
from advisor.cli.common import USAGE, add_group, fail, open_stores
from advisor.cli.ids import finding_id, short_ids
from advisor.cli.output import Column, add_format_option, write_json, write_rows, write_table
from advisor.cli.progress import Progress
from advisor.cli.units import duration, iso_utc, percent, when
from advisor.config import AdvisorConfig
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.finding_costs import CostedFindings, FindingCost, FindingCosts
    from advisor.store.findings import FindingHistory, Findings, HistoryPoint, StoredFinding
    from advisor.store.open import Stores


SHOWN_HOSTS = 20
SHOWN_HISTORY = 40
"""Rows of history ``findings show`` prints, the newest (``--format json`` has every point
read)."""
READ_HISTORY = 200
"""History points ``findings show`` reads unless ``--history`` says (the newest), as the API."""

ANALYSE_DESCRIPTION = """\
Run one analysis now: read the last [analysis] window_days days of launches, version changes
and resource pressure, look for degradation, and update the stored findings (confirmed ones
open, those gone for several runs and days resolved). The scheduled `analysis` job does the
same every [jobs] analysis_interval inside `serve`; this takes the same lease, so it never
runs beside another advisor's run."""

ANALYSE_EXAMPLES = """\
  fleetsight-advisor analyse
  fleetsight-advisor analyse --at 2025-12-01      # as of the end of that UTC day (a replay)
  fleetsight-advisor findings list
"""

FINDINGS_DESCRIPTION = """\
The findings of the analysis runs: where an application got slower (or faster), since when,
by how much, on which hosts, and why (version, memory, swap, disk_io, cpu, hardware_tier or
unknown), with the evidence. A finding opens on strong evidence or when found again within
three runs (until then it is a candidate, listed with --status candidate); it stays open
through brief misses and is resolved once missed by 3 runs in a row over at least 4 days.
`show` prints its history (effect over time, opened/resolved/reopened; the newest 200 runs
unless --history N) and takes the ID `list` prints (any unique prefix of it) or the finding's
full key."""

FINDINGS_EXAMPLES = """\
  fleetsight-advisor findings list
  fleetsight-advisor findings list --status all --app libreoffice --format csv
  fleetsight-advisor findings show 3fa9c2e1
  fleetsight-advisor findings show 3fa9c2e1 --history 3000 --format json
"""


def add_parser(commands: Commands) -> None:
    """Register ``analyse`` and ``findings``."""
    analyse = add_group(
        commands,
        "analyse",
        help="run one analysis now and update the findings",
        description=ANALYSE_DESCRIPTION,
        examples=ANALYSE_EXAMPLES,
    )
    analyse.add_argument(
        "--at",
        type=end_of_day_or_instant,
        metavar="DATE",
        help="analyse the data as of DATE instead of now: YYYY-MM-DD (the end of that UTC day) "
        "or YYYY-MM-DDTHH:MM (UTC); the findings are recorded as detected then",
    )
    analyse.add_argument(
        "--window-days",
        type=positive_int,
        metavar="N",
        help="days of data to read (default: [analysis] window_days)",
    )
    analyse.set_defaults(run=run)

    findings = add_group(
        commands,
        "findings",
        help="findings of the analysis: list, show",
        description=FINDINGS_DESCRIPTION,
        examples=FINDINGS_EXAMPLES,
    )
    actions = findings.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="findings, open first and largest effect first (default: the open ones)"
    )
    listing.add_argument(
        "--status",
        choices=(*STATUSES, "all"),
        default=OPEN,
        help="which findings (default: open; candidate: found but not confirmed yet)",
    )
    listing.add_argument("--app", metavar="APP", help="only this application")
    listing.add_argument("--kind", metavar="KIND", help="only this kind (version_change, ...)")
    listing.add_argument("--cause", metavar="CAUSE", help="only this cause (version, memory, ...)")
    listing.add_argument("--department", metavar="D", help="only those affecting department D")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="only the first N")
    add_format_option(listing)
    show = actions.add_parser("show", help="one finding with its evidence, hosts and history")
    show.add_argument(
        "finding", metavar="ID", help="the ID `findings list` shows (a unique prefix) or the key"
    )
    show.add_argument(
        "--history",
        type=positive_int,
        default=READ_HISTORY,
        metavar="N",
        help=f"read the newest N history points (default: {READ_HISTORY}); the output says how "
        "many are stored",
    )
    show.add_argument("--format", choices=("text", "json"), default="text", help="(default: text)")
    findings.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``analyse``, ``findings list`` or ``findings show``."""
    if args.command == "analyse":
        return _analyse(args, config)
    from advisor.finding_costs import FindingCosts

    stores = open_stores(config)
    try:
        costs = FindingCosts(
            findings=stores.findings,
            hosts=stores.hosts,
            frames=stores.frames,
            catalog=stores.catalog,
            window_days=config.analysis.window_days,
        )
        as_of = _newest_run(stores.findings)
        if args.action == "show":
            found = find_one(stores.findings, args.finding)
            history = stores.findings.history(found.key, limit=args.history)
            costed = costs.of([found])
            if args.format == "json":
                write_json(sys.stdout, finding_document(found, costed, as_of, history))
            else:
                write_finding(found, sys.stdout, costed, as_of, history)
            return 0
        _list(stores, args, costs, as_of)
        return 0
    finally:
        stores.close()


def _newest_run(findings: Findings) -> float | None:
    """When the newest run analysed the data as of: what "open for" counts up to (not the
    wall clock: ``analyse --at`` replays old data)."""
    newest = findings.last_runs(1)
    return newest[0].analysed_at if newest else None


def _list(
    stores: Stores, args: argparse.Namespace, costs: FindingCosts, as_of: float | None
) -> None:
    from advisor.store.findings import FindingFilter

    where = FindingFilter(
        status=None if args.status == "all" else args.status,
        app=args.app,
        kind=args.kind,
        cause=args.cause,
        department=args.department,
    )
    found = stores.findings.find(where, limit=args.limit)
    write_findings(found, args.format, sys.stdout, costs.of(found), as_of)


def find_one(findings: Findings, given: str) -> StoredFinding:
    """The finding whose key is ``given``, or whose id or key starts with it (only one may)."""
    from advisor.store.findings import FindingFilter

    found = findings.get(given)
    if found is not None:
        return found
    every = findings.find(FindingFilter(status=None), limit=None)
    matches = [
        f
        for f in every
        if given and (finding_id(f.key).startswith(given) or f.key.startswith(given))
    ]
    if not matches:
        fail(f"no finding {given!r} (`findings list --status all` shows every id)")
    if len(matches) > 1:
        ids = ", ".join(sorted(finding_id(f.key) for f in matches)[:5])
        fail(
            f"finding id {given!r} is ambiguous: it starts {len(matches)} ({ids}); type more of it",
            USAGE,
        )
    return matches[0]


def _analyse(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """Run one analysis under the ``analysis`` job's lease and print its summary."""
    from prometheus_client import CollectorRegistry

    from advisor.jobs.analysis import AnalysisWork
    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.names import ANALYSIS
    from advisor.jobs.runner import JobRunner
    from advisor.jobs.tasks import JOB_TABLES, default_owner

    stores = open_stores(config, create=True)
    window = args.window_days or config.analysis.window_days
    try:
        metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
        work = AnalysisWork(
            stores.frames, stores.findings, window_days=window, metrics=metrics, at=args.at
        )
        runner = JobRunner(
            ANALYSIS,
            work,
            stores.leases,
            interval=config.jobs.analysis_interval,
            lease_seconds=config.jobs.lease,
            max_backoff=config.jobs.max_backoff,
            metrics=metrics,
            owner=default_owner(),
        )
        with Progress("analyse") as progress:
            progress.phase(f"loading and analysing {window} days of launches and pressure")
            report = runner.run_now()
    finally:
        stores.close()
    if report.outcome == "skipped":
        print("analysis: another advisor is running it now; nothing done")
        return 0
    if work.last is None and report.outcome == "success":
        at = args.at if args.at is not None else time.time()
        print(
            f"nothing to analyse: no launches in the {window} days up to {when(at)} "
            "and no open or candidate findings"
        )
        return 0
    if work.last is None:
        fail(f"analysis {report.outcome}: {printable(report.error or '')}")
    outcome, summary = work.last, work.last.summary
    print(
        f"analysed {outcome.launches} launches of {outcome.hosts} hosts and {outcome.apps} apps"
        f" ({outcome.parts} {'part' if outcome.parts == 1 else 'parts'}), "
        f"{window} days up to {when(summary.analysed_at)} "
        f"(load {duration(outcome.load_seconds)}, analysis {duration(outcome.analyse_seconds)})"
    )
    print(
        f"findings: {summary.new} new, {summary.updated} updated, {summary.reopened} reopened, "
        f"{summary.resolved} resolved; {summary.open} open"
        + (
            " (" + ", ".join(f"{n} {kind}" for kind, n in summary.open_by_kind.items()) + ")"
            if summary.open_by_kind
            else ""
        )
        + (f"; {summary.pending} awaiting confirmation" if summary.pending else "")
        + (f"; {summary.missing} open not found this run" if summary.missing else "")
        + (
            f"; {summary.expired} candidates not confirmed in time dropped"
            if summary.expired
            else ""
        )
    )
    for note in summary.notes:
        print(f"note: {printable(note)}")
    if summary.open:
        print("see them with `fleetsight-advisor findings list`")
    if report.outcome != "success":
        # Some parts (apps) failed: the others were recorded; `jobs status` names them.
        print(f"analysis {report.outcome}: {printable(report.error or '')}")
        return 1
    return 0


def _effect(found: StoredFinding) -> str:
    effect = found.effect
    return (
        f"{percent(effect.estimate, signed=True)} "
        f"[{percent(effect.low, signed=True)}, {percent(effect.high, signed=True)}]"
    )


def _cause(found: StoredFinding) -> str:
    confidence = found.confidence
    return found.cause + ("" if confidence != confidence else f" ({percent(confidence)})")


def open_for(found: StoredFinding, as_of: float | None) -> float | None:
    """Seconds ``found`` has been open: from ``opened_at`` to ``as_of`` (the newest run)
    while open, to ``resolved_at`` once resolved; None for a candidate."""
    if found.opened_at is None or found.status == CANDIDATE:
        return None
    end = found.resolved_at if found.status == RESOLVED else as_of
    return None if end is None else max(0.0, end - found.opened_at)


def finding_document(
    found: StoredFinding,
    costed: CostedFindings | None = None,
    as_of: float | None = None,
    history: FindingHistory | None = None,
) -> dict[str, Any]:
    """A finding as JSON: every stored value, times as ISO 8601 UTC, its id, how long it has
    been open (seconds, as of ``as_of``), the hostnames of its hosts (in the order of
    ``hosts``; the id where none is known) and ``host_details`` (id, hostname, department),
    its ``impact`` in time and money as the API gives it (its ``as_of`` ISO 8601; None
    without ``costed``), and its ``history`` when given."""
    values = found.to_dict()
    for name in ("since", "first_detected_at", "last_detected_at", "resolved_at", "opened_at"):
        values[name] = iso_utc(getattr(found, name), exact=True)
    impact = costed.document(found) if costed is not None else None
    if impact is not None:
        impact["as_of"] = iso_utc(impact["as_of"], exact=True)
    document = {
        "id": finding_id(found.key),
        **values,
        "open_for_seconds": open_for(found, as_of),
        "hostnames": costed.hostnames(found) if costed is not None else list(found.hosts),
        "host_details": costed.host_details(found) if costed is not None else None,
        "impact": impact,
    }
    if history is not None:
        document["history"] = history_document(history)
    return document


def history_document(history: FindingHistory) -> dict[str, Any]:
    """A finding's history as JSON: its points and events, oldest first, times ISO 8601;
    ``total_points`` and ``truncated`` say whether older points were not read."""
    values = history.to_dict()
    for point, source in zip(values["points"], history.points, strict=True):
        point["detected_at"] = iso_utc(source.detected_at, exact=True)
    for event, change in zip(values["events"], history.events, strict=True):
        event["at"] = iso_utc(change.at, exact=True)
    return values


def finding_columns(
    findings: Sequence[StoredFinding],
    as_of: float | None = None,
    costed: CostedFindings | None = None,
) -> list[Column[StoredFinding]]:
    short = short_ids(finding_id(f.key) for f in findings)

    def exact(name: str) -> Column[StoredFinding]:
        return Column(name, lambda f: iso_utc(getattr(f, name), exact=True), table=False)

    def cost(found: StoredFinding) -> FindingCost | None:
        return costed.cost(found) if costed is not None else None

    return [
        Column("id", lambda f: finding_id(f.key), lambda f: short[finding_id(f.key)]),
        Column("key", lambda f: f.key, table=False),
        Column("status", lambda f: f.status),
        Column("kind", lambda f: f.kind),
        Column("app", lambda f: f.app),
        Column("scope", lambda f: json.dumps(f.scope, sort_keys=True), table=False),
        Column("direction", lambda f: f.direction, table=False),
        Column("effect", lambda f: f.to_dict()["effect"]["estimate"], _effect),
        Column("effect_low", lambda f: f.to_dict()["effect"]["low"], table=False),
        Column("effect_high", lambda f: f.to_dict()["effect"]["high"], table=False),
        *cost_columns(cost),
        Column("cause", lambda f: f.cause, _cause),
        Column("confidence", lambda f: f.to_dict()["confidence"], table=False),
        Column("since", lambda f: iso_utc(f.since, exact=True), lambda f: when(f.since)),
        exact("first_detected_at"),
        exact("last_detected_at"),
        exact("resolved_at"),
        exact("opened_at"),
        Column(
            "open_for_seconds",
            lambda f: open_for(f, as_of),
            lambda f: duration(open_for(f, as_of)),
            header="OPEN FOR",
        ),
        Column("runs_seen", lambda f: f.runs_seen, header="RUNS", right=True),
        Column("missed_runs", lambda f: f.missed_runs, _missed, header="MISSED", right=True),
        Column("reopen_count", lambda f: f.reopen_count, table=False),
        Column("hosts", lambda f: len(f.hosts), right=True),
        Column("departments", lambda f: list(f.departments), lambda f: ", ".join(f.departments)),
        Column("scope_text", lambda f: None, lambda f: _scope(f), header="SCOPE", data=False),
    ]


def cost_columns(
    cost: Callable[[StoredFinding], FindingCost | None],
) -> list[Column[StoredFinding]]:
    """A finding's cost: seconds a launch, hours a month and money a year in the table
    (rounded, negative when time is saved); every figure with its interval, launches a day,
    hosts without launches and the currency in JSON and CSV (exact; money to the cent)."""

    def span(name: str, part: str) -> Callable[[StoredFinding], float | None]:
        def get(found: StoredFinding) -> float | None:
            c = cost(found)
            return None if c is None else float(getattr(getattr(c.time, name), part))

        return get

    def money(part: str) -> Callable[[StoredFinding], Decimal | None]:
        def get(found: StoredFinding) -> Decimal | None:
            c = cost(found)
            impact = None if c is None else c.impact
            # + 0: a cent's fraction saved is 0.00, not -0.00
            return None if impact is None else getattr(impact.money_per_year, part) + 0

        return get

    def number(name: str) -> Callable[[StoredFinding], float | int | None]:
        def get(found: StoredFinding) -> float | int | None:
            c = cost(found)
            return None if c is None else getattr(c.time, name)

        return get

    def currency(found: StoredFinding) -> str | None:
        c = cost(found)
        return None if c is None or c.impact is None else c.impact.money_per_year.currency

    columns: list[Column[StoredFinding]] = [
        Column(
            "seconds_per_launch",
            span("seconds_per_launch", "estimate"),
            lambda f: _signed_seconds(span("seconds_per_launch", "estimate")(f)),
            header="PER LAUNCH",
            right=True,
        ),
        Column("seconds_per_launch_low", span("seconds_per_launch", "low"), table=False),
        Column("seconds_per_launch_high", span("seconds_per_launch", "high"), table=False),
        Column("launches_per_day", number("launches_per_day"), table=False),
        Column("hosts_without_launches", number("hosts_without_launches"), table=False),
        Column(
            "hours_per_month",
            span("hours_per_month", "estimate"),
            lambda f: _hours(span("hours_per_month", "estimate")(f)),
            header="HOURS/MONTH",
            right=True,
        ),
        Column("hours_per_month_low", span("hours_per_month", "low"), table=False),
        Column("hours_per_month_high", span("hours_per_month", "high"), table=False),
        Column(
            "money_per_year",
            money("estimate"),
            lambda f: _money(money("estimate")(f), currency(f)),
            header="MONEY/YEAR",
            right=True,
        ),
        Column("money_per_year_low", money("low"), table=False),
        Column("money_per_year_high", money("high"), table=False),
        Column("currency", currency, table=False),
    ]
    return columns


def _signed_seconds(seconds: float | None) -> str:
    """Seconds a launch, signed, to the hundredth.

    >>> _signed_seconds(0.5), _signed_seconds(-0.4), _signed_seconds(None)
    ('+0.50 s', '-0.40 s', '-')
    """
    return "-" if seconds is None else f"{seconds:+.2f} s"


def _hours(hours: float | None) -> str:
    """Hours, a decimal under 10.

    >>> _hours(1234.4), _hours(-2.25), _hours(None)
    ('1,234 h', '-2.2 h', '-')
    """
    return "-" if hours is None else f"{_amount(hours)} h"


def _amount(value: float | Decimal) -> str:
    """A count or an amount as a person reads it: thousands separated, whole from 10 on.

    >>> _amount(1234.5), _amount(9.87), _amount(Decimal("-12345.50")), _amount(0.0)
    ('1,234', '9.9', '-12,346', '0')
    """
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(float(value)) >= 10 else f"{value:,.1f}"


def _money(amount: Decimal | None, currency: str | None) -> str:
    """An amount a year, whole, with its currency.

    >>> _money(Decimal("12345.67"), "USD"), _money(None, None)
    ('USD 12,346', '-')
    """
    return "-" if amount is None or currency is None else f"{currency} {_amount(amount)}"


def _missed(found: StoredFinding) -> str:
    return str(found.missed_runs) if found.missed_runs and found.status == OPEN else "-"


def _scope(found: StoredFinding) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(found.scope.items())) or "-"


def write_findings(
    findings: Sequence[StoredFinding],
    fmt: str,
    out: TextIO,
    costed: CostedFindings | None = None,
    as_of: float | None = None,
) -> None:
    """``findings`` as a table, a JSON document (``{"findings": [...]}``) or CSV; how long
    each has been open is counted up to ``as_of`` (the newest run); what each costs and
    the names of its hosts come from ``costed``."""
    write_rows(
        out,
        fmt,
        findings,
        finding_columns(findings, as_of, costed),
        name="findings",
        empty="no findings",
        json_row=lambda f: finding_document(f, costed, as_of),
    )


def write_finding(
    found: StoredFinding,
    out: TextIO,
    costed: CostedFindings | None = None,
    as_of: float | None = None,
    history: FindingHistory | None = None,
) -> None:
    """One finding in full: lifecycle, effect, what it costs, cause, evidence, hosts (by
    hostname), history.

    Apps, versions, hostnames and departments came from agents and admins: escaped.
    """
    out.write(f"{printable(found.key)}\n")
    out.write(f"  id           {finding_id(found.key)}\n")
    out.write(f"  app          {printable(found.app)} ({found.kind}; {printable(_scope(found))})\n")
    out.write(f"  status       {_lifecycle(found, as_of)}\n")
    out.write(f"  effect       {found.direction} {_effect(found)} of the median load time\n")
    if costed is not None:
        for line in cost_lines(costed, found):
            out.write(f"{line}\n")
    out.write(f"  cause        {_cause(found)}\n")
    out.write(f"  since        {when(found.since)}\n")
    out.write(
        f"  detected     first {when(found.first_detected_at)}, "
        f"last {when(found.last_detected_at)}; by {_runs(found.runs_seen)}\n"
    )
    out.write(f"  departments  {printable(', '.join(found.departments)) or '-'}\n")
    hosts = costed.hostnames(found) if costed is not None else list(found.hosts)
    more = f" ... and {len(hosts) - SHOWN_HOSTS} more" if len(hosts) > SHOWN_HOSTS else ""
    out.write(f"  hosts        {len(hosts)}: {printable(', '.join(hosts[:SHOWN_HOSTS]))}{more}\n")
    evidence = found.evidence
    out.write(f"  evidence     {printable(str(evidence.get('method') or '-'))}\n")
    for side in ("before", "after"):
        q = evidence.get(side)
        if isinstance(q, dict):
            out.write(
                f"    {side:<7} {q.get('count')} launches, p10 {_seconds(q.get('p10'))}, "
                f"median {_seconds(q.get('p50'))}, p90 {_seconds(q.get('p90'))}\n"
            )
    for name in ("p_value", "q_value"):
        if evidence.get(name) is not None:
            out.write(f"    {name:<7} {evidence[name]:.3g}\n")
    for name, value in sorted((evidence.get("detail") or {}).items()):
        out.write(f"    {printable(str(name))}: {printable(str(value))}\n")
    if history is not None:
        write_history(history, out)


def cost_lines(costed: CostedFindings, found: StoredFinding) -> list[str]:
    """The ``cost`` paragraph of ``findings show`` (``saves`` for a finding that got faster,
    its figures then the time and money saved), wrapped, each line escaped:

    ``cost  +0.50 s a launch [0.40, 0.60], 9,360 launches a day on 120 hosts, 40 h a month,
    USD 20,332 a year [16,266, 24,399] (finance 18,262 at 45.00/h, hr 2,070 at an estimated
    30.00/h)``, then the window the launches were counted in and what is missing."""
    label = "  cost         "
    cost = costed.cost(found)
    if cost is None or costed.as_of is None:
        return [f"{label}- (the effect or the median load time before is not known)"]
    time, impact = cost.time, cost.impact
    sign = -1 if time.seconds_per_launch.estimate < 0 else 1
    if sign < 0:
        label = "  saves        "
    per_launch = time.seconds_per_launch
    low, high = sorted((sign * per_launch.low, sign * per_launch.high))
    hosts = len(found.hosts)
    text = (
        f"{sign * per_launch.estimate:{'+' if sign > 0 else ''}.2f} s a launch "
        f"[{low:.2f}, {high:.2f}], {_amount(time.launches_per_day)} launches a day on "
        f"{hosts} host{'' if hosts == 1 else 's'}, "
        f"{_amount(sign * time.hours_per_month.estimate)} h a month"
    )
    if impact is not None:
        money = impact.money_per_year
        low_money, high_money = sorted((sign * money.low, sign * money.high))
        departments = ", ".join(
            f"{part.department or 'no department'} {_amount(sign * part.money_per_year.estimate)}"
            f" at {'an estimated ' if part.wage.estimate else ''}{part.wage.amount:.2f}/h"
            for part in impact.by_department
        )
        text += (
            f", {money.currency} {_amount(sign * money.estimate)} a year "
            f"[{_amount(low_money)}, {_amount(high_money)}] ({departments})"
        )
    counted = f"launches counted over the {costed.window_days} days up to {when(costed.as_of)}"
    if time.hosts_without_launches:
        counted += f"; {time.hosts_without_launches} of {hosts} hosts without launches"
    lines = textwrap.wrap(
        printable(text), width=100, initial_indent=label, subsequent_indent=" " * len(label)
    )
    for sentence in (counted, *costed.notes):
        lines += textwrap.wrap(
            printable(sentence),
            width=100,
            initial_indent=" " * len(label),
            subsequent_indent=" " * (len(label) + 2),
        )
    return lines


def _runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


def _lifecycle(found: StoredFinding, as_of: float | None) -> str:
    """The status, since when and for how long; whether the newest runs found an open one."""
    held = duration(open_for(found, as_of))
    if found.status == CANDIDATE:
        text = "candidate: found, not confirmed yet"
    elif found.status == RESOLVED:
        text = f"resolved {when(found.resolved_at)}, after {held} open"
    else:
        text = f"open since {when(found.opened_at)} ({held})"
    if found.reopen_count:
        text += f"; reopened {found.reopen_count} time" + ("" if found.reopen_count == 1 else "s")
    if found.missed_runs and found.status == OPEN:
        text += f"; not found by the last {_runs(found.missed_runs)}"
    return text


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A line of ``findings show``'s history: consecutive runs that found the finding with
    the same figures (as shown), or a status change (``event``)."""

    first: float
    last: float
    runs: int = 0
    point: HistoryPoint | None = None
    event: str = ""


def history_rows(history: FindingHistory) -> list[HistoryRow]:
    """``history`` as rows, oldest first: a run of points is one row while its figures (as
    the table shows them) stay the same, the runs follow each other (no run missed it) and
    no status change comes between; each status change is a row of its own.

    A point and an event of the same run: the point first (the run found it, then opened it).
    """
    items: list[tuple[float, int, int, HistoryPoint | None, str]] = [
        (p.detected_at, 0, i, p, "") for i, p in enumerate(history.points)
    ] + [(e.at, 1, i, None, e.event) for i, e in enumerate(history.events)]
    rows: list[HistoryRow] = []
    previous: HistoryPoint | None = None
    for at, _, _, point, event in sorted(items, key=lambda item: item[:3]):
        if point is None:
            rows.append(HistoryRow(at, at, event=event))
            previous = None
            continue
        last = rows[-1] if rows else None
        if (
            last is not None
            and last.point is not None
            and previous is not None
            and _figures(previous) == _figures(point)
            and _follows(previous, point)
        ):
            rows[-1] = HistoryRow(last.first, at, last.runs + 1, point)
        else:
            rows.append(HistoryRow(at, at, 1, point))
        previous = point
    return rows


def _figures(point: HistoryPoint) -> tuple[str, int, str]:
    effect = point.effect
    shown = (
        f"{percent(effect.estimate, signed=True)} "
        f"[{percent(effect.low, signed=True)}, {percent(effect.high, signed=True)}]"
    )
    return shown, point.hosts, _point_cause(point)


def _follows(before: HistoryPoint, after: HistoryPoint) -> bool:
    """Whether no run of the finding's app missed it between the two points (runs of other
    apps' parts may come between). A point from before that was counted (``missed_before``
    unknown) follows the run before it."""
    if after.missed_before is not None:
        return after.missed_before == 0
    return before.run_id is not None and after.run_id == before.run_id + 1


def _point_cause(point: HistoryPoint) -> str:
    confidence = point.confidence
    return point.cause + ("" if confidence != confidence else f" ({percent(confidence)})")


_HISTORY_COLUMNS: list[Column[HistoryRow]] = [
    Column("from", lambda r: None, lambda r: when(r.first)),
    Column("to", lambda r: None, lambda r: when(r.last) if r.last != r.first else ""),
    Column("what", lambda r: None, lambda r: r.event or "found"),
    Column("runs", lambda r: None, lambda r: str(r.runs) if r.point else "", right=True),
    Column("effect", lambda r: None, lambda r: _figures(r.point)[0] if r.point else ""),
    Column("hosts", lambda r: None, lambda r: str(r.point.hosts) if r.point else "", right=True),
    Column("cause", lambda r: None, lambda r: _point_cause(r.point) if r.point else ""),
]


def write_history(history: FindingHistory, out: TextIO) -> None:
    """The ``history`` section of ``findings show``: the newest :data:`SHOWN_HISTORY` rows
    of :func:`history_rows`, a table indented under the heading, which says what was left
    out (rows not shown, points not read)."""
    rows = history_rows(history)
    if not rows:
        out.write("  history      -\n")
        return
    changes = len(history.events)
    out.write(
        f"  history      found by {_runs(history.stored_points)}, {changes} status "
        + ("change" if changes == 1 else "changes")
    )
    if history.truncated:
        out.write(
            f"; the newest {len(history.points)} read (--history {history.stored_points} reads all)"
        )
    out.write(
        f"; {len(rows) - SHOWN_HISTORY} earlier rows not shown (--format json has them)\n"
        if len(rows) > SHOWN_HISTORY
        else "\n"
    )
    table = io.StringIO()
    write_table(table, rows[-SHOWN_HISTORY:], _HISTORY_COLUMNS)
    for line in table.getvalue().splitlines():
        out.write(f"    {line}\n")


def _seconds(value: object) -> str:
    return duration(float(value)) if isinstance(value, int | float) else "-"
