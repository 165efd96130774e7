"""Text that came from agents, made safe to print on a terminal.

Hostnames, app names, versions and package names are written by agents (or by whoever holds an
agent's credential). Printed raw, an escape sequence in one could recolour, move the cursor of or
retitle the admin's terminal, a newline could forge an extra row of a table, and a bidirectional
override could make a name read as another. The CLI passes every such value through
:func:`printable` before it prints it. JSON output needs nothing: ``json.dumps`` escapes these
characters already.
"""

from __future__ import annotations

# Short forms where a reader knows them; everything else gets a numeric escape.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str) -> str:
    r"""``text`` with every character a terminal would not simply show replaced by an escape.

    Escaped: control characters (C0, DEL, C1), line and paragraph separators, format characters
    such as bidirectional overrides and zero-width joiners, spaces other than the plain one,
    and unassigned or private-use code points: whatever :meth:`str.isprintable` refuses.
    Backslashes are left alone, so this is for display, not a reversible encoding.

    >>> printable("fin-ws-12\x1b[2J\nroot")
    'fin-ws-12\\x1b[2J\\nroot'
    >>> printable("admin\u202egnp.exe")
    'admin\\u202egnp.exe'
    >>> printable("Grüße, 東京")
    'Grüße, 東京'
    """
    if text.isprintable():  # nearly always: one pass in C, no copy
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def printable_or(text: str | None, missing: str = "-") -> str:
    """:func:`printable` of ``text``, or ``missing`` when it is None or empty."""
    return printable(text) if text else missing


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
