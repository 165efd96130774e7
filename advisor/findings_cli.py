"""``fleetsight-advisor analyse`` and ``fleetsight-advisor findings list|show``.

``analyse`` runs one analysis now, as the scheduled ``analysis`` job does (same lease: it never
runs beside another advisor's run), and prints what it found. ``findings`` reads the stored
findings. Exit status: 0 done (or another advisor was running the analysis); 1 when the run
failed, the database could not be used or there is no such finding; 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from advisor.cli_args import positive_int
from advisor.config import AdvisorConfig
from advisor.store.findings import STATUSES, FindingFilter, StoredFinding
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.store.open import Stores

FORMATS = ("table", "json", "csv")
SHOWN_HOSTS = 20

ANALYSE_DESCRIPTION = """\
Run one analysis now: read the last [analysis] window_days days of launches, version changes
and resource pressure, look for degradation, and update the stored findings (new ones open,
those no longer found resolved). The scheduled `analysis` job does the same every
[jobs] analysis_interval inside `serve`; this takes the same lease, so it never runs beside
another advisor's run."""

ANALYSE_EPILOG = """\
examples:
  fleetsight-advisor analyse
  fleetsight-advisor analyse --at 2025-12-01      # as of the end of that UTC day (a replay)
  fleetsight-advisor findings list
"""

FINDINGS_DESCRIPTION = """\
The findings of the analysis runs: where an application got slower (or faster), since when,
by how much, on which hosts, and why (version, memory, swap, disk_io, cpu, hardware_tier or
unknown), with the evidence. A finding stays open while the runs keep finding it and is
resolved by the first run that does not."""

FINDINGS_EPILOG = """\
examples:
  fleetsight-advisor findings list
  fleetsight-advisor findings list --status all --app libreoffice --format csv
  fleetsight-advisor findings show 'version_change|libreoffice|from_version=7.5.9|version=7.6.4'
"""


def _at_arg(value: str) -> float:
    """A date (the end of that UTC day) or an ISO date and time (UTC unless it says)."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def add_findings_parsers(commands: Any) -> None:
    """Add ``analyse`` and ``findings`` to the CLI (``commands``: argparse's subparsers)."""
    analyse = commands.add_parser(
        "analyse",
        help="run one analysis now and update the findings",
        description=ANALYSE_DESCRIPTION,
        epilog=ANALYSE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyse.add_argument(
        "--at",
        type=_at_arg,
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

    findings = commands.add_parser(
        "findings",
        help="findings of the analysis: list, show",
        description=FINDINGS_DESCRIPTION,
        epilog=FINDINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    listing.add_argument("--format", choices=FORMATS, default="table", help="(default: table)")
    show = actions.add_parser("show", help="one finding with its evidence and hosts")
    show.add_argument("key", metavar="KEY", help="the finding's key, as `findings list` shows it")
    show.add_argument("--format", choices=("text", "json"), default="text", help="(default: text)")


def _stores(config: AdvisorConfig, *, create: bool = False) -> Stores:
    from advisor.store.open import open_store

    return open_store(config, create=create)


def cmd_analyse(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """Run one analysis under the ``analysis`` job's lease and print its summary."""
    from prometheus_client import CollectorRegistry

    from advisor.jobs.analysis import AnalysisWork
    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.runner import JobRunner
    from advisor.jobs.tasks import ANALYSIS, JOB_TABLES, default_owner

    stores = _stores(config, create=True)
    try:
        metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
        window = args.window_days or config.analysis.window_days
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
        report = runner.run_now()
    finally:
        stores.close()
    if report.outcome == "skipped":
        print("analysis: another advisor is running it now; nothing done")
        return 0
    if work.last is None:
        print(f"fleetsight-advisor: analysis {report.outcome}: {report.error}", file=sys.stderr)
        return 1
    outcome, summary = work.last, work.last.summary
    print(
        f"analysed {outcome.launches} launches of {outcome.hosts} hosts and {outcome.apps} apps, "
        f"{window} days up to {_utc(summary.analysed_at)} "
        f"(load {outcome.load_seconds:.1f} s, analysis {outcome.analyse_seconds:.1f} s)"
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


def cmd_findings(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``findings list`` or ``findings show`` on the configured database."""
    stores = _stores(config)
    try:
        if args.action == "show":
            found = stores.findings.get(args.key)
            if found is None:
                print(
                    f"fleetsight-advisor: no finding {args.key!r} (`findings list --status all`"
                    " shows every key)",
                    file=sys.stderr,
                )
                return 1
            if args.format == "json":
                json.dump(found.to_dict(), sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                write_finding(found, sys.stdout)
            return 0
        where = FindingFilter(
            status=None if args.status == "all" else args.status,
            app=args.app,
            kind=args.kind,
            cause=args.cause,
            department=args.department,
        )
        write_findings(stores.findings.find(where, limit=args.limit), args.format, sys.stdout)
        return 0
    finally:
        stores.close()


def _utc(timestamp: float | None) -> str:
    if timestamp is None or timestamp != timestamp:  # None or NaN
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%MZ")


def _iso(timestamp: float | None) -> str:
    if timestamp is None or timestamp != timestamp:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _percent(value: float) -> str:
    return "?" if value != value else f"{value * 100:+.0f}%"


def _effect(found: StoredFinding) -> str:
    effect = found.effect
    return f"{_percent(effect.estimate)} [{_percent(effect.low)}, {_percent(effect.high)}]"


CSV_COLUMNS = (
    "key",
    "status",
    "kind",
    "app",
    "scope",
    "direction",
    "effect",
    "effect_low",
    "effect_high",
    "cause",
    "confidence",
    "since",
    "first_detected_at",
    "last_detected_at",
    "resolved_at",
    "hosts",
    "departments",
)


def _csv_row(found: StoredFinding) -> dict[str, Any]:
    values = found.to_dict()
    # Escaped like the table: CSV is read on terminals too, and no real name needs a control
    # character (ingest refuses them; older rows may hold some).
    return {
        "key": printable(found.key),
        "status": found.status,
        "kind": found.kind,
        "app": printable(found.app),
        "scope": json.dumps(found.scope, sort_keys=True),
        "direction": found.direction,
        "effect": values["effect"]["estimate"],
        "effect_low": values["effect"]["low"],
        "effect_high": values["effect"]["high"],
        "cause": found.cause,
        "confidence": values["confidence"],
        "since": _iso(found.since),
        "first_detected_at": _iso(found.first_detected_at),
        "last_detected_at": _iso(found.last_detected_at),
        "resolved_at": _iso(found.resolved_at),
        "hosts": len(found.hosts),
        "departments": printable(";".join(found.departments)),
    }


def write_findings(findings: Sequence[StoredFinding], fmt: str, out: TextIO) -> None:
    """``findings`` as a table, a JSON document (``{"findings": [...]}``) or CSV."""
    if fmt == "json":
        json.dump({"findings": [f.to_dict() for f in findings]}, out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for found in findings:
            writer.writerow(_csv_row(found))
        return
    if not findings:
        out.write("no findings\n")
        return
    out.write(
        f"{'STATUS':<9}{'KIND':<15}{'APP':<16}{'EFFECT':<22}{'CAUSE':<22}{'SINCE':<19}"
        f"{'HOSTS':>6}  KEY\n"
    )
    for found in findings:
        confidence = found.confidence
        cause = found.cause + ("" if confidence != confidence else f" ({confidence:.0%})")
        out.write(
            f"{found.status:<9}{found.kind:<15}{printable(found.app):<16}{_effect(found):<22}"
            f"{cause:<22}{_utc(found.since):<19}{len(found.hosts):>6}  {printable(found.key)}\n"
        )


def write_finding(found: StoredFinding, out: TextIO) -> None:
    """One finding in full: lifecycle, effect, cause, evidence, hosts.

    Apps, versions, host ids and departments came from agents and admins: escaped.
    """
    out.write(f"{printable(found.key)}\n")
    scope = ", ".join(f"{k}={v}" for k, v in sorted(found.scope.items())) or "-"
    out.write(f"  app          {printable(found.app)} ({found.kind}; {printable(scope)})\n")
    out.write(f"  status       {found.status}")
    out.write(f", resolved {_utc(found.resolved_at)}\n" if found.resolved_at else "\n")
    out.write(f"  effect       {found.direction} {_effect(found)} of the median load time\n")
    confidence = "" if found.confidence != found.confidence else f" ({found.confidence:.0%})"
    out.write(f"  cause        {found.cause}{confidence}\n")
    out.write(f"  since        {_utc(found.since)}\n")
    out.write(
        f"  detected     first {_utc(found.first_detected_at)}, "
        f"last {_utc(found.last_detected_at)}\n"
    )
    out.write(f"  departments  {printable(', '.join(found.departments)) or '-'}\n")
    hosts = list(found.hosts)
    more = f" ... and {len(hosts) - SHOWN_HOSTS} more" if len(hosts) > SHOWN_HOSTS else ""
    out.write(f"  hosts        {len(hosts)}: {printable(', '.join(hosts[:SHOWN_HOSTS]))}{more}\n")
    evidence = found.evidence
    out.write(f"  evidence     {printable(str(evidence.get('method') or '-'))}\n")
    for side in ("before", "after"):
        q = evidence.get(side)
        if isinstance(q, dict):
            out.write(
                f"    {side:<7} {q.get('count')} launches, p10 {q.get('p10')} s, "
                f"median {q.get('p50')} s, p90 {q.get('p90')} s\n"
            )
    for name in ("p_value", "q_value"):
        if evidence.get(name) is not None:
            out.write(f"    {name:<7} {evidence[name]:.3g}\n")
    for name, value in sorted((evidence.get("detail") or {}).items()):
        out.write(f"    {printable(str(name))}: {printable(str(value))}\n")
