"""Regenerate the settings tables in docs/ from the config schemas (the one source of each)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from advisor.config import describe as describe_advisor
from agent.config import describe as describe_agent

DOCS = Path(__file__).resolve().parents[1] / "docs"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
TABLES = {
    DOCS / "configuration.md": describe_agent,
    DOCS / "advisor-configuration.md": describe_advisor,
}


def table(describe: Callable[[], list[tuple[str, str, str]]]) -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, default, help_text in describe():
        shown = f"`{default}`" if default else ""
        rows.append(f"| `{key}` | {shown} | {help_text.replace('|', '/')} |")
    return "\n".join(rows)


def main() -> None:
    for doc, describe in TABLES.items():
        text = doc.read_text()
        new = re.sub(
            re.escape(BEGIN) + ".*?" + re.escape(END),
            lambda _, describe=describe: f"{BEGIN}\n{table(describe)}\n{END}",
            text,
            flags=re.DOTALL,
        )
        doc.write_text(new)


if __name__ == "__main__":
    main()
