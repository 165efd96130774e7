from __future__ import annotations

import math

import pytest

from advisor.analysis.errors import SeriesFormatError
from advisor.analysis.series_csv import parse_series_csv


def test_it_reads_seconds_and_values_with_gaps() -> None:
    series = parse_series_csv(b"t,value\n10,1.5\n20,\n20,NaN\n35.5,2\n", "s.csv")
    assert series.t.tolist() == [10.0, 20.0, 20.0, 35.5]
    assert series.values[[0, 3]].tolist() == [1.5, 2.0]
    assert math.isnan(series.values[1])
    assert math.isnan(series.values[2])


def test_it_reads_iso_times_as_utc_unless_they_name_a_zone() -> None:
    data = b"t,value\n2025-03-01T08:00:00,1\n2025-03-01T09:00:00+01:00,2\n2025-03-01T08:30:00Z,3\n"
    series = parse_series_csv(data, "s.csv")
    assert series.t.tolist() == [1740816000.0, 1740816000.0, 1740817800.0]


def test_it_accepts_a_byte_order_mark_quotes_crlf_spaces_and_blank_lines() -> None:
    data = b'\xef\xbb\xbfT, Value\r\n\r\n"1", "2.5"\r\n2,3\r\n\r\n'
    series = parse_series_csv(data, "s.csv")
    assert series.values.tolist() == [2.5, 3.0]


def test_it_reads_a_header_alone_as_an_empty_series() -> None:
    assert parse_series_csv(b"t,value\n", "s.csv").values.size == 0


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", None, "the file is empty"),
        (b"\n\n", None, "the file is empty"),
        (b"1,2.5\n2,3\n", 1, "missing header"),
        (b"time,load\n1,2\n", 1, "expected the header `t,value`, found 'time,load'"),
        (b"t,value\n1,2\n2,fast\n", 3, "value 'fast' is not a number"),
        (b"t,value\n1,inf\n", 2, "value 'inf' is not a finite number"),
        (b"t,value\n1,2\n3,4\n2,5\n", 4, "earlier than the t of line 3"),
        (b"t,value\n1,2,3\n", 2, "expected 2 columns (t,value), found 3"),
        (b"t,value\n5\n", 2, "expected 2 columns (t,value), found 1"),
        (b"t,value\n,2\n", 2, "t is empty"),
        (b"t,value\nyesterday,2\n", 2, "neither a number of seconds nor an ISO 8601 time"),
        (b"t,value\n1,2\n2,\xff\n", 3, "not UTF-8"),
    ],
    ids=[
        "empty",
        "blank lines only",
        "no header",
        "wrong header",
        "non-numeric value",
        "infinite value",
        "time going backwards",
        "extra column",
        "missing column",
        "empty time",
        "unreadable time",
        "not utf-8",
    ],
)
def test_it_refuses_a_bad_file_naming_the_file_and_line(
    data: bytes, line: int | None, message: str
) -> None:
    with pytest.raises(SeriesFormatError) as caught:
        parse_series_csv(data, "export.csv")
    assert caught.value.source == "export.csv"
    assert caught.value.line == line
    assert message in str(caught.value)
    where = f"export.csv, line {line}: " if line else "export.csv: "
    assert str(caught.value).startswith(where)
