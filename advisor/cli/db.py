"""``db upgrade`` and ``db status``: the schema."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from advisor.cli.common import add_group, redacted
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands


def add_parser(commands: Commands) -> None:
    """Register ``db``."""
    db = add_group(
        commands,
        "db",
        help="database schema: upgrade, status",
        description="Create or migrate the database schema (`upgrade`, the first step of a "
        "new install and of every upgrade of the advisor) or say whether it is current "
        "(`status`, which never creates a database).",
        examples="  fleetsight-advisor db upgrade\n"
        "  fleetsight-advisor db status --database-url postgresql+psycopg://advisor@db/fleet\n",
    )
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="create or migrate the schema to this version")
    actions.add_parser("status", help="show the schema revision")
    db.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``db upgrade`` or ``db status``."""
    from advisor.store.migrate import current_revision, head_revision, upgrade
    from advisor.store.open import open_engine

    where = redacted(config.database_url)
    engine = open_engine(config.database_url, create=args.action == "upgrade")
    try:
        if args.action == "upgrade":
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
            if before == after:
                print(f"{where}: already at {after}")
            else:
                print(f"{where}: {before or 'empty'} -> {after}")
        else:
            current, head = current_revision(engine), head_revision()
            state = "up to date" if current == head else "run `fleetsight-advisor db upgrade`"
            print(f"{where}: at {current or 'empty'}, this advisor needs {head}: {state}")
    finally:
        engine.dispose()
    return 0
