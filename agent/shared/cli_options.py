"""Global options that a command line takes after its command as well as before it.

Both ``fleetsight-agent`` and ``fleetsight-advisor`` accept ``check-config --config FILE`` as
readily as ``--config FILE check-config``.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class AddOptions(Protocol):
    def __call__(self, parser: argparse.ArgumentParser, *, default: object) -> None: ...


def add_commands(
    parser: argparse.ArgumentParser, add_options: AddOptions
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Give ``parser`` the options ``add_options`` adds (default None) and a required
    ``command``, whose parsers (and theirs) take the same options after the command."""
    add_options(parser, default=None)
    return parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        parser_class=command_parser_class(add_options),
    )


def command_parser_class(add_options: AddOptions) -> type[argparse.ArgumentParser]:
    """A parser class for ``add_subparsers(parser_class=...)`` whose parsers also take the
    options ``add_options`` adds to the top-level parser.

    After the command they override only when given (their default is ``SUPPRESS``), so one
    typed before the command is not reset. Nested commands inherit the class. A command that
    defines one of these options itself keeps its own (``conflict_handler="resolve"``).
    """

    class CommandParser(argparse.ArgumentParser):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(conflict_handler="resolve", **kwargs)
            add_options(self, default=argparse.SUPPRESS)

    return CommandParser
