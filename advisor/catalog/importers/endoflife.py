"""endoflife.date data: product front matter, release-data JSON, and API v1 responses.

Pure parsers take text (and a ``source`` name for error messages) and return
:class:`~advisor.catalog.model.ProductRecord` values; :func:`load_directory` reads a
directory of files; fetching over HTTP is advisor.catalog_sources.fetch_product's.

Formats:

- product file (``products/NAME.md``): YAML front matter with ``title``, ``category``,
  ``identifiers`` and ``releases`` (``releaseCycle``, ``releaseDate``, ``eol``, ``eoas``,
  ``eoes``, ``lts``, ``latest``, ``latestReleaseDate``, ...). ``eol``/``eoas``/``eoes`` are a
  date or a boolean, ``lts`` a boolean or the date it started; ``latest`` may be missing.
- release data (``releases/NAME.json``): ``{"releases": {...}, "versions": {name: {"name",
  "date"}}}``. Only the versions are taken: its cycles feed the front matter upstream, which is
  the curated statement and wins.
- API v1 (``/api/v1/products/{product}``): ``{"schema_version", "result": ProductDetails}``,
  whose releases carry ``isEol``/``eolFrom``, ``isLts``/``ltsFrom``, ``latest: {name, date,
  link}``.

Versions of endoflife.date products follow no single scheme, so they are ordered with the
``generic`` scheme (see :mod:`advisor.catalog.versions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.catalog.errors import CatalogError
from advisor.catalog.identifiers import build_identifiers, vendor_from_cpe
from advisor.catalog.model import (
    Milestone,
    Product,
    ProductRecord,
    ProductVersion,
    ReleaseCycle,
    merge_records,
)
from advisor.catalog.validation import first_error

API_BASE_URL = "https://endoflife.date/api/v1"


class _Lenient(BaseModel):
    # The sources add fields over time; unknown ones are ignored, known ones are checked.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _FrontMatterCycle(_Lenient):
    release_cycle: str = Field(alias="releaseCycle")
    release_label: str | None = Field(None, alias="releaseLabel")
    codename: str | None = None
    release_date: dt.date | None = Field(None, alias="releaseDate")
    eoas: dt.date | bool | None = None
    eol: dt.date | bool | None = None
    eoes: dt.date | bool | None = None
    lts: dt.date | bool = False
    latest: str | None = None
    latest_release_date: dt.date | None = Field(None, alias="latestReleaseDate")
    link: str | None = None


class _FrontMatter(_Lenient):
    title: str
    category: str | None = None
    permalink: str | None = None
    changelog_template: str | None = Field(None, alias="changelogTemplate")
    identifiers: list[dict[str, str]] | None = None
    releases: list[_FrontMatterCycle]


class _ReleaseDataVersion(_Lenient):
    name: str
    date: dt.date | None = None


class _ReleaseData(_Lenient):
    versions: dict[str, _ReleaseDataVersion]


class _ApiVersion(_Lenient):
    name: str
    date: dt.date | None = None
    link: str | None = None


class _ApiRelease(_Lenient):
    name: str
    codename: str | None = None
    label: str | None = None
    release_date: dt.date | None = Field(None, alias="releaseDate")
    is_lts: bool = Field(False, alias="isLts")
    lts_from: dt.date | None = Field(None, alias="ltsFrom")
    is_eoas: bool | None = Field(None, alias="isEoas")
    eoas_from: dt.date | None = Field(None, alias="eoasFrom")
    is_eol: bool = Field(alias="isEol")
    eol_from: dt.date | None = Field(None, alias="eolFrom")
    is_eoes: bool | None = Field(None, alias="isEoes")
    eoes_from: dt.date | None = Field(None, alias="eoesFrom")
    latest: _ApiVersion | None = None


class _ApiIdentifier(_Lenient):
    id: str
    type: str


class _ApiProduct(_Lenient):
    name: str
    label: str
    category: str | None = None
    identifiers: list[_ApiIdentifier] = []
    releases: list[_ApiRelease]


class _ApiResponse(_Lenient):
    schema_version: str
    result: _ApiProduct


def _validation_error(exc: ValidationError, source: str) -> CatalogError:
    key, message = first_error(exc)
    value = exc.errors()[0].get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
    return CatalogError(f"{message}{shown}", source=source, key=key or None)


def _identifiers(entries: Iterable[tuple[str, str]], source: str) -> tuple[Any, str | None]:
    purls: list[str] = []
    cpes: list[str] = []
    repology: str | None = None
    for kind, value in entries:
        if kind == "purl":
            purls.append(value)
        elif kind == "cpe":
            cpes.append(value)
        elif kind == "repology" and repology is None:
            repology = value
    vendor = next((v for v in map(vendor_from_cpe, cpes) if v), None)
    return build_identifiers(purls, cpes, repology, source=source), vendor


def parse_product(text: str, source: str, slug: str | None = None) -> ProductRecord:
    """A product file's front matter as a record; ``slug`` defaults to its permalink.

    Raises :class:`CatalogError` naming ``source`` and the line (YAML syntax) or the key
    (``releases.3.eol``) that is wrong.
    """
    try:
        metadata = frontmatter.loads(text).metadata
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # +2: the opening "---" line, and YAML counts from 0.
        line = mark.line + 2 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError(f"bad YAML front matter: {problem}", source=source, line=line) from exc
    if not metadata:
        raise CatalogError("no YAML front matter (expected a leading '---' block)", source=source)
    try:
        parsed = _FrontMatter.model_validate(metadata)
    except ValidationError as exc:
        raise _validation_error(exc, source) from exc
    slug = slug or (parsed.permalink or "").strip("/")
    if not slug:
        raise CatalogError("no permalink and no slug given", source=source, key="permalink")
    entries = [(kind, value) for item in parsed.identifiers or [] for kind, value in item.items()]
    identifiers, vendor = _identifiers(entries, source)
    product = Product(
        slug=slug,
        name=parsed.title,
        vendor=vendor,
        category=parsed.category,
        identifiers=identifiers,
        version_scheme="generic",
        changelog_template=parsed.changelog_template,
    )
    cycles = tuple(
        ReleaseCycle(
            product=slug,
            name=cycle.release_cycle,
            label=cycle.release_label,
            codename=cycle.codename,
            release_date=cycle.release_date,
            end_of_support=cycle.eoas,
            end_of_life=cycle.eol,
            end_of_extended_support=cycle.eoes,
            lts=cycle.lts,
            latest=cycle.latest,
            latest_release_date=cycle.latest_release_date,
            link=cycle.link,
        )
        for cycle in parsed.releases
    )
    return with_notes_urls(
        ProductRecord(product, cycles, _latest_versions(slug, cycles), source=source)
    )


def _latest_versions(slug: str, cycles: Iterable[ReleaseCycle]) -> tuple[ProductVersion, ...]:
    # A cycle's latest is a released version even when release data lists none.
    return tuple(
        ProductVersion(slug, cycle.latest, cycle.latest_release_date)
        for cycle in cycles
        if cycle.latest
    )


def with_notes_urls(record: ProductRecord) -> ProductRecord:
    """``record`` with each version's notes URL filled from the changelog template.

    Only templates whose sole placeholder is ``__LATEST__`` are used: the others need cycle
    fields (``__RELEASE_CYCLE__``...) that a bare version does not carry.
    """
    template = record.product.changelog_template
    if not template or "__LATEST__" not in template or "__" in template.replace("__LATEST__", ""):
        return record
    versions = tuple(
        item
        if item.notes_url
        else dataclasses.replace(item, notes_url=template.replace("__LATEST__", item.version))
        for item in record.versions
    )
    return dataclasses.replace(record, versions=versions)


def _load_json(text: str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"bad JSON: {exc.msg}", source=source, line=exc.lineno) from exc


def parse_release_data(text: str, source: str, slug: str) -> tuple[ProductVersion, ...]:
    """The versions in a release-data JSON file, each with its release date."""
    try:
        parsed = _ReleaseData.model_validate(_load_json(text, source))
    except ValidationError as exc:
        raise _validation_error(exc, source) from exc
    return tuple(ProductVersion(slug, item.name, item.date) for item in parsed.versions.values())


def _milestone(flag: bool | None, when: dt.date | None) -> Milestone:
    return when if when is not None else flag


def parse_api_product(text: str, source: str) -> ProductRecord:
    """An API v1 product response (``{"schema_version", "result": {...}}``) as a record."""
    try:
        parsed = _ApiResponse.model_validate(_load_json(text, source)).result
    except ValidationError as exc:
        raise _validation_error(exc, source) from exc
    identifiers, vendor = _identifiers(((i.type, i.id) for i in parsed.identifiers), source)
    slug = parsed.name
    cycles = tuple(
        ReleaseCycle(
            product=slug,
            name=release.name,
            label=release.label,
            codename=release.codename,
            release_date=release.release_date,
            end_of_support=_milestone(release.is_eoas, release.eoas_from),
            end_of_life=_milestone(release.is_eol, release.eol_from),
            end_of_extended_support=_milestone(release.is_eoes, release.eoes_from),
            lts=release.lts_from or release.is_lts,
            latest=release.latest.name if release.latest else None,
            latest_release_date=release.latest.date if release.latest else None,
            link=release.latest.link if release.latest else None,
        )
        for release in parsed.releases
    )
    versions = tuple(
        ProductVersion(slug, release.latest.name, release.latest.date, release.latest.link)
        for release in parsed.releases
        if release.latest
    )
    product = Product(
        slug=slug,
        name=parsed.label,
        vendor=vendor,
        category=parsed.category,
        identifiers=identifiers,
        version_scheme="generic",
    )
    return ProductRecord(product, cycles, versions, source=source)


def load_directory(products_dir: Path, releases_dir: Path | None = None) -> list[ProductRecord]:
    """Every ``*.md`` product in ``products_dir``, with its ``releases_dir/NAME.json`` versions.

    The slug is the file's stem (endoflife.date's own key). Stops at the first bad file with a
    :class:`CatalogError` naming it, so a caller never stores half a directory.
    """
    records = []
    for path in sorted(products_dir.glob("*.md")):
        record = parse_product(path.read_text(encoding="utf-8"), str(path), slug=path.stem)
        data = releases_dir / f"{path.stem}.json" if releases_dir else None
        if data is not None and data.is_file():
            versions = parse_release_data(data.read_text(encoding="utf-8"), str(data), path.stem)
            record = with_notes_urls(
                merge_records(ProductRecord(record.product, versions=versions), record)
            )
        records.append(record)
    return records
