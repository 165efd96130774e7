"""``analyse`` and ``findings list|show``.

``analyse`` runs one analysis now, as the scheduled ``analysis`` job does (same lease: it never
runs beside another advisor's run), and prints what it found. ``findings`` reads the stored
findings. Exit status: 0 done (or another advisor was running the analysis); 1 when the run
failed, the database could not be used or there is no such finding; 2 for a bad command line
(an ambiguous id prefix included).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from advisor.analysis.finding_status import STATUSES
from advisor.cli.args import end_of_day_or_instant, positive_int
from advisor.cli.common import USAGE, add_group, fail, open_stores
from advisor.cli.ids import finding_id, short_ids
from advisor.cli.output import Column, add_format_option, write_json, write_rows
from advisor.cli.progress import Progress
from advisor.cli.units import duration, iso_utc, percent, when
from advisor.config import AdvisorConfig
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.store.findings import Findings, StoredFinding
    from advisor.store.open import Stores


SHOWN_HOSTS = 20

ANALYSE_DESCRIPTION = """\
Run one analysis now: read the last [analysis] window_days days of launches, version changes
and resource pressure, look for degradation, and update the stored findings (new ones open,
those no longer found resolved). The scheduled `analysis` job does the same every
[jobs] analysis_interval inside `serve`; this takes the same lease, so it never runs beside
another advisor's run."""

ANALYSE_EXAMPLES = """\
  fleetsight-advisor analyse
  fleetsight-advisor analyse --at 2025-12-01      # as of the end of that UTC day (a replay)
  fleetsight-advisor findings list
"""

FINDINGS_DESCRIPTION = """\
The findings of the analysis runs: where an application got slower (or faster), since when,
by how much, on which hosts, and why (version, memory, swap, disk_io, cpu, hardware_tier or
unknown), with the evidence. A finding stays open while the runs keep finding it and is
resolved by the first run that does not. `show` takes the ID `list` prints (any unique
prefix of it) or the finding's full key."""

FINDINGS_EXAMPLES = """\
  fleetsight-advisor findings list
  fleetsight-advisor findings list --status all --app libreoffice --format csv
  fleetsight-advisor findings show 3fa9c2e1
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
        default="open",
        help="which findings (default: open)",
    )
    listing.add_argument("--app", metavar="APP", help="only this application")
    listing.add_argument("--kind", metavar="KIND", help="only this kind (version_change, ...)")
    listing.add_argument("--cause", metavar="CAUSE", help="only this cause (version, memory, ...)")
    listing.add_argument("--department", metavar="D", help="only those affecting department D")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="only the first N")
    add_format_option(listing)
    show = actions.add_parser("show", help="one finding with its evidence and hosts")
    show.add_argument(
        "finding", metavar="ID", help="the ID `findings list` shows (a unique prefix) or the key"
    )
    show.add_argument("--format", choices=("text", "json"), default="text", help="(default: text)")
    findings.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``analyse``, ``findings list`` or ``findings show``."""
    if args.command == "analyse":
        return _analyse(args, config)
    stores = open_stores(config)
    try:
        hostnames = {h.host_id: h.hostname for h in stores.hosts.list_hosts()}
        if args.action == "show":
            found = find_one(stores.findings, args.finding)
            if args.format == "json":
                write_json(sys.stdout, finding_document(found, hostnames))
            else:
                write_finding(found, sys.stdout, hostnames)
            return 0
        _list(stores, args, hostnames)
        return 0
    finally:
        stores.close()


def _list(stores: Stores, args: argparse.Namespace, hostnames: Mapping[str, str]) -> None:
    from advisor.store.findings import FindingFilter

    where = FindingFilter(
        status=None if args.status == "all" else args.status,
        app=args.app,
        kind=args.kind,
        cause=args.cause,
        department=args.department,
    )
    write_findings(
        stores.findings.find(where, limit=args.limit), args.format, sys.stdout, hostnames
    )


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
    if work.last is None:
        fail(f"analysis {report.outcome}: {report.error}")
    outcome, summary = work.last, work.last.summary
    print(
        f"analysed {outcome.launches} launches of {outcome.hosts} hosts and {outcome.apps} apps, "
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
    )
    for note in summary.notes:
        print(f"note: {printable(note)}")
    if summary.open:
        print("see them with `fleetsight-advisor findings list`")
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


def finding_document(found: StoredFinding, hostnames: Mapping[str, str]) -> dict[str, Any]:
    """A finding as JSON: every stored value, times as ISO 8601 UTC, its id, and the
    hostnames of its hosts (in the order of ``hosts``; the id where none is known)."""
    values = found.to_dict()
    for name in ("since", "first_detected_at", "last_detected_at", "resolved_at"):
        values[name] = iso_utc(getattr(found, name), exact=True)
    return {
        "id": finding_id(found.key),
        **values,
        "hostnames": [hostnames.get(host, host) for host in found.hosts],
    }


def finding_columns(findings: Sequence[StoredFinding]) -> list[Column[StoredFinding]]:
    short = short_ids(finding_id(f.key) for f in findings)

    def exact(name: str) -> Column[StoredFinding]:
        return Column(name, lambda f: iso_utc(getattr(f, name), exact=True), table=False)

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
        Column("cause", lambda f: f.cause, _cause),
        Column("confidence", lambda f: f.to_dict()["confidence"], table=False),
        Column("since", lambda f: iso_utc(f.since, exact=True), lambda f: when(f.since)),
        exact("first_detected_at"),
        exact("last_detected_at"),
        exact("resolved_at"),
        Column("hosts", lambda f: len(f.hosts), right=True),
        Column("departments", lambda f: list(f.departments), lambda f: ", ".join(f.departments)),
        Column("scope_text", lambda f: None, lambda f: _scope(f), header="SCOPE", data=False),
    ]


def _scope(found: StoredFinding) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(found.scope.items())) or "-"


def write_findings(
    findings: Sequence[StoredFinding],
    fmt: str,
    out: TextIO,
    hostnames: Mapping[str, str] | None = None,
) -> None:
    """``findings`` as a table, a JSON document (``{"findings": [...]}``) or CSV."""
    names = hostnames or {}
    write_rows(
        out,
        fmt,
        findings,
        finding_columns(findings),
        name="findings",
        empty="no findings",
        json_row=lambda f: finding_document(f, names),
    )


def write_finding(found: StoredFinding, out: TextIO, hostnames: Mapping[str, str]) -> None:
    """One finding in full: lifecycle, effect, cause, evidence, hosts (by hostname).

    Apps, versions, hostnames and departments came from agents and admins: escaped.
    """
    out.write(f"{printable(found.key)}\n")
    out.write(f"  id           {finding_id(found.key)}\n")
    out.write(f"  app          {printable(found.app)} ({found.kind}; {printable(_scope(found))})\n")
    out.write(f"  status       {found.status}")
    out.write(f", resolved {when(found.resolved_at)}\n" if found.resolved_at else "\n")
    out.write(f"  effect       {found.direction} {_effect(found)} of the median load time\n")
    out.write(f"  cause        {_cause(found)}\n")
    out.write(f"  since        {when(found.since)}\n")
    out.write(
        f"  detected     first {when(found.first_detected_at)}, "
        f"last {when(found.last_detected_at)}\n"
    )
    out.write(f"  departments  {printable(', '.join(found.departments)) or '-'}\n")
    hosts = [hostnames.get(host, host) for host in found.hosts]
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


def _seconds(value: object) -> str:
    return duration(float(value)) if isinstance(value, int | float) else "-"
