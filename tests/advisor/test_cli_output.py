"""advisor.cli.output, units and ids: the table, JSON and CSV renderings, the rounded units
and the short ids every list command uses."""

from __future__ import annotations

import csv
import doctest
import io
import json
import types
from dataclasses import dataclass

import pytest

import advisor.cli.ids
import advisor.cli.output
import advisor.cli.units
from advisor.cli.common import CommandError
from advisor.cli.ids import resolve, short_ids
from advisor.cli.output import Column, write_rows
from advisor.cli.units import duration, iso_utc, percent, size


@dataclass(frozen=True)
class Disk:
    name: str
    used: float
    share: float


COLUMNS: list[Column[Disk]] = [
    Column("name", lambda d: d.name),
    Column("used_bytes", lambda d: d.used, lambda d: size(d.used), header="USED", right=True),
    Column("share", lambda d: d.share, lambda d: percent(d.share), right=True),
]
DISKS = [Disk("sda\x1b[2J", 3.3 * 1024**3, 0.8123), Disk("-sdb", 512.0, 0.034)]


@pytest.mark.parametrize("module", [advisor.cli.output, advisor.cli.units, advisor.cli.ids])
def test_the_examples_in_the_docstrings_hold(module: types.ModuleType) -> None:
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0


def test_a_table_has_a_header_aligned_columns_rounded_units_and_escaped_text() -> None:
    out = io.StringIO()

    write_rows(out, "table", DISKS, COLUMNS, name="disks")

    assert out.getvalue() == (
        "NAME           USED  SHARE\nsda\\x1b[2J  3.3 GiB    81%\n-sdb          512 B   3.4%\n"
    )


def test_json_keeps_exact_numbers_under_the_columns_names() -> None:
    out = io.StringIO()

    write_rows(out, "json", DISKS, COLUMNS, name="disks", extra={"at": "2026-12-07T06:48:00Z"})

    document = json.loads(out.getvalue())
    assert document["disks"][0] == {
        "name": "sda\x1b[2J",
        "used_bytes": 3.3 * 1024**3,
        "share": 0.8123,
    }
    assert document["at"] == "2026-12-07T06:48:00Z"


def test_csv_keeps_exact_numbers_escapes_text_and_defuses_formulas() -> None:
    out = io.StringIO()

    write_rows(out, "csv", DISKS, COLUMNS, name="disks")

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["name", "used_bytes", "share"],
        ["sda\\x1b[2J", repr(3.3 * 1024**3), "0.8123"],
        ["'-sdb", "512.0", "0.034"],
    ]


def test_an_empty_table_keeps_its_header_and_hints_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()

    write_rows(out, "table", [], COLUMNS, name="disks", empty="no disks yet")

    assert out.getvalue() == "NAME  USED  SHARE\n"
    assert capsys.readouterr().err == "no disks yet\n"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0004, "0 ms"), (9.96, "10.0 s"), (59.4, "59 s"), (60.0, "1 min"), (3599.0, "59 min 59 s"),
     (7200.0, "2 h"), (90061.0, "1 d 1 h"), (None, "-")],
)  # fmt: skip
def test_durations_round_to_what_matters_at_their_size(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_times_are_iso_8601_utc_in_whole_seconds_unless_exact() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1.5) == "1970-01-01T00:00:01Z"
    assert iso_utc(1.5, exact=True) == "1970-01-01T00:00:01.500000Z"
    assert iso_utc(float("nan")) is None


def test_short_ids_grow_only_where_two_ids_share_a_prefix() -> None:
    ids = ["a1b2c3d4e5f6", "a1b2c3d4e5ff", "ffff0000aaaa", "host-1"]

    assert short_ids(ids) == {
        "a1b2c3d4e5f6": "a1b2c3d4e5f6",
        "a1b2c3d4e5ff": "a1b2c3d4e5ff",
        "ffff0000aaaa": "ffff0000",
        "host-1": "host-1",
    }


def test_a_prefix_resolves_to_its_one_id_and_an_exact_id_wins_over_longer_ones() -> None:
    assert resolve("ffff", ["ffff0000aaaa", "a1b2"], "host") == "ffff0000aaaa"
    assert resolve("ab", ["ab", "abc"], "host") == "ab"
    with pytest.raises(CommandError) as ambiguous:
        resolve("a", ["ab", "ac"], "host")
    assert ambiguous.value.status == 2
    with pytest.raises(CommandError) as missing:
        resolve("", ["ab"], "host")
    assert missing.value.status == 1
