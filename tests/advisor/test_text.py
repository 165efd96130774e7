"""Agent-supplied text made safe for a terminal."""

from __future__ import annotations

import doctest

import pytest

import advisor.text
from advisor.text import printable, printable_or


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("fin-ws-12\x1b[2J\x1b]0;owned\x07", "fin-ws-12\\x1b[2J\\x1b]0;owned\\x07"),
        ("two\nlines\r\n", "two\\nlines\\r\\n"),
        ("tab\there", "tab\\there"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1 csi\x9b31m", "c1 csi\\x9b31m"),
        ("admin\u202egnp.exe", "admin\\u202egnp.exe"),
        ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
        ("line\u2028separator", "line\\u2028separator"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("no-break\xa0space", "no-break\\xa0space"),
        ("private\U000f0000use", "private\\U000f0000use"),
    ],
    ids=[
        "escape sequences",
        "line breaks",
        "tab",
        "NUL and DEL",
        "C1 control",
        "bidi override",
        "bidi isolate",
        "line separator",
        "zero-width space",
        "no-break space",
        "private use",
    ],
)
def test_it_escapes_what_a_terminal_would_not_just_show(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize(
    "text",
    ["fin-ws-12", "Büro-Rechner 東京", "LibreOffice 7.4.7 (x86_64)", "emoji 🙂", "back\\slash", ""],
)
def test_it_leaves_printable_text_of_any_script_as_it_is(text: str) -> None:
    assert printable(text) == text


def test_what_it_shows_is_one_line_of_printable_characters() -> None:
    every_code_point = "".join(chr(code) for code in range(0x3000))

    shown = printable(every_code_point)

    assert shown.isprintable()
    assert "\n" not in shown


def test_a_missing_value_shows_as_a_dash() -> None:
    assert printable_or(None) == "-"
    assert printable_or("") == "-"
    assert printable_or("x\n", missing="?") == "x\\n"


def test_its_examples_hold() -> None:
    result = doctest.testmod(advisor.text)

    assert result.attempted >= 3
    assert result.failed == 0
