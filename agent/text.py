"""Text read from the machine or a local client, made fit for a batch: the advisor's rules.

The advisor refuses a whole batch (docs/wire-format.md, "Limits") when any string in it holds
a control character (C0 but tab and line breaks in free text, DEL, C1), a line or paragraph
separator (U+2028, U+2029), a bidirectional mark, embedding, override or isolate (U+061C,
U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) or a lone surrogate, or is longer than its
field allows. A refused batch is a lost minute of the host's data, so whatever the agent reads
(DMI strings, package-manager output, mount points, a probe's stderr) passes through
:func:`clean_name` or :func:`clean_text` first: forbidden characters are shown escaped, as
Python shows them (``\\x1b``, ``\\u202e``), and the result is cut to the field's limit.

The rules and the limits are the wire format's (agent.shared.wire_limits), the advisor's too.
"""

from __future__ import annotations

import re

from agent.shared.wire_limits import NAME_FORBIDDEN, TEXT_FORBIDDEN

CUT_MARK = "…"
"""Ends a string that was cut, so a reader knows there was more."""


def clean_name(text: str, limit: int) -> str:
    """``text`` with every forbidden character escaped, cut to ``limit`` characters.

    >>> clean_name("Dell\\x1b[31m Inc.", 256)
    'Dell\\\\x1b[31m Inc.'
    >>> clean_name("x" * 10, 4)
    'xxx…'
    """
    # isprintable() refuses a superset of the forbidden characters and costs a fraction of the
    # regular expression: nearly every string the agent reads takes this way out.
    if len(text) <= limit and text.isprintable():
        return text
    return _cut(NAME_FORBIDDEN.sub(_escape, text), limit)


def clean_text(text: str, limit: int, *, keep_end: bool = False) -> str:
    """Like :func:`clean_name`, but tabs, CR and LF stay: for free text (a launch's detail).

    ``keep_end`` keeps the last ``limit`` characters instead of the first: a stderr tail says
    the most at its end.

    >>> clean_text("\\x1b[1;31merror\\x1b[0m: no disk\\n", 100)
    '\\\\x1b[1;31merror\\\\x1b[0m: no disk\\n'
    """
    if len(text) <= limit and (text.isprintable() or TEXT_FORBIDDEN.search(text) is None):
        return text
    escaped = TEXT_FORBIDDEN.sub(_escape, text)
    if keep_end and len(escaped) > limit:
        return CUT_MARK + escaped[len(escaped) - limit + 1 :] if limit > 1 else escaped[-limit:]
    return _cut(escaped, limit)


def forbidden_in_name(text: str) -> str | None:
    """The first character the advisor refuses in a name, escaped (``"\\\\x1b"``), or None."""
    if text.isprintable():
        return None
    found = NAME_FORBIDDEN.search(text)
    return None if found is None else _escape(found)


def forbidden_in_text(text: str) -> str | None:
    """Like :func:`forbidden_in_name`, but tabs and line breaks pass."""
    if text.isprintable():
        return None
    found = TEXT_FORBIDDEN.search(text)
    return None if found is None else _escape(found)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + CUT_MARK if limit > 1 else text[:limit]
