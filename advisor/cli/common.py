"""What every command shares: the global options, the configuration, the stores, and the
rule that a failure is one line on stderr and an exit status, never a traceback.

Nothing heavy is imported here: the store (and with it SQLAlchemy) is imported by
:func:`open_stores` when a command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from advisor.config import DEFAULT_CONFIG_PATH, AdvisorConfig, load_config
from advisor.errors import ConfigError, FleetsightAdvisorError
from advisor.text import printable

if TYPE_CHECKING:
    from collections.abc import Callable

    from advisor.store.open import Stores

    Handler = Callable[[argparse.Namespace, AdvisorConfig], int]
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "fleetsight-advisor"

OK = 0
FAILED = 1
USAGE = 2
INTERRUPTED = 130


class CommandError(FleetsightAdvisorError):
    """A command cannot do what it was asked: ``message`` is printed as one line after the
    program's name, and the program exits with ``status``.

    >>> CommandError("no host 'h1'").status
    1
    """

    def __init__(self, message: str, status: int = FAILED) -> None:
        super().__init__(message)
        self.status = status


def add_group(
    commands: Commands, name: str, *, help: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """A command's parser whose ``--help`` says what it does and shows ``examples``."""
    return commands.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def fail(message: str, status: int = FAILED) -> NoReturn:
    raise CommandError(message, status)


def add_common_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """``--config``, ``--state-dir`` and ``--database-url``, before or after the command."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=default,
        help=f"configuration file (default: $FLEETSIGHT_ADVISOR_CONFIG or {DEFAULT_CONFIG_PATH})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        default=default,
        help="directory of the embedded SQLite database",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="SQLAlchemy URL (prefer FLEETSIGHT_ADVISOR_DATABASE_URL_FILE)",
    )


def overrides(args: argparse.Namespace) -> dict[str, str]:
    """The command line's settings as the environment variables that override the file."""
    found = {}
    if args.config is not None:
        found["FLEETSIGHT_ADVISOR_CONFIG"] = str(args.config)
    if args.state_dir is not None:
        found["FLEETSIGHT_ADVISOR_STATE_DIR"] = str(args.state_dir)
    if args.database_url is not None:
        found["FLEETSIGHT_ADVISOR_DATABASE_URL"] = args.database_url
    if getattr(args, "listen", None):
        found["FLEETSIGHT_ADVISOR_SERVER_LISTEN"] = args.listen
    if getattr(args, "workers", None):
        found["FLEETSIGHT_ADVISOR_SERVER_WORKERS"] = str(args.workers)
    return found


def open_stores(config: AdvisorConfig, *, create: bool = False) -> Stores:
    """The stores of the configured database. A command that only reads passes
    ``create=False`` (the default), so a missing SQLite file is an error, not a new file."""
    from advisor.store.open import open_store

    return open_store(config, create=create)


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages.

    >>> redacted("postgresql://fleet:s3cret@db/fleet")
    'postgresql://fleet:***@db/fleet'
    """
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def run_command(args: argparse.Namespace) -> int:
    """Load the configuration and run the handler the command registered as ``run``; every
    expected failure becomes one line on stderr and an exit status."""
    try:
        config = load_config(args.config, {**os.environ, **overrides(args)})
    except ConfigError as exc:
        return _say(str(exc), USAGE)
    _configure_logging(config)
    handler: Handler = args.run
    try:
        return handler(args, config)
    except CommandError as exc:
        return _say(str(exc), exc.status)
    except FleetsightAdvisorError as exc:
        return _say(str(exc), FAILED)
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        reason = _database_unusable(exc)
        if reason is None:
            raise
        return _say(f"cannot use the database at {redacted(config.database_url)}: {reason}", 1)


def _database_unusable(exc: Exception) -> str | None:
    """The first line of the driver's reason when ``exc`` is SQLAlchemy's OperationalError."""
    # Looked up, not imported: if SQLAlchemy is not loaded, this cannot be its error.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.OperationalError):
        return None
    orig = exc.orig
    return str(orig).strip().splitlines()[0] if orig else str(exc)


def _say(message: str, status: int) -> int:
    # Messages can quote file names and database values that agents wrote.
    print(f"{PROG}: {printable(message)}", file=sys.stderr)
    return status


def _configure_logging(config: AdvisorConfig) -> None:
    logging.basicConfig(
        level=config.advisor.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every plugin it loads at INFO; only `db upgrade`'s result is news.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))
    # httpx logs every request at INFO; `simulate --advisor` sends thousands.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
