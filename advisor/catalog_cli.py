"""``fleetsight-advisor catalog ...`` and ``fleetsight-advisor api-token ...``.

Exit status: 0 done; 1 when something could not be used (a file, the database, rejected rows
of an organisation file: the good rows are imported and the bad ones listed, and the status
says the file needs fixing); 2 for a bad command line (argparse's own).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from advisor.catalog.errors import CatalogError
from advisor.catalog.fleet import OutdatedReport, OutdatedRow, horizon_days
from advisor.config import AdvisorConfig
from advisor.text import printable, printable_or

if TYPE_CHECKING:
    from advisor.store.catalog import CatalogStore
    from advisor.store.open import Stores

CENT = Decimal("0.01")  # the table shows money to the cent; JSON and CSV keep it exact

CATALOG_DESCRIPTION = """\
The vendor catalog: products, release cycles, versions, prices and cost settings, imported
from endoflife.date, the agents' package managers and the organisation's own files, and the
fleet's installed software matched against it. docs/catalog.md has the details."""

CATALOG_EPILOG = """\
examples:
  fleetsight-advisor catalog import endoflife /srv/data/endoflife
  fleetsight-advisor catalog import endoflife https://endoflife.date/api/v1/products/firefox
  fleetsight-advisor catalog import org /etc/fleetsight/catalog.toml
  fleetsight-advisor catalog import upgradable
  fleetsight-advisor catalog import costs /etc/fleetsight/costs.toml
  fleetsight-advisor catalog show postgresql
  fleetsight-advisor catalog outdated --department finance --eol-within 90d --format csv
  fleetsight-advisor catalog unmatched --limit 50
"""

FORMATS = ("table", "json", "csv")


def _date_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _horizon_arg(value: str) -> int:
    try:
        return horizon_days(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=_date_arg,
        metavar="DATE",
        help="the day end-of-life questions are asked for (default: today)",
    )


def add_parsers(commands: Any) -> None:
    """Add ``catalog`` and ``api-token`` to the CLI (``commands``: argparse's subparsers)."""
    catalog = commands.add_parser(
        "catalog",
        help="vendor catalog: import, show, outdated software, unmatched packages",
        description=CATALOG_DESCRIPTION,
        epilog=CATALOG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--versions", type=int, default=10, metavar="N", help="newest N versions (default: 10)"
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
        type=_horizon_arg,
        default=90,
        metavar="DURATION",
        help="'end-of-life soon' horizon, e.g. 90d or 12w (default: 90d)",
    )
    outdated.add_argument("--format", choices=FORMATS, default="table", help="(default: table)")
    _add_at(outdated)

    unmatched = actions.add_parser(
        "unmatched", help="installed packages no product claims, by number of hosts"
    )
    unmatched.add_argument(
        "--limit", type=int, default=0, metavar="N", help="only the N most widespread (0: all)"
    )
    log = actions.add_parser("log", help="the import log, newest first")
    log.add_argument("--limit", type=int, default=20, metavar="N", help="(default: 20)")
    log.add_argument("--changes", type=int, metavar="ID", help="list what import ID changed")

    token = commands.add_parser(
        "api-token", help="admin tokens for the catalog API (sent as 'Authorization: Bearer')"
    )
    token_actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_actions.add_parser("create", help="create a token (shown once)")
    create.add_argument("--note", help="free text shown in `api-token list`")
    token_actions.add_parser("list", help="list tokens (never their secrets)")
    revoke = token_actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token_id")


def _stores(config: AdvisorConfig, *, create: bool = False) -> Stores:
    from advisor.store.open import open_store

    return open_store(config, create=create)


def cmd_catalog(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """Run a ``catalog`` action on the configured database."""
    stores = _stores(config, create=args.action == "import")
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
            write_outdated(report, args.format, sys.stdout, today)
            return 0
        if args.action == "unmatched":
            return _unmatched(stores.catalog, args.limit)
        return _log(stores.catalog, args.limit, args.changes)
    finally:
        stores.close()


def _import(store: CatalogStore, args: argparse.Namespace) -> int:
    from advisor.catalog.costs import load_costs
    from advisor.catalog_sources import read_endoflife, read_org

    now = time.time()
    if args.kind == "endoflife":
        records = read_endoflife(args.source)
        report = store.import_records(records, kind="endoflife", source=args.source, now=now)
    elif args.kind == "org":
        org, lines = read_org(args.file)
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
        report = store.import_costs(load_costs(args.file), source=str(args.file), now=now)
    else:
        report = store.import_offers(now=now)
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
    return 1 if report.problems else 0


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
        raise CatalogError(f"no product {slug!r} in the catalog (see `catalog log`)")
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
        out.write(f"  needs      RAM {ram / 1024**3:g} GiB" if ram else "  needs      RAM -")
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
            f"{printable(version.notes_url or '')}\n".rstrip()
            + "\n"
        )
    return 0


OUTDATED_COLUMNS = (
    "department",
    "host_id",
    "hostname",
    "product",
    "package",
    "package_version",
    "installed",
    "cycle",
    "latest",
    "newest_in_cycle",
    "newest_supported",
    "offered",
    "offered_security",
    "status",
    "end_of_life_on",
    "cost_per_seat",
    "currency",
)


def outdated_dict(row: OutdatedRow) -> dict[str, Any]:
    """``row`` as JSON-ready values (dates ISO, money as decimal text)."""
    values: dict[str, Any] = {name: getattr(row, name) for name in OUTDATED_COLUMNS}
    if row.end_of_life_on is not None:
        values["end_of_life_on"] = row.end_of_life_on.isoformat()
    if row.cost_per_seat is not None:
        values["cost_per_seat"] = str(row.cost_per_seat)
    return values


def outdated_document(report: OutdatedReport) -> dict[str, Any]:
    """``report`` grouped by department, JSON-ready: what ``catalog outdated --format json``
    prints and the API's /catalog/outdated answers, beside their own ``at``."""
    return {
        "departments": [
            {
                "department": department,
                "hosts": len({row.host_id for row in rows}),
                "rows": [outdated_dict(row) for row in rows],
            }
            for department, rows in _by_department(report.rows).items()
        ],
        "unordered": [
            {
                "host_id": u.host_id,
                "product": u.product,
                "package": u.package,
                "version": u.version,
                "reason": u.reason,
            }
            for u in report.unordered
        ],
    }


def _by_department(rows: Sequence[OutdatedRow]) -> dict[str, list[OutdatedRow]]:
    groups: dict[str, list[OutdatedRow]] = {}
    for row in rows:
        groups.setdefault(row.department, []).append(row)
    return groups


def write_outdated(report: OutdatedReport, fmt: str, out: TextIO, today: dt.date) -> None:
    """``report`` as a table per department, JSON grouped by department, or flat CSV."""
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=OUTDATED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in report.rows:
            # Escaped like the table (CSV is read on terminals too); JSON escapes by itself.
            writer.writerow(
                {
                    name: printable(value) if isinstance(value, str) else value
                    for name, value in outdated_dict(row).items()
                }
            )
        return
    if fmt == "json":
        document = {"at": today.isoformat(), **outdated_document(report)}
        json.dump(document, out, indent=2)
        out.write("\n")
        return
    if not report.rows:
        out.write(f"nothing outdated on {today}\n")
    # Hostnames, versions and offers come from agents: every text is escaped.
    for department, rows in _by_department(report.rows).items():
        hosts = len({row.host_id for row in rows})
        out.write(f"{printable(department)}: {hosts} host(s), {len(rows)} outdated\n")
        out.write(
            f"  {'HOST':<20} {'PRODUCT':<14} {'INSTALLED':<14} {'LATEST':<12} {'SUPPORTED':<12} "
            f"{'OFFERED':<12} {'STATUS':<17} {'EOL':<10} COST\n"
        )
        for row in rows:
            cost = (
                f"{row.cost_per_seat.quantize(CENT)} {row.currency}"
                if row.cost_per_seat is not None
                else "-"
            )
            offered = printable_or(row.offered) + (" (security)" if row.offered_security else "")
            out.write(
                f"  {printable(row.hostname):<20} {printable(row.product):<14} "
                f"{printable(row.installed):<14} {printable_or(row.latest):<12} "
                f"{printable_or(row.newest_supported):<12} {offered:<12} "
                f"{row.status:<17} {_milestone(row.end_of_life_on):<10} {cost}\n"
            )
    for item in report.unordered:
        out.write(
            f"not compared: {printable(item.product)} {item.version!r} "
            f"({printable(item.package)} on {printable(item.host_id)}): "
            f"{printable(item.reason)}\n"
        )


def _unmatched(store: CatalogStore, limit: int) -> int:
    items = store.unmatched()
    shown = items[:limit] if limit > 0 else items
    print(f"{'HOSTS':>6}  {'SOURCE':<8} {'PACKAGE':<40} REASON")
    for item in shown:
        reason = item.reason + (f" ({', '.join(item.candidates)})" if item.candidates else "")
        # Package names are what agents reported.
        print(
            f"{item.hosts:>6}  {printable(item.source):<8} {printable(item.package):<40} "
            f"{printable(reason)}"
        )
    print(
        f"{len(items)} unmatched package(s)"
        + (f", {len(shown)} shown" if len(shown) < len(items) else "")
        + "; map one to a product with an [aliases] entry in the organisation file"
    )
    return 0


def _log(store: CatalogStore, limit: int, changes_of: int | None) -> int:
    if changes_of is not None:
        for change in store.changes(changes_of):
            print(printable(str(change)))
        return 0
    for entry in store.import_log(limit):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.imported_at))
        print(
            f"{entry.import_id:>5}  {when}  {entry.kind:<16} {printable(entry.summary)}  "
            f"({printable(entry.source)})"
        )
    return 0


def cmd_api_token(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``api-token create|list|revoke`` on the configured database."""
    stores = _stores(config, create=args.action != "list")
    now = time.time()
    try:
        if args.action == "create":
            secret, record = stores.api_tokens.create(now=now, note=args.note)
            print(f"api token {record.token_id}")
            print(f"  {secret}")
            print("shown once; send it as 'Authorization: Bearer TOKEN' to /api/v1/catalog/...")
        elif args.action == "list":
            tokens = stores.api_tokens.list()
            for token in tokens:
                state = "revoked" if token.revoked_at else "valid"
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(token.created_at))
                print(
                    f"{token.token_id}  {state:<8} created {created}  {printable(token.note or '')}"
                )
            if not tokens:
                print("no api tokens; create one with `fleetsight-advisor api-token create`")
        else:
            if not stores.api_tokens.revoke(args.token_id, now=now):
                print(f"fleetsight-advisor: no api token {args.token_id}", file=sys.stderr)
                return 1
            print(f"api token {args.token_id} revoked")
    finally:
        stores.close()
    return 0
