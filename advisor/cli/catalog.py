"""``catalog import|show|outdated|unmatched|log``: the vendor catalog and the fleet against it.

Exit status: 0 done; 1 when something could not be used (a file, the database, rejected rows
of an organisation file: the good rows are imported and the bad ones listed, and the status
says the file needs fixing); 2 for a bad command line (argparse's own).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from advisor.cli.args import date, non_negative_int
from advisor.cli.common import add_group, fail, open_stores
from advisor.cli.output import Column, add_format_option, time_column, write_json, write_rows
from advisor.cli.progress import Progress
from advisor.cli.units import size
from advisor.config import AdvisorConfig
from advisor.text import printable, printable_or

if TYPE_CHECKING:
    from advisor.catalog.fleet import OutdatedReport, OutdatedRow, UnmatchedPackage
    from advisor.catalog.stored import Change, ImportLogEntry, ImportReport
    from advisor.cli.common import Commands
    from advisor.store.catalog import CatalogStore

CENT = Decimal("0.01")  # the table shows money to the cent; JSON and CSV keep it exact

DESCRIPTION = """\
The vendor catalog: products, release cycles, versions, prices and cost settings, imported
from endoflife.date, the agents' package managers and the organisation's own files, and the
fleet's installed software matched against it. docs/catalog.md has the details."""

EXAMPLES = """\
  fleetsight-advisor catalog import endoflife /srv/data/endoflife
  fleetsight-advisor catalog import endoflife https://endoflife.date/api/v1/products/firefox
  fleetsight-advisor catalog import org /etc/fleetsight/catalog.toml
  fleetsight-advisor catalog import upgradable
  fleetsight-advisor catalog import costs /etc/fleetsight/costs.toml
  fleetsight-advisor catalog show postgresql
  fleetsight-advisor catalog outdated --department finance --eol-within 90d --format csv
  fleetsight-advisor catalog unmatched --limit 50
  fleetsight-advisor catalog log --changes 12
"""


def _horizon(value: str) -> int:
    # Imported when an --eol-within is given, not when the parser is built.
    from advisor.catalog.fleet import horizon_days

    try:
        return horizon_days(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=date,
        metavar="DATE",
        help="the day end-of-life questions are asked for (default: today)",
    )


def add_parser(commands: Commands) -> None:
    """Register ``catalog``."""
    catalog = add_group(
        commands,
        "catalog",
        help="vendor catalog: import, show, outdated software, unmatched packages, log",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    actions = catalog.add_subparsers(dest="action", required=True, metavar="ACTION")
    imports = actions.add_parser("import", help="import catalog data (one transaction each)")
    kinds = imports.add_subparsers(dest="kind", required=True, metavar="SOURCE")
    eol = kinds.add_parser(
        "endoflife",
        help="endoflife.date data: a directory, a product .md, an API v1 .json or URL",
    )
    eol.add_argument("source", metavar="PATH_OR_URL")
    org = kinds.add_parser("org", help="the organisation's catalog file (.toml or .csv)")
    org.add_argument("file", type=Path, metavar="FILE")
    kinds.add_parser(
        "upgradable", help="versions the agents' package managers offer (from their inventories)"
    )
    costs = kinds.add_parser("costs", help="cost settings and hardware prices (costs.toml)")
    costs.add_argument("file", type=Path, metavar="FILE")

    show = actions.add_parser("show", help="one product: cycles, versions, prices, aliases")
    show.add_argument("product", metavar="PRODUCT")
    show.add_argument(
        "--versions",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="newest N versions (default: 10)",
    )
    _add_at(show)

    outdated = actions.add_parser(
        "outdated",
        help="hosts x products behind the latest version or (nearly) end-of-life",
        description="Hosts x products that are behind the newest released or offered version, "
        "or whose installed cycle is end-of-life now or within --eol-within; grouped by "
        "department. Revoked hosts are left out.",
    )
    outdated.add_argument("--department", metavar="D", help="only this department")
    outdated.add_argument(
        "--eol-within",
        type=_horizon,
        default=90,
        metavar="DURATION",
        help="'end-of-life soon' horizon, e.g. 90d or 12w (default: 90d)",
    )
    add_format_option(outdated)
    _add_at(outdated)

    unmatched = actions.add_parser(
        "unmatched", help="installed packages no product claims, by number of hosts"
    )
    unmatched.add_argument(
        "--limit",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="only the N most widespread (0: all)",
    )
    add_format_option(unmatched)
    log = actions.add_parser("log", help="the import log, newest first")
    log.add_argument(
        "--limit", type=non_negative_int, default=20, metavar="N", help="(default: 20)"
    )
    log.add_argument("--changes", type=int, metavar="ID", help="list what import ID changed")
    add_format_option(log)
    catalog.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """A ``catalog`` action on the configured database."""
    stores = open_stores(config, create=args.action == "import")
    try:
        today = args.at if getattr(args, "at", None) else dt.date.today()
        if args.action == "import":
            return _import(stores.catalog, args)
        if args.action == "show":
            return _show(stores.catalog, args.product, today, args.versions, sys.stdout)
        if args.action == "outdated":
            report = stores.catalog.outdated(
                today, horizon_days=args.eol_within, department=args.department
            )
            hostnames = {h.host_id: h.hostname for h in stores.hosts.list_hosts()}
            write_outdated(report, args.format, sys.stdout, today, hostnames)
            return 0
        if args.action == "unmatched":
            return _unmatched(stores.catalog, args.limit, args.format)
        return _log(stores.catalog, args.limit, args.changes, args.format)
    finally:
        stores.close()


def _import(store: CatalogStore, args: argparse.Namespace) -> int:
    from advisor.catalog.costs import load_costs
    from advisor.catalog_sources import read_endoflife, read_org

    now = time.time()
    with Progress(f"catalog import {args.kind}") as progress:
        if args.kind == "endoflife":
            progress.phase(f"reading {args.source}")
            records = read_endoflife(args.source)
            progress.phase(f"writing {len(records)} products")
            report = store.import_records(records, kind="endoflife", source=args.source, now=now)
        elif args.kind == "org":
            progress.phase(f"reading {args.file}")
            org, lines = read_org(args.file)
            progress.phase(f"writing {len(org.records)} products")
            report = store.import_records(
                list(org.records),
                kind="org",
                source=str(args.file),
                now=now,
                aliases=org.aliases,
                alias_lines=lines,
                problems=org.problems,
            )
        elif args.kind == "costs":
            progress.phase(f"reading {args.file}")
            costs = load_costs(args.file)
            progress.phase("writing")
            report = store.import_costs(costs, source=str(args.file), now=now)
        else:
            progress.phase("matching the agents' offered versions")
            report = store.import_offers(now=now)
    _print_import(report)
    return 1 if report.problems else 0


def _print_import(report: ImportReport) -> None:
    # Package names and versions of the "upgradable" import come from agents: escaped.
    for change in report.changes[:20]:
        print(f"  {printable(str(change))}")
    if len(report.changes) > 20:
        print(
            f"  ... and {len(report.changes) - 20} more (`catalog log --changes "
            f"{report.import_id}`)"
        )
    print(
        f"import {report.import_id} ({report.kind}, {printable(report.source)}): "
        f"{printable(report.summary)}"
    )
    for problem in report.problems:
        print(f"fleetsight-advisor: {printable(str(problem))}", file=sys.stderr)


def _milestone(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value) if value is not None else "-"


def _show(store: CatalogStore, slug: str, today: dt.date, newest: int, out: TextIO) -> int:
    from advisor.catalog.answers import is_end_of_life, is_supported
    from advisor.catalog.versions import is_valid, sort_versions

    catalog = store.load([slug])
    record = catalog.records.get(slug)
    if record is None:
        fail(f"no product {slug!r} in the catalog (see `catalog log`)")
    product = record.product
    ids = product.identifiers
    # Catalog text comes from endoflife.date, organisation files and agents' package
    # managers: escaped like everything else printed from the database.
    out.write(f"{printable(product.name)} ({printable(product.slug)})\n")
    out.write(
        f"  vendor     {printable_or(product.vendor)}\n"
        f"  category   {printable_or(product.category)}\n"
    )
    out.write(f"  versions   {product.version_scheme} ordering\n")
    for ecosystem, names in sorted(ids.packages.items()):
        out.write(f"  packages   {printable(ecosystem)}: {printable(', '.join(names))}\n")
    aliases = sorted(alias for alias, target in catalog.aliases.items() if target == slug)
    if aliases:
        out.write(f"  aliases    {printable(', '.join(aliases))}\n")
    for price in store.prices(slug):
        out.write(
            f"  price      {printable(str(price['licence']))} {price['amount']} "
            f"{printable(str(price['currency']))} as of {price['as_of']} "
            f"{printable(str(price['source'] or ''))}\n"
        )
    if record.requirements:
        ram = record.requirements.min_ram_bytes
        out.write(f"  needs      RAM {size(ram)}" if ram else "  needs      RAM -")
        out.write(f", OS {', '.join(record.requirements.os) or '-'}\n")
    out.write(f"\ncycles on {today}:\n")
    out.write(f"  {'CYCLE':<16} {'RELEASED':<10} {'EOL':<10} {'LATEST':<14} STATUS\n")
    for cycle in record.cycles:
        state = (
            "end-of-life"
            if is_end_of_life(cycle, today)
            else "supported"
            if is_supported(cycle, today)
            else "not released"
        )
        lts = " LTS" if cycle.lts else ""
        out.write(
            f"  {printable(cycle.name):<16} {_milestone(cycle.release_date):<10} "
            f"{_milestone(cycle.end_of_life):<10} {printable_or(cycle.latest):<14} {state}{lts}\n"
        )
    scheme = product.version_scheme
    by_name = {v.version: v for v in record.versions}
    ordered = sort_versions(scheme, [v for v in by_name if is_valid(scheme, v)])
    out.write(f"\nnewest versions ({len(by_name)} known):\n")
    for name in reversed(ordered[-newest:] if newest > 0 else []):
        version = by_name[name]
        tags = printable(",".join(sorted(version.tags)))
        out.write(
            f"  {printable(name):<20} {_milestone(version.release_date):<10} {tags:<20} "
            f"{printable(version.notes_url or '')}".rstrip()
            + "\n"
        )
    return 0


def _offered(row: OutdatedRow) -> str:
    return printable_or(row.offered) + (" (security)" if row.offered_security else "")


def _cost(row: OutdatedRow) -> str:
    if row.cost_per_seat is None:
        return "-"
    return f"{row.cost_per_seat.quantize(CENT)} {row.currency or ''}".rstrip()


def outdated_columns() -> list[Column[OutdatedRow]]:
    """The columns of ``catalog outdated`` (CSV: every field of the report, exact)."""
    from advisor.catalog.report import OUTDATED_COLUMNS, outdated_dict

    shown: dict[str, Column[OutdatedRow]] = {
        "department": Column("department", lambda r: r.department),
        "hostname": Column("hostname", lambda r: r.hostname, header="HOST"),
        "product": Column("product", lambda r: r.product),
        "installed": Column("installed", lambda r: r.installed),
        "latest": Column("latest", lambda r: r.latest),
        "newest_supported": Column(
            "newest_supported", lambda r: r.newest_supported, header="SUPPORTED"
        ),
        "offered": Column("offered", lambda r: r.offered, _offered),
        "status": Column("status", lambda r: r.status),
        "end_of_life_on": Column(
            "end_of_life_on", lambda r: outdated_dict(r)["end_of_life_on"], header="EOL"
        ),
        "cost_per_seat": Column(
            "cost_per_seat",
            lambda r: outdated_dict(r)["cost_per_seat"],
            _cost,
            header="COST",
            right=True,
        ),
    }

    def data_only(name: str) -> Column[OutdatedRow]:
        return Column(name, lambda r: outdated_dict(r)[name], table=False)

    return [shown.get(name) or data_only(name) for name in OUTDATED_COLUMNS]


def write_outdated(
    report: OutdatedReport,
    fmt: str,
    out: TextIO,
    today: dt.date,
    hostnames: Mapping[str, str] | None = None,
) -> None:
    """``report`` as one table (then a line per department and the versions that could not
    be compared), JSON grouped by department (as the API answers), or flat CSV."""
    from advisor.catalog.report import by_department, outdated_document

    if fmt == "json":
        write_json(out, {"at": today.isoformat(), **outdated_document(report)})
        return
    write_rows(
        out,
        fmt,
        report.rows,
        outdated_columns(),
        name="rows",
        empty=f"nothing outdated on {today}",
    )
    if fmt != "table":
        return
    names = hostnames or {}
    if report.rows or report.unordered:
        out.write("\n")
    for department, rows in by_department(report.rows).items():
        hosts = len({row.host_id for row in rows})
        out.write(f"{printable(department)}: {hosts} host(s), {len(rows)} outdated\n")
    for item in report.unordered:
        host = names.get(item.host_id, item.host_id)
        out.write(
            f"not compared: {printable(item.product)} {printable(repr(item.version))} "
            f"({printable(item.package)} on {printable(host)}): {printable(item.reason)}\n"
        )


def unmatched_columns() -> list[Column[UnmatchedPackage]]:
    return [
        Column("hosts", lambda u: u.hosts, right=True),
        Column("source", lambda u: u.source),
        Column("package", lambda u: u.package),
        Column("reason", lambda u: u.reason),
        Column("candidates", lambda u: list(u.candidates), lambda u: ", ".join(u.candidates)),
    ]


def _unmatched(store: CatalogStore, limit: int, fmt: str) -> int:
    items = store.unmatched()
    shown = items[:limit] if limit > 0 else items
    write_rows(sys.stdout, fmt, shown, unmatched_columns(), name="unmatched")
    if fmt == "table":
        # On stderr: the table stays rows only for whoever reads it after a pipe.
        print(
            f"{len(items)} unmatched package(s)"
            + (f", {len(shown)} shown" if len(shown) < len(items) else "")
            + "; map one to a product with an [aliases] entry in the organisation file",
            file=sys.stderr,
        )
    return 0


def log_columns() -> list[Column[ImportLogEntry]]:
    return [
        Column("import_id", lambda e: e.import_id, header="ID", right=True),
        time_column("imported_at", lambda e: e.imported_at, header="IMPORTED"),
        Column("kind", lambda e: e.kind),
        Column("summary", lambda e: e.summary),
        Column("source", lambda e: e.source),
    ]


def change_columns() -> list[Column[Change]]:
    def fields(change: Change) -> str:
        return "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in change.detail.items())

    return [
        Column("action", lambda c: c.action),
        Column("entity", lambda c: c.entity),
        Column("key", lambda c: c.key),
        Column("detail", lambda c: c.detail, fields),
    ]


def _log(store: CatalogStore, limit: int, changes_of: int | None, fmt: str) -> int:
    if changes_of is not None:
        changes = store.changes(changes_of)
        write_rows(sys.stdout, fmt, changes, change_columns(), name="changes", empty="no changes")
        return 0
    entries = store.import_log(limit)
    write_rows(sys.stdout, fmt, entries, log_columns(), name="imports", empty="no imports yet")
    return 0
