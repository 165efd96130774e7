"""What the engine asks the vendor catalog, and the catalog's answers from its records.

The engine asks about versions as the fleet names them (package versions such as
``4:7.5.9-1~bpo12+1``) and the catalog speaks vendor versions (``7.5.9``):
:meth:`VendorCatalog.vendor_version` translates. The rest are the catalog's own verdicts
(:mod:`advisor.catalog.answers`): what is newer and supported, whether a cycle is
end-of-life, when a version was released, and what a seat's licence costs for a move.

:class:`RecordCatalog` answers from :class:`~advisor.catalog.model.ProductRecord` values (the
store's ``Catalog.records``), on one day; any other implementation (a test's table) will do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cmp_to_key, partial
from typing import Protocol

from advisor.catalog.answers import UpgradeAnswer, answer, cycle_of, upgrade_cost
from advisor.catalog.costs import CostSettings
from advisor.catalog.errors import InvalidVersion
from advisor.catalog.model import ProductRecord
from advisor.catalog.no_fee import NoFeeList, NoFeeProduct
from advisor.catalog.versions import compare_versions, is_valid, upstream_version

__all__ = ["Licence", "RecordCatalog", "VendorCatalog"]

# A release channel written after the version by a distribution: 140.9.0esr, 1.2.3lts.
_CHANNEL_SUFFIX = re.compile(r"(?<=\d)(esr|lts)$")


@dataclass(frozen=True, slots=True)
class Licence:
    """A seat's licence cost of one move: ``per_seat`` (None: unknown), a yearly cost when
    ``recurring``, the day the price was true and where it comes from."""

    per_seat: Decimal | None
    recurring: bool
    as_of: dt.date | None
    source: str


class VendorCatalog(Protocol):
    """The catalog's answers about one app's versions (the app as the fleet names it).

    Contract: pure and deterministic for one catalog and day; a version or app the catalog
    does not know gives None (never a guess), and :meth:`compare` is only asked about
    versions :meth:`vendor_version` returned.
    """

    def vendor_version(self, app: str, version: str) -> str | None:
        """The vendor version of a fleet's version name, or None if the catalog cannot
        order it (or does not know the app)."""
        ...

    def answer(self, app: str, version: str) -> UpgradeAnswer | None:
        """What the catalog says about vendor ``version`` of ``app`` today."""
        ...

    def compare(self, app: str, left: str, right: str) -> int:
        """-1, 0 or 1 as vendor version ``left`` is older, equal or newer than ``right``."""
        ...

    def release_date(self, app: str, version: str) -> dt.date | None:
        """When vendor ``version`` was released, if the catalog knows."""
        ...

    def licence(self, app: str, installed: str, target: str, method: str) -> Licence:
        """A seat's licence cost of moving from ``installed`` to ``target``."""
        ...


class RecordCatalog:
    """:class:`VendorCatalog` from product records, on ``today``.

    ``products`` maps an app name to its product slug where they differ (an app absent from
    it is its own slug). A fleet version is read as the package manager's: its upstream
    part (:func:`advisor.catalog.versions.upstream_version`, Debian rules: ``7.5.9`` of
    ``4:7.5.9-1~bpo12+1``; RPM's ``3.0.7-27.el9`` reads alike), kept only when valid in the
    product's scheme, then named as the vendor names that release (:meth:`_release_of`:
    ``140.9.0esr`` is ``140.9.0``, LibreOffice's ``26.2.2`` its final build ``26.2.2.2``).
    The licence rule is the catalog's (:func:`upgrade_cost`); a move to an older version (a
    roll-back) needs no new licence. A product the catalog has no price for costs no licence
    when it is on ``no_fee`` (production: the shipped list,
    :func:`advisor.catalog.no_fee.shipped_no_fee`), found by its slug or, for an app the
    catalog does not know, by its Debian packages (``packages``: app -> ``(source,
    package)`` as the inventory labels them); the licence's source then says so.

    >>> from advisor.catalog.model import Product, ProductVersion
    >>> record = ProductRecord(Product("gimp", "GIMP"),
    ...     versions=(ProductVersion("gimp", "2.10.36", dt.date(2023, 11, 7)),))
    >>> catalog = RecordCatalog({"gimp": record}, today=dt.date(2024, 1, 1), costs=None)
    >>> catalog.vendor_version("gimp", "2.10.36-1+deb12u1"), catalog.vendor_version("vim", "9")
    ('2.10.36', None)
    >>> catalog.release_date("gimp", "2.10.36")
    datetime.date(2023, 11, 7)
    """

    def __init__(
        self,
        records: Mapping[str, ProductRecord],
        *,
        today: dt.date,
        costs: CostSettings | None,
        products: Mapping[str, str] | None = None,
        horizon_days: int = 90,
        no_fee: NoFeeList | None = None,
        packages: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        self._records = dict(records)
        self._today = today
        self._costs = costs
        self._products = dict(products or {})
        self._horizon = horizon_days
        self._no_fee = no_fee
        self._packages = dict(packages or {})
        self._answers: dict[tuple[str, str], UpgradeAnswer | None] = {}
        self._vendor: dict[tuple[str, str], str | None] = {}

    def _record(self, app: str) -> ProductRecord | None:
        return self._records.get(self._products.get(app, app))

    def vendor_version(self, app: str, version: str) -> str | None:
        key = (app, version)
        if key not in self._vendor:
            self._vendor[key] = self._translate(app, version)
        return self._vendor[key]

    def _translate(self, app: str, version: str) -> str | None:
        record = self._record(app)
        if record is None or not version:
            return None
        scheme = record.product.version_scheme
        try:
            upstream = upstream_version("deb", version)
        except InvalidVersion:
            upstream = version
        for candidate in (upstream, version):
            if is_valid(scheme, candidate):
                return self._release_of(record, candidate)
        return None

    def _release_of(self, record: ProductRecord, version: str) -> str:
        """The vendor release a package's version is: itself when the catalog lists it;
        else without a channel suffix the vendor does not write (Debian's ``140.9.0esr`` is
        Firefox ``140.9.0``); else, when the package is less precise than the vendor
        (Debian's LibreOffice ``26.2.2`` is the vendor's final build ``26.2.2.2``), the newest
        build the catalog lists under it; else ``version`` as it is."""
        scheme = record.product.version_scheme
        listed = {v.version for v in record.versions}
        bare = _CHANNEL_SUFFIX.sub("", version)
        for name in dict.fromkeys((version, bare)):
            if name in listed:
                return name
        for name in dict.fromkeys((version, bare)):
            builds = [v for v in listed if v.startswith(name + ".") and is_valid(scheme, v)]
            if builds:
                return max(builds, key=cmp_to_key(partial(compare_versions, scheme)))
        return version

    def answer(self, app: str, version: str) -> UpgradeAnswer | None:
        key = (app, version)
        if key not in self._answers:
            record = self._record(app)
            result = None
            if record is not None:
                try:
                    result = answer(record, version, self._today, horizon_days=self._horizon)
                except InvalidVersion:
                    result = None
            self._answers[key] = result
        return self._answers[key]

    def compare(self, app: str, left: str, right: str) -> int:
        record = self._record(app)
        if record is None:
            raise LookupError(f"the catalog does not know {app}")
        return compare_versions(record.product.version_scheme, left, right)

    def release_date(self, app: str, version: str) -> dt.date | None:
        record = self._record(app)
        if record is None:
            return None
        dates = [v.release_date for v in record.versions if v.version == version]
        return dates[0] if dates else None

    def licence(self, app: str, installed: str, target: str, method: str) -> Licence:
        record = self._record(app)
        if record is None or record.price is None:
            free = self._no_fee_product(app, record)
            if free is not None:
                return Licence(Decimal(0), False, free.as_of, free.note)
        if record is None or self._costs is None:
            return Licence(None, False, None, "the catalog has no price for this product")
        if self.compare(app, target, installed) < 0:
            return Licence(Decimal(0), False, None, "a roll-back: the seat ran it before")
        installed_cycle, target_cycle = cycle_of(record, installed), cycle_of(record, target)
        leaves = (
            installed_cycle is None
            or target_cycle is None
            or installed_cycle.name != target_cycle.name
        )
        try:
            cost = upgrade_cost(record.price, self._costs, method, leaves_cycle=leaves)
        except KeyError:
            return Licence(None, False, None, f"no install hours for method {method!r}")
        price = record.price
        source = (price.source or "catalog") if price else (cost.note or "no licence price known")
        if cost.licence is None or cost.total is None:
            return Licence(None, False, cost.price_as_of, cost.note or source)
        recurring = price is not None and price.licence == "per_seat_year"
        return Licence(cost.licence, recurring, cost.price_as_of, source)

    def _no_fee_product(self, app: str, record: ProductRecord | None) -> NoFeeProduct | None:
        """The no-fee list's entry for ``app``: by its product's slug; for an app the
        catalog does not know, by its Debian packages too (a product the catalog knows is
        what the organisation says it is, whatever its packages)."""
        if self._no_fee is None:
            return None
        found = self._no_fee.by_slug(self._products.get(app, app))
        if found is None and record is None:
            dpkg = [name for source, name in self._packages.get(app, ()) if source == "dpkg"]
            found = self._no_fee.by_packages(dpkg)
        return found
