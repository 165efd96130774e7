"""``fleetsight-advisor``: serve the API and administer the advisor from a shell.

One module per command group, each with the same two entry points: ``add_parser(commands)``
registers its commands and sets ``run`` as their handler (``set_defaults(run=run)``), and
``run(args, config) -> int`` does the work. Building the parser imports only these modules
and what they import at the top, which is kept light (no SQLAlchemy, FastAPI, numpy, the
store, the simulator or the analysis): each ``run`` imports what it needs, so ``--help`` and
a mistyped option answer at once. tests/advisor/test_cli_startup.py holds that line.

Shared by the groups: :mod:`.common` (options, configuration, stores, errors as one line),
:mod:`.output` (table, JSON and CSV), :mod:`.units`, :mod:`.ids`, :mod:`.progress` and
:mod:`.args` (argparse value types).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from advisor import __version__
from advisor.cli import (
    budget,
    catalog,
    db,
    detect,
    findings,
    hosts,
    jobs,
    recommend,
    recommendations,
    serve,
    simulate,
    tokens,
    users,
)
from advisor.cli.common import PROG, add_common_options, run_command
from agent.shared.cli_options import add_commands

__all__ = ["build_parser", "main"]

GROUPS = (
    serve,
    db,
    tokens,
    users,
    hosts,
    jobs,
    catalog,
    simulate,
    detect,
    findings,
    recommend,
    recommendations,
    budget,
)
"""In the order ``--help`` lists their commands."""

EPILOG = """\
configuration:
  --config, or $FLEETSIGHT_ADVISOR_CONFIG, or /etc/fleetsight/advisor.toml (defaults if absent).
  Any key can be overridden as FLEETSIGHT_ADVISOR_<SECTION>_<KEY>, e.g.
  FLEETSIGHT_ADVISOR_DATABASE_URL_FILE=/run/secrets/db-url. All keys:
  docs/advisor-configuration.md.

first run:
  fleetsight-advisor db upgrade
  fleetsight-advisor token create --department finance --expires 7d
  fleetsight-advisor user create alice --role admin   (the web interface's first admin)
  fleetsight-advisor serve

every list (token, user, host, findings, recommendations, budget plan, catalog, jobs
status) takes --format table|json|csv;
`fleetsight-advisor COMMAND --help` shows a command's options and examples.
"""

# What a shell reports for a process killed by SIGPIPE (128 + 13): `set -o pipefail`
# scripts see the usual value when a reader such as `head` stops reading early.
BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every command's namespace has ``run``, its handler."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Fleetsight advisor: enrols agents, receives their batches and stores "
        "them (SQLite by default, PostgreSQL for a fleet), finds what got slower and why, and "
        "matches the fleet's software against the vendor catalog.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = add_commands(parser, add_common_options)
    for group in GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help, --version or a usage error
            sys.stdout.flush()  # a closed pipe raises here, inside the handler below
            raise
        status = run_command(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it would be a traceback
        return status
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE


def _discard_stdout() -> None:
    """The Python documentation's recipe (library/signal, "Note on SIGPIPE"): point stdout at
    /dev/null, so the interpreter's flush at exit does not raise BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's stand-in stream)
        pass
