"""Where catalog imports read from: endoflife.date directories, files and URLs; org files.

The thin I/O edge in front of the pure parsers in :mod:`advisor.catalog.importers`. Every
function reads everything first and returns parsed values, so the store gets all of an import
or (on a :class:`~advisor.catalog.errors.CatalogError`) none of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from advisor.catalog.errors import CatalogError
from advisor.catalog.importers.endoflife import (
    API_BASE_URL,
    load_directory,
    parse_api_product,
    parse_product,
    parse_release_data,
    with_notes_urls,
)
from advisor.catalog.importers.orgfile import OrgCatalog, parse_csv, parse_toml
from advisor.catalog.model import ProductRecord, merge_records

FETCH_TIMEOUT_SECONDS = 30.0


def read_endoflife(source: str, client: httpx.Client | None = None) -> list[ProductRecord]:
    """The products in ``source``, which is one of:

    - a directory with ``products/*.md`` and optionally ``releases/*.json`` (the
      endoflife.date layout, e.g. shared/data/endoflife), or a directory of ``*.md`` files;
    - one product file ``NAME.md`` (its ``../releases/NAME.json`` is used when present);
    - one API v1 response saved as ``.json``;
    - an ``http(s)://`` URL of an API v1 product (``https://endoflife.date/api/v1/products/
      firefox``), fetched with ``client`` (default: a new client with a 30 s timeout).
    """
    if source.startswith(("http://", "https://")):
        if client is not None:
            return [_fetch(source, client)]
        with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True) as own:
            return [_fetch(source, own)]
    path = Path(source)
    if path.is_dir():
        products = path / "products" if (path / "products").is_dir() else path
        releases = path / "releases" if (path / "releases").is_dir() else products
        records = load_directory(products, releases)
        if not records:
            raise CatalogError("no product files (*.md) found", source=source)
        return records
    if path.suffix == ".md":
        directory = path.parent.parent / "releases"
        return [load_directory_file(path, directory if directory.is_dir() else path.parent)]
    if path.suffix == ".json":
        return [parse_api_product(_read(path), source)]
    if not path.exists():
        raise CatalogError("no such file or directory", source=source)
    raise CatalogError(
        "expected a directory, a product .md file, an API v1 .json file or an http(s) URL",
        source=source,
    )


def load_directory_file(path: Path, releases: Path) -> ProductRecord:
    """One product file with its ``releases/NAME.json`` versions, as :func:`load_directory`
    reads each file of a directory."""
    record = parse_product(_read(path), str(path), slug=path.stem)
    data = releases / f"{path.stem}.json"
    if not data.is_file():
        return record
    versions = parse_release_data(_read(data), str(data), path.stem)
    return with_notes_urls(merge_records(ProductRecord(record.product, versions=versions), record))


def _fetch(url: str, client: httpx.Client) -> ProductRecord:
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise CatalogError(f"cannot fetch: {exc}", source=url) from exc
    return parse_api_product(response.text, url)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CatalogError(f"cannot read: {reason}", source=str(path)) from exc


def read_org(path: Path) -> tuple[OrgCatalog, dict[str, int]]:
    """The organisation catalog in ``path`` (``.toml`` or ``.csv``) and the line of each alias."""
    text = _read(path)
    if path.suffix == ".toml":
        return parse_toml(text, str(path)), alias_lines(text)
    if path.suffix == ".csv":
        return parse_csv(text, str(path)), {}
    raise CatalogError("expected a .toml or .csv file", source=str(path))


_KEY = re.compile(r'^\s*(?:"(?P<quoted>[^"]+)"|(?P<bare>[A-Za-z0-9_.:-]+))\s*=')


def alias_lines(text: str) -> dict[str, int]:
    """The line of each key in the ``[aliases]`` table of a TOML text (for error messages)."""
    lines: dict[str, int] = {}
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == "[aliases]"
            continue
        match = _KEY.match(line) if inside else None
        if match:
            lines[match["quoted"] or match["bare"]] = number
    return lines


def fetch_product(
    product: str, client: httpx.Client, base_url: str = API_BASE_URL
) -> ProductRecord:
    """Fetch ``/products/{product}`` from the API v1 with ``client`` and parse it.

    Transport failures and HTTP errors become :class:`CatalogError` naming the URL.
    """
    return _fetch(f"{base_url.rstrip('/')}/products/{product}", client)
