"""Schema migrations (Alembic), driven from code: no ``alembic.ini`` to install or find.

``fleetsight-advisor db upgrade`` calls :func:`upgrade`; ``serve`` calls :func:`check_schema`
and refuses to start on a database whose revision is not this advisor's head.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from advisor.errors import SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "fleetsight-advisor db upgrade"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for this package's migrations, optionally bound to a connection.

    ``migrations/env.py`` runs on ``config.attributes["connection"]``.
    """
    config = Config()
    # Config values go through configparser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (the newest by default), in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``"base"`` drops every table)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def head_revision() -> str:
    """The revision this advisor's code expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The database's revision; None for a database never migrated (e.g. empty)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: sa.Engine) -> None:
    """Raise :class:`~advisor.errors.SchemaOutOfDate` unless the database is at the head revision.

    The message names the database's revision, the one this advisor needs, and the fix.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaOutOfDate(
            f"the database {where} has no Fleetsight schema (no revision), this advisor needs "
            f"revision {head}: run `{UPGRADE_COMMAND}`"
        )
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if current not in known:
        raise SchemaOutOfDate(
            f"the database {where} is at revision {current}, which this advisor does not know "
            f"(a newer advisor migrated it); this advisor needs revision {head}: run the newer "
            f"advisor, or restore a backup and run `{UPGRADE_COMMAND}`"
        )
    raise SchemaOutOfDate(
        f"the database {where} is at revision {current}, this advisor needs revision {head}: "
        f"run `{UPGRADE_COMMAND}`"
    )


def open_current(url: str) -> sa.Engine:
    """An engine on ``url`` whose schema is current; raises SchemaOutOfDate (and closes the
    engine) otherwise. What every command that reads or writes the store starts with."""
    from advisor.store.engine import make_engine

    engine = make_engine(url)
    try:
        check_schema(engine)
    except Exception:
        engine.dispose()
        raise
    return engine
