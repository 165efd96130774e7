"""Cleaning text for a batch: whatever the agent reads comes out as the advisor takes it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import agent.shared.wire_limits
from advisor.api import batch_rules
from agent.text import (
    CUT_MARK,
    clean_name,
    clean_text,
    forbidden_in_name,
    forbidden_in_text,
)

# Every code point, lone surrogates included: what a decoder with surrogateescape, a JSON
# "\ud800" or a firmware string could hand the agent.
EVERY_CHARACTER = "".join(map(chr, range(0x110000)))


def test_a_printable_string_within_its_limit_is_returned_as_it_is() -> None:
    name = "Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz — Ünïcödé 日本"
    assert clean_name(name, 256) is name
    assert clean_text("line one\n\tline two\r\n", 100) == "line one\n\tline two\r\n"


def test_control_characters_are_shown_as_python_shows_them() -> None:
    assert clean_name("Dell\x1b[31m Inc.\x00", 256) == "Dell\\x1b[31m Inc.\\x00"
    assert clean_name("tab\there\nnewline", 256) == "tab\\x09here\\x0anewline"
    assert clean_name("\x7f\x85\u202eexe.txt\u2069\u2028\ud800", 256) == (
        "\\x7f\\x85\\u202eexe.txt\\u2069\\u2028\\ud800"
    )


def test_free_text_keeps_tabs_and_line_breaks_but_escapes_the_rest() -> None:
    assert clean_text("\x1b[1;31merror\x1b[0m:\tno disk\r\n\x0c", 100) == (
        "\\x1b[1;31merror\\x1b[0m:\tno disk\r\n\\x0c"
    )


def test_a_long_string_is_cut_to_its_limit_with_a_mark() -> None:
    assert clean_name("x" * 300, 256) == "x" * 255 + CUT_MARK
    assert len(clean_name("\x1b" * 300, 256)) == 256
    assert clean_text("a" * 50 + "the end", 10, keep_end=True) == CUT_MARK + "aathe end"


def test_the_forbidden_character_is_named_escaped() -> None:
    assert forbidden_in_name("1.0\x1b[0m") == "\\x1b"
    assert forbidden_in_name("1.0 beta") is None
    assert forbidden_in_name("a\nb") == "\\x0a"
    assert forbidden_in_text("a\nb\tc") is None
    assert forbidden_in_text("a\u202eb") == "\\u202e"


@pytest.mark.parametrize("clean", [clean_name, clean_text])
def test_no_character_the_advisor_refuses_survives_cleaning(
    clean: Callable[[str, int], str],
) -> None:
    cleaned = clean(EVERY_CHARACTER, 10 * len(EVERY_CHARACTER))
    forbidden = batch_rules._NAME_FORBIDDEN if clean is clean_name else batch_rules._TEXT_FORBIDDEN
    assert forbidden.search(cleaned) is None
    # Only the forbidden ones changed: everything else reads as it was.
    assert re.sub(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}", "", cleaned) == forbidden.sub(
        "", EVERY_CHARACTER
    )


def test_the_agents_text_limits_are_the_advisors() -> None:
    for name in (
        "MAX_APP",
        "MAX_VERSION",
        "MAX_LABEL_VALUE",
        "MAX_SHORT_NAME",
        "MAX_PROBE",
        "MAX_DETAIL",
        "MAX_PACKAGE",
        "MAX_ORIGIN",
        "MAX_DESCRIPTION",
        "MAX_HOSTNAME",
    ):
        assert getattr(agent.shared.wire_limits, name) == getattr(batch_rules, name), name
