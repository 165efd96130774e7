"""``fleetsight-advisor``: the central advisor's command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from advisor import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetsight-advisor",
        description=(
            "The Fleetsight advisor receives agent batches, finds degraded applications and "
            "ranks upgrade recommendations. This release ships the agent; the advisor service "
            "arrives in the next one (see README)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    build_parser().print_help()
    return 0
