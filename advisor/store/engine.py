"""Database engines for the advisor's store: SQLite for an office, PostgreSQL for a fleet.

:func:`make_engine` is the only place that knows the per-database tuning; nothing else in the
advisor creates engines. Creating an engine connects to nothing: the first query does.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from advisor.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 5000
"""How long a SQLite writer waits for another one before giving up with "database is locked"."""

SQLITE_BEGIN_OPTION = "fleetsight_sqlite_begin"
"""Execution option naming the BEGIN flavour on SQLite (``"IMMEDIATE"`` or ``"DEFERRED"``).

A transaction that reads and then writes must start IMMEDIATE: a DEFERRED one that tries to
upgrade its read lock while another connection writes fails at once with SQLITE_BUSY, without
waiting for the busy timeout. Other databases ignore the option.
"""

POSTGRES_POOL_SIZE = 5
POSTGRES_MAX_OVERFLOW = 5


def default_sqlite_url(state_dir: Path) -> str:
    """The embedded database under the state directory.

    >>> default_sqlite_url(Path("/var/lib/fleetsight-advisor"))
    'sqlite:////var/lib/fleetsight-advisor/advisor.sqlite3'
    """
    return f"sqlite:///{state_dir / 'advisor.sqlite3'}"


def make_engine(url: str) -> sa.Engine:
    """An engine for a ``sqlite:///PATH`` or ``postgresql[+psycopg]://...`` URL.

    SQLite: WAL journal, ``synchronous=NORMAL``, foreign keys on and a 5 s busy timeout on
    every connection; the database file's directory is created. PostgreSQL: psycopg 3, a
    small pool whose connections are checked before use (a restarted server costs one retry,
    not an error). Any other URL raises :class:`~advisor.errors.ConfigError`.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        # Not echoed: a malformed URL may still contain a password.
        raise ConfigError(
            "not a database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
            key="database.url",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB",
        key="database.url",
    )


def _sqlite_engine(url: URL) -> sa.Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        _private_database_file(Path(url.database))
    engine = sa.create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Take BEGIN away from the sqlite3 module (which skips it before SELECT and DDL) so
        # that every SQLAlchemy transaction is a real SQLite transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE"):
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be DEFERRED or IMMEDIATE, not {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _private_database_file(path: Path) -> None:
    """Create the database file readable by its owner only, wherever the advisor runs.

    The database holds credential hashes, inventories and hostnames. systemd's UMask covers
    the packaged service; a hand-started advisor gets 0600 too. SQLite gives the -wal and
    -shm files the mode of the database file. An existing file open to others (created by
    an older advisor) loses those bits: the owner's and group's stay as an operator set them.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & 0o007:
            path.chmod(stat.S_IMODE(mode) & ~0o007)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the database file {path}: {exc.strerror or exc}", key="database.url"
        ) from exc


def _postgres_engine(url: URL) -> sa.Engine:
    if url.drivername == "postgresql":
        # A plain postgresql:// URL means psycopg 3 here: it is the driver the advisor ships.
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_MAX_OVERFLOW,
        connect_args={"application_name": "fleetsight-advisor"},
    )
