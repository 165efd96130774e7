"""Regenerate the settings table in docs/configuration.md from agent.config (the one source)."""

from __future__ import annotations

import re
from pathlib import Path

from agent.config import describe

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def table() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, help_text in describe():
        shown = f"`{default}`" if default else ""
        rows.append(f"| `{key}` | {shown} | {help_text.replace('|', '/')} |")
    return "\n".join(rows)


def main() -> None:
    text = DOC.read_text()
    new = re.sub(
        re.escape(BEGIN) + ".*?" + re.escape(END),
        lambda _: f"{BEGIN}\n{table()}\n{END}",
        text,
        flags=re.DOTALL,
    )
    DOC.write_text(new)


if __name__ == "__main__":
    main()
