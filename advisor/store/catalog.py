"""The catalog in the database: imports that change only what changed, and reading it back.

Every import is one transaction: it all lands, or (on any error, a crash, a lost connection)
nothing does. Inside it, each table's wanted rows are compared with the stored ones and only
the differences are written, each recorded in ``catalog_changes`` under one ``catalog_imports``
row. Importing the same data again therefore writes no catalog row and logs one import whose
summary is "no changes".

What an import may remove (the rest it only adds to or updates):

- identifiers and release cycles of a product that the *same kind* of source gave before and
  no longer gives (endoflife.date re-imports never drop what the organisation's file added);
- aliases that the *same file* gave before and no longer gives;
- cost settings no longer in the cost file.

Products, versions and prices are never removed by an import: a version that was released
stays released, and prices are history (a new ``as_of`` is a new row). A field the source
leaves empty keeps its stored value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from advisor.catalog.costs import CostSettings
from advisor.catalog.errors import RowProblem
from advisor.catalog.fleet import (
    HostPackage,
    OutdatedReport,
    UnmatchedPackage,
    offer_key,
    offers_a_vendor_version,
    outdated,
    unmatched,
)
from advisor.catalog.importers.packagemanager import offered_versions
from advisor.catalog.model import ProductRecord
from advisor.catalog.rows import (
    Row,
    cost_setting_rows,
    costs_from_rows,
    cycle_row,
    hardware_price_rows,
    identifier_rows,
    join_tags,
    price_row,
    product_row,
    record_from_rows,
    requirement_row,
    version_row,
)
from advisor.catalog.stored import Catalog, Change, ImportKind, ImportLogEntry, ImportReport
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import (
    CURRENT_PACKAGES,
    HOSTS,
    UPGRADABLE,
    CatalogAlias,
    CatalogChange,
    CatalogCycle,
    CatalogIdentifier,
    CatalogImport,
    CatalogPrice,
    CatalogProduct,
    CatalogRequirement,
    CatalogVersion,
    CostSetting,
    HardwarePrice,
    table_of,
)
from agent.shared.wire import InstalledPackage, UpgradablePackage

PRODUCTS = table_of(CatalogProduct)
IDENTIFIERS = table_of(CatalogIdentifier)
CYCLES = table_of(CatalogCycle)
VERSIONS = table_of(CatalogVersion)
PRICES = table_of(CatalogPrice)
REQUIREMENTS = table_of(CatalogRequirement)
ALIASES = table_of(CatalogAlias)
HARDWARE = table_of(HardwarePrice)
SETTINGS = table_of(CostSetting)
IMPORTS = table_of(CatalogImport)
CHANGES = table_of(CatalogChange)


class CatalogStore(Protocol):
    """The software catalog (products, identifiers, cycles, versions, prices, aliases, costs)
    and the fleet's software read against it.

    Contract: ``now`` of an import is Unix seconds (the log's time); :meth:`outdated` takes
    a calendar date. Every import is one transaction (on any error nothing of it is stored)
    that writes only what differs from the stored rows (what it may remove is in the module
    docstring), logs one import whose changes :meth:`changes` lists in order, and returns
    that log entry's report; importing the same data again changes nothing ("no changes").
    Rows the parser rejected and aliases naming an unknown product are reported, never
    stored. :meth:`load` reads back what was imported (all products, or ``slugs``'), every
    alias with it. :meth:`outdated` and :meth:`unmatched` read the installed and offered
    packages of unrevoked hosts only.
    """

    def import_records(
        self,
        records: Sequence[ProductRecord],
        *,
        kind: ImportKind,
        source: str,
        now: float,
        aliases: Mapping[str, str] | None = None,
        alias_lines: Mapping[str, int] | None = None,
        problems: Sequence[RowProblem] = (),
    ) -> ImportReport: ...

    def import_costs(self, costs: CostSettings, *, source: str, now: float) -> ImportReport:
        """Replace the cost settings and add to the hardware price history."""
        ...

    def import_offers(self, *, now: float, source: str = "upgradable_packages") -> ImportReport:
        """Add the vendor versions the agents' package managers offer to their products."""
        ...

    def load(self, slugs: Iterable[str] | None = None) -> Catalog: ...

    def costs(self) -> CostSettings | None:
        """The imported cost settings; None when none were imported."""
        ...

    def prices(self, slug: str) -> list[Row]:
        """Every price of ``slug`` ever imported, newest ``as_of`` first; empty if none."""
        ...

    def import_log(self, limit: int = 20) -> list[ImportLogEntry]:
        """The newest ``limit`` imports, newest first."""
        ...

    def changes(self, import_id: int) -> list[Change]:
        """What import ``import_id`` changed, in the order it did it; empty if unknown."""
        ...

    def outdated(
        self, now: dt.date, *, horizon_days: int = 90, department: str | None = None
    ) -> OutdatedReport:
        """Outdated hosts x products on ``now`` (of ``department`` only, when given)."""
        ...

    def unmatched(self) -> list[UnmatchedPackage]:
        """Installed packages that match no product, with host counts."""
        ...


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class _Sync:
    """The changes of one import, applied on ``conn`` table by table."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.changes: list[Change] = []

    def apply(
        self,
        table: sa.Table,
        entity: str,
        wanted: Iterable[Row],
        existing: Iterable[Row],
        *,
        removable: Callable[[Row], bool] = lambda row: False,
    ) -> None:
        """Make ``existing`` (the stored rows in scope) into ``wanted``: insert, update and
        (for rows ``removable`` allows) delete, each recorded as a :class:`Change`."""
        keys = [column.name for column in table.primary_key.columns]

        def key_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(row[name] for name in keys)

        stored = {key_of(row): row for row in existing}
        target = {key_of(row): row for row in wanted}
        inserts, updates, deletes = [], [], []
        for key, row in target.items():
            old = stored.get(key)
            label = "/".join(str(_text(part)) for part in key)
            if old is None:
                inserts.append(row)
                self.changes.append(Change(entity, label, "added"))
                continue
            detail = {
                name: [_text(old[name]), _text(value)]
                for name, value in row.items()
                if name not in keys and old[name] != value
            }
            if detail:
                updates.append(row)
                self.changes.append(Change(entity, label, "changed", detail))
        for key, row in stored.items():
            if key not in target and removable(row):
                deletes.append(row)
                label = "/".join(str(_text(part)) for part in key)
                self.changes.append(Change(entity, label, "removed"))
        where = [table.c[name] == sa.bindparam(f"k_{name}") for name in keys]
        if deletes:
            self.conn.execute(
                table.delete().where(*where),
                [{f"k_{name}": row[name] for name in keys} for row in deletes],
            )
        if updates:
            columns = [name for name in updates[0] if name not in keys]
            statement = (
                table.update()
                .where(*where)
                .values({name: sa.bindparam(f"v_{name}") for name in columns})
            )
            self.conn.execute(
                statement,
                [
                    {**{f"k_{n}": row[n] for n in keys}, **{f"v_{n}": row[n] for n in columns}}
                    for row in updates
                ],
            )
        if inserts:
            self.conn.execute(table.insert(), inserts)


def _rows(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[Row]:
    return [dict(row._mapping) for row in conn.execute(sa.select(table).where(*where))]


def _merged(old: Row | None, new: Row, keep_when_empty: Sequence[str]) -> Row:
    """``new``, with the stored value kept for each field of ``keep_when_empty`` it leaves
    empty (None, or '' for text sets)."""
    if old is None:
        return new
    merged = dict(new)
    for name in keep_when_empty:
        if merged[name] in (None, "") and old[name] not in (None, ""):
            merged[name] = old[name]
    return merged


class SqlCatalogStore:
    """:class:`CatalogStore` on ``engine`` (one made by :func:`advisor.store.engine.make_engine`).

    Methods that write take ``now`` (Unix seconds) for the import log; each is one transaction.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # Imports read, then write: on SQLite they must take the write lock up front.
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    # -- imports ------------------------------------------------------------------------------

    def import_records(
        self,
        records: Sequence[ProductRecord],
        *,
        kind: ImportKind,
        source: str,
        now: float,
        aliases: Mapping[str, str] | None = None,
        alias_lines: Mapping[str, int] | None = None,
        problems: Sequence[RowProblem] = (),
    ) -> ImportReport:
        """Store ``records`` (and the ``aliases`` of ``source``) from a source of ``kind``.

        ``problems`` are rows the parser already rejected; they are logged with the import.
        An alias naming a product that is neither stored nor in ``records`` is rejected too,
        at its line in ``alias_lines``.
        """
        with self._writer.begin() as conn:
            sync = _Sync(conn)
            slugs = [record.product.slug for record in records]
            stored_products = {
                row["slug"]: row for row in _rows(conn, PRODUCTS, PRODUCTS.c.slug.in_(slugs))
            }
            sync.apply(
                PRODUCTS,
                "product",
                [self._product(stored_products.get(r.product.slug), r) for r in records],
                stored_products.values(),
            )
            for record in records:
                self._sync_record(conn, sync, record, kind)
            rejected = list(problems)
            if aliases is not None:
                rejected += self._sync_aliases(conn, sync, aliases, alias_lines or {}, source)
            return self._log(conn, sync, kind, source, now, rejected)

    def import_costs(self, costs: CostSettings, *, source: str, now: float) -> ImportReport:
        """Store cost settings (replacing the previous ones) and the hardware price list
        (adding to its history)."""
        with self._writer.begin() as conn:
            sync = _Sync(conn)
            sync.apply(
                SETTINGS,
                "cost setting",
                cost_setting_rows(costs),
                _rows(conn, SETTINGS),
                removable=lambda row: True,
            )
            sync.apply(
                HARDWARE, "hardware price", hardware_price_rows(costs), _rows(conn, HARDWARE)
            )
            return self._log(conn, sync, "costs", source, now, [])

    def import_offers(self, *, now: float, source: str = "upgradable_packages") -> ImportReport:
        """Add the versions the agents' package managers offer (the stored
        ``upgradable_packages``) to the products they match, tagged ``security`` when a
        security suite offers them. Offers that are no new vendor version are skipped: a
        Debian-native package (see :func:`advisor.catalog.fleet.is_native_deb`) and a new
        package revision of the same vendor version (``3.11.2-6+deb12u6`` after
        ``3.11.2-6+deb12u5``), whose security fix is the distribution's, not the vendor's."""
        catalog = self.load()
        matcher = catalog.matcher()
        with self._writer.begin() as conn:
            upgradable = [
                UpgradablePackage(
                    row.package,
                    row.installed,
                    row.candidate,
                    row.origin,
                    row.arch or None,
                    row.source,
                )
                for row in conn.execute(sa.select(UPGRADABLE))
            ]
            offers = offered_versions(
                [item for item in upgradable if offers_a_vendor_version(item)], matcher
            ).offered
            wanted: dict[tuple[str, str], set[str]] = {}
            for offer in offers:
                tags = wanted.setdefault((offer.product, offer.vendor_version), set())
                if offer.security:
                    tags.add("security")
            products = sorted({product for product, _ in wanted})
            stored = {
                (row["product"], row["version"]): row
                for row in _rows(conn, VERSIONS, VERSIONS.c.product.in_(products))
            }
            rows = []
            for (product, version), tags in sorted(wanted.items()):
                old = stored.get((product, version))
                new = {
                    "product": product,
                    "version": version,
                    "origin": old["origin"] if old else "package-manager",
                    "release_date": None,
                    "notes_url": None,
                    "tags": join_tags(tags),
                }
                rows.append(_merged(old, new, ("release_date", "notes_url", "tags")))
            sync = _Sync(conn)
            sync.apply(VERSIONS, "version", rows, [stored[key] for key in wanted if key in stored])
            return self._log(conn, sync, "package-manager", source, now, [])

    def _product(self, old: Row | None, record: ProductRecord) -> Row:
        new = product_row(record.product)
        if old is not None and new["name"] == new["slug"]:
            # An organisation file that only adds a price to a known product gives no name;
            # the parser then uses the slug, which must not replace the product's real name.
            new["name"] = old["name"]
        return _merged(old, new, ("vendor", "category", "changelog_template", "repology"))

    def _sync_record(
        self, conn: sa.Connection, sync: _Sync, record: ProductRecord, kind: ImportKind
    ) -> None:
        slug = record.product.slug
        sync.apply(
            IDENTIFIERS,
            "identifier",
            identifier_rows(record.product, kind),
            _rows(conn, IDENTIFIERS, IDENTIFIERS.c.product == slug, IDENTIFIERS.c.origin == kind),
            removable=lambda row: True,
        )
        sync.apply(
            CYCLES,
            "cycle",
            [cycle_row(cycle, kind) for cycle in record.cycles],
            _rows(conn, CYCLES, CYCLES.c.product == slug),
            removable=lambda row: row["origin"] == kind,
        )
        stored_versions = {
            row["version"]: row for row in _rows(conn, VERSIONS, VERSIONS.c.product == slug)
        }
        wanted_versions = []
        for version in record.versions:
            old = stored_versions.get(version.version)
            new = version_row(version, old["origin"] if old else kind)
            wanted_versions.append(_merged(old, new, ("release_date", "notes_url", "tags")))
        sync.apply(VERSIONS, "version", wanted_versions, stored_versions.values())
        if record.price is not None:
            sync.apply(
                PRICES,
                "price",
                [price_row(slug, record.price)],
                _rows(conn, PRICES, PRICES.c.product == slug),
            )
        if record.requirements is not None:
            sync.apply(
                REQUIREMENTS,
                "requirements",
                [requirement_row(slug, record.requirements)],
                _rows(conn, REQUIREMENTS, REQUIREMENTS.c.product == slug),
            )

    def _sync_aliases(
        self,
        conn: sa.Connection,
        sync: _Sync,
        aliases: Mapping[str, str],
        lines: Mapping[str, int],
        source: str,
    ) -> list[RowProblem]:
        known = set(conn.execute(sa.select(PRODUCTS.c.slug)).scalars())
        problems = [
            RowProblem(
                source, lines.get(alias, 1), f"alias {alias!r} names unknown product {slug!r}"
            )
            for alias, slug in aliases.items()
            if slug not in known
        ]
        wanted = [
            {"alias": alias, "product": slug, "source": source}
            for alias, slug in aliases.items()
            if slug in known
        ]
        sync.apply(
            ALIASES,
            "alias",
            wanted,
            _rows(conn, ALIASES, ALIASES.c.alias.in_(list(aliases)) | (ALIASES.c.source == source)),
            removable=lambda row: row["source"] == source,
        )
        return problems

    def _log(
        self,
        conn: sa.Connection,
        sync: _Sync,
        kind: str,
        source: str,
        now: float,
        problems: Sequence[RowProblem],
    ) -> ImportReport:
        changes = tuple(sync.changes)
        report = ImportReport(0, kind, source, now, changes, tuple(problems))
        import_id = conn.execute(
            IMPORTS.insert()
            .values(
                kind=kind,
                source=source,
                imported_at=now,
                added=report.count("added"),
                changed=report.count("changed"),
                removed=report.count("removed"),
                rejected=len(problems),
                summary=report.summary,
            )
            .returning(IMPORTS.c.id)
        ).scalar_one()
        if changes:
            conn.execute(
                CHANGES.insert(),
                [
                    {
                        "import_id": import_id,
                        "entity": change.entity,
                        "key": change.key,
                        "action": change.action,
                        "detail": change.detail,
                    }
                    for change in changes
                ],
            )
        return ImportReport(import_id, kind, source, now, changes, tuple(problems))

    # -- reading ------------------------------------------------------------------------------

    def load(self, slugs: Iterable[str] | None = None) -> Catalog:
        """The catalog (only the products ``slugs`` when given) with every alias."""
        with self._engine.connect() as conn:
            wanted = None if slugs is None else list(slugs)

            def scoped(table: sa.Table, column: str) -> list[Row]:
                clause = [table.c[column].in_(wanted)] if wanted is not None else []
                return _rows(conn, table, *clause)

            products = scoped(PRODUCTS, "slug")
            grouped: dict[str, dict[str, list[Row]]] = {
                row["slug"]: {"identifiers": [], "cycles": [], "versions": [], "prices": []}
                for row in products
            }
            for name, table in (
                ("identifiers", IDENTIFIERS),
                ("cycles", CYCLES),
                ("versions", VERSIONS),
                ("prices", PRICES),
            ):
                for row in scoped(table, "product"):
                    grouped[row["product"]][name].append(row)
            requirements = {row["product"]: row for row in scoped(REQUIREMENTS, "product")}
            aliases = {row["alias"]: row["product"] for row in _rows(conn, ALIASES)}
        records = {}
        for row in sorted(products, key=lambda r: r["slug"]):
            parts = grouped[row["slug"]]
            newest_price = max(parts["prices"], key=lambda p: p["as_of"], default=None)
            records[row["slug"]] = record_from_rows(
                row,
                parts["identifiers"],
                _cycles_in_order(parts["cycles"]),
                parts["versions"],
                newest_price,
                requirements.get(row["slug"]),
            )
        return Catalog(records, aliases)

    def costs(self) -> CostSettings | None:
        """The imported cost settings, or None when none were imported."""
        with self._engine.connect() as conn:
            return costs_from_rows(_rows(conn, SETTINGS), _rows(conn, HARDWARE))

    def prices(self, slug: str) -> list[Row]:
        """Every price of ``slug`` ever imported, newest first."""
        with self._engine.connect() as conn:
            rows = _rows(conn, PRICES, PRICES.c.product == slug)
        return sorted(rows, key=lambda row: row["as_of"], reverse=True)

    def import_log(self, limit: int = 20) -> list[ImportLogEntry]:
        """The newest ``limit`` imports, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(IMPORTS).order_by(IMPORTS.c.id.desc()).limit(limit))
            return [
                ImportLogEntry(row.id, row.kind, row.source, row.imported_at, row.summary)
                for row in rows
            ]

    def changes(self, import_id: int) -> list[Change]:
        """What import ``import_id`` changed, in the order it did it."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(CHANGES).where(CHANGES.c.import_id == import_id).order_by(CHANGES.c.id)
            )
            return [Change(row.entity, row.key, row.action, dict(row.detail)) for row in rows]

    # -- the fleet against the catalog ----------------------------------------------------------

    def outdated(
        self, now: dt.date, *, horizon_days: int = 90, department: str | None = None
    ) -> OutdatedReport:
        """Outdated hosts x products on ``now`` (of ``department`` only, when given).

        Only the packages some product or alias names are read: a fleet's other packages
        cannot be outdated products, and there are far more of them.
        """
        catalog = self.load()
        matcher = catalog.matcher()
        names = sorted(
            {
                name
                for record in catalog.records.values()
                for package_names in record.product.identifiers.packages.values()
                for name in package_names
            }
            | {alias.partition(":")[2] or alias for alias in catalog.aliases}
        )
        active: list[sa.ColumnElement[bool]] = [HOSTS.c.revoked_at.is_(None)]
        if department is not None:
            active.append(HOSTS.c.department == department)
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    CURRENT_PACKAGES.c.host_id,
                    HOSTS.c.hostname,
                    HOSTS.c.department,
                    CURRENT_PACKAGES.c.source,
                    CURRENT_PACKAGES.c.package,
                    CURRENT_PACKAGES.c.arch,
                    CURRENT_PACKAGES.c.version,
                )
                .join(HOSTS, HOSTS.c.host_id == CURRENT_PACKAGES.c.host_id)
                .where(CURRENT_PACKAGES.c.package.in_(names), *active)
            ).all()
            offer_rows = conn.execute(
                sa.select(UPGRADABLE)
                .join(HOSTS, HOSTS.c.host_id == UPGRADABLE.c.host_id)
                .where(UPGRADABLE.c.package.in_(names), *active)
            ).all()
        packages = [
            HostPackage(
                row.host_id,
                row.hostname,
                row.department,
                InstalledPackage(row.package, row.version, row.source, row.arch or None),
            )
            for row in rows
        ]
        offers = {}
        for row in offer_rows:
            offer = UpgradablePackage(
                row.package, row.installed, row.candidate, row.origin, row.arch or None, row.source
            )
            offers[offer_key(row.host_id, offer)] = offer
        return outdated(
            catalog.records,
            matcher,
            packages,
            offers,
            now,
            horizon_days=horizon_days,
            costs=self.costs(),
        )

    def unmatched(self) -> list[UnmatchedPackage]:
        """Installed packages of active hosts that match no product, with host counts."""
        matcher = self.load().matcher()
        with self._engine.connect() as conn:
            counts = conn.execute(
                sa.select(
                    CURRENT_PACKAGES.c.source,
                    CURRENT_PACKAGES.c.package,
                    sa.func.count(sa.distinct(CURRENT_PACKAGES.c.host_id)),
                )
                .join(HOSTS, HOSTS.c.host_id == CURRENT_PACKAGES.c.host_id)
                .where(HOSTS.c.revoked_at.is_(None))
                .group_by(CURRENT_PACKAGES.c.source, CURRENT_PACKAGES.c.package)
            ).all()
        return unmatched(matcher, [(source, package, hosts) for source, package, hosts in counts])


def _cycles_in_order(rows: list[Row]) -> list[Row]:
    """Cycles newest first, as the sources list them (answers rely on that order)."""
    return sorted(
        rows,
        key=lambda row: (row["release_date"] or dt.date.max, row["name"]),
        reverse=True,
    )
