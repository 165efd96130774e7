"""Rows printed three ways: an aligned table for people (the default), JSON and CSV for
programs. Every list command describes its rows once, as :class:`Column` s, and
:func:`write_rows` renders them, so the formats cannot drift apart.

The table shows short ids, hostnames and rounded units, every cell escaped by
:func:`~advisor.text.printable` (hostnames, versions and notes come from agents). JSON and
CSV carry the exact values: full ids, unrounded numbers, ISO 8601 UTC times.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Literal, TextIO, TypeVar

from advisor.cli.units import iso_utc, when
from advisor.text import printable

FORMATS = ("table", "json", "csv")
Format = Literal["table", "json", "csv"]

Row = TypeVar("Row")

# Characters a spreadsheet reads as the start of a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One field of a listed row.

    ``value`` is the exact value, for JSON and CSV (str, int, float, bool, None, Decimal or
    a list of those); ``text`` is what the table shows (default: ``value`` as text).
    ``table=False`` keeps a field out of the table; ``data=False`` out of JSON and CSV.
    """

    name: str
    value: Callable[[Row], Any]
    text: Callable[[Row], str] | None = None
    header: str | None = None
    right: bool = False
    table: bool = True
    data: bool = True

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.name.upper().replace("_", " ")


def time_column(
    name: str,
    get: Callable[[Row], float | None],
    *,
    header: str | None = None,
    missing: str = "-",
    table: bool = True,
) -> Column[Row]:
    """A Unix time: ISO 8601 UTC to the second in the table (``missing`` for None), exact in
    JSON and CSV."""
    return Column(
        name,
        lambda row: iso_utc(get(row), exact=True),
        lambda row: when(get(row), missing),
        header=header,
        table=table,
    )


def add_format_option(parser: Any) -> None:
    """``--format table|json|csv`` (table by default)."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people, json or csv (exact values, full ids) for programs (default: table)",
    )


def write_rows(
    out: TextIO,
    fmt: str,
    rows: Sequence[Row],
    columns: Sequence[Column[Row]],
    *,
    name: str,
    empty: str | None = None,
    extra: Mapping[str, Any] | None = None,
    json_row: Callable[[Row], dict[str, Any]] | None = None,
) -> None:
    """``rows`` in format ``fmt``. JSON is ``{name: [row, ...], **extra}``; ``json_row``
    replaces the columns' values for a row when a JSON row holds more than a CSV line can.
    ``empty`` is a hint printed on stderr when a table has no rows (stdout keeps the header,
    so a script reading it sees the columns either way)."""
    if fmt == "json":
        data = [c for c in columns if c.data]
        document = {
            name: [
                json_row(row) if json_row else {c.name: _json(c.value(row)) for c in data}
                for row in rows
            ],
            **(extra or {}),
        }
        json.dump(document, out, indent=2, default=_json_default)
        out.write("\n")
    elif fmt == "csv":
        write_csv(out, rows, [c for c in columns if c.data])
    else:
        write_table(out, rows, [c for c in columns if c.table])
        if not rows and empty:
            print(empty, file=sys.stderr)


def write_table(out: TextIO, rows: Sequence[Row], columns: Sequence[Column[Row]]) -> None:
    """A header and one line per row, columns two spaces apart, the last one unpadded."""
    cells = [[printable(c.text(row) if c.text else table_text(c.value(row))) for c in columns]
             for row in rows]  # fmt: skip
    titles = [c.title for c in columns]
    widths = [max([len(t), *(len(line[i]) for line in cells)]) for i, t in enumerate(titles)]
    for line in [titles, *cells]:
        padded = [
            (cell.rjust(width) if column.right else cell.ljust(width))
            if i < len(columns) - 1 or column.right
            else cell
            for i, (cell, width, column) in enumerate(zip(line, widths, columns, strict=True))
        ]
        out.write("  ".join(padded).rstrip() + "\n")


def write_csv(out: TextIO, rows: Sequence[Row], columns: Sequence[Column[Row]]) -> None:
    """A header of the columns' names and one line per row, quoted by :mod:`csv`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([csv_cell(c.value(row)) for c in columns])


def csv_cell(value: Any) -> str:
    """A value as one CSV cell: exact numbers, empty for None, lists joined by ``;``.

    Text is escaped by :func:`printable` (CSV is read on terminals too) and text that a
    spreadsheet would run as a formula gets a leading apostrophe: a hostname such as
    ``=HYPERLINK(...)`` comes from an agent, and opening the export must not execute it.
    Numbers are left alone, so a negative effect stays a number.

    >>> [csv_cell(v) for v in (None, -0.25, "=1+2", "-rf", ["a", "b"], True)]
    ['', '-0.25', "'=1+2", "'-rf", 'a;b', 'true']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return "" if value != value else repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        text = ";".join(str(item) for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    text = printable(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_text(value: Any) -> str:
    """A value as a table shows it when its column says nothing else."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def write_json(out: TextIO, document: Any) -> None:
    """``document`` as indented JSON (NaN as null, Decimal as text)."""
    json.dump(_json(document), out, indent=2, default=_json_default)
    out.write("\n")


def _json(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None  # NaN is not JSON
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, as the API writes money
    raise TypeError(f"{type(value).__name__} is not JSON")
