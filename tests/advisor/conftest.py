"""Database fixtures for the advisor's tests: one suite, run on SQLite and on PostgreSQL.

``store`` (and ``engine``, ``database_url``) are parametrised over ``backend``: every test that
uses them runs twice. PostgreSQL is expected on 127.0.0.1:5432 as user ``postgres`` with trust
authentication (``scripts/ensure-postgres`` sets that up; ``FLEETSIGHT_TEST_POSTGRES_URL``
points elsewhere). Without it the PostgreSQL half is skipped, except under ``CI=true`` where it
fails: CI must run the PostgreSQL tests.

The PostgreSQL tests share one database per session, created with a unique name, migrated
once, emptied before each test and dropped at the end. Tests that need a database of their own
(an advisor process, a migration test) ask ``databases`` for one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from advisor.store.engine import make_engine
from advisor.store.migrate import upgrade
from advisor.store.models import Base
from advisor.store.sql import SqlStore

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ADMIN_URL = os.environ.get(
    "FLEETSIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Databases:
    """Makes fresh databases for tests and drops the PostgreSQL ones at the end of the session.

    ``url("sqlite", tmp_path)`` or ``url("postgresql", tmp_path)`` is a new, migrated database
    (``migrated=False``: an empty one).
    """

    def __init__(self, admin_url: str) -> None:
        self._admin = sa.make_url(admin_url)
        self._created: list[str] = []
        self._postgres_error: str | None = None
        self._postgres_checked = False

    def require_postgresql(self) -> None:
        """Skip the test without a reachable PostgreSQL server; fail instead under CI=true."""
        if not self._postgres_checked:
            self._postgres_checked = True
            try:
                with self._admin_connection():
                    pass
            except psycopg.Error as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                self._postgres_error = (
                    f"PostgreSQL at {self._admin.render_as_string(hide_password=True)} is not "
                    f"usable ({first_line}); run scripts/ensure-postgres"
                )
        if self._postgres_error is None:
            return
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {self._postgres_error}")
        pytest.skip(self._postgres_error)

    def url(self, backend: str, directory: Path, *, migrated: bool = True) -> str:
        """A fresh database of ``backend``; SQLite files go in ``directory``."""
        if backend == "sqlite":
            return self.sqlite_url(directory, migrated=migrated)
        if backend == "postgresql":
            return self.postgresql_url(migrated=migrated)
        raise ValueError(f"unknown backend {backend!r}")

    def sqlite_url(self, directory: Path, *, migrated: bool = True) -> str:
        """A new SQLite database file in ``directory``."""
        url = f"sqlite:///{directory / f'advisor-{uuid.uuid4().hex[:8]}.sqlite3'}"
        if migrated:
            _migrate(url)
        return url

    def postgresql_url(self, *, migrated: bool = True) -> str:
        """A new PostgreSQL database, dropped by :meth:`drop_all`."""
        self.require_postgresql()
        name = f"fleetsight_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self._admin_connection() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        url = self._admin.set(database=name).render_as_string(hide_password=False)
        if migrated:
            _migrate(url)
        return url

    def drop_all(self) -> None:
        """Drop every PostgreSQL database this object created."""
        if not self._created:
            return
        with self._admin_connection() as conn:
            while self._created:
                name = self._created.pop()
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        conninfo = self._admin.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)


def table_names(engine: sa.Engine) -> set[str]:
    """The store's tables in the database (Alembic's bookkeeping table and PostgreSQL's
    partitions of a partitioned table left out: the models name the partitioned table)."""
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    return names - {"alembic_version"} - partition_names(engine)


def partition_names(engine: sa.Engine) -> set[str]:
    """The partitions of partitioned tables (PostgreSQL; none elsewhere)."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        query = "SELECT relname FROM pg_class WHERE relispartition AND relkind = 'r'"
        return {str(name) for name in conn.exec_driver_sql(query).scalars()}


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def empty_tables(url: str) -> None:
    """Delete every row of the store's tables (the schema and its revision stay)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            # A connection a previous test leaked would block TRUNCATE until the test timeout.
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    """Fresh test databases on demand; PostgreSQL ones are dropped when the session ends."""
    factory = Databases(POSTGRES_ADMIN_URL)
    try:
        yield factory
    finally:
        factory.drop_all()


@pytest.fixture(scope="session")
def shared_postgresql_url(databases: Databases) -> str:
    """One migrated PostgreSQL database for the session (tests empty it before use)."""
    return databases.postgresql_url()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, databases: Databases) -> str:
    """The database the test runs on: each test using it runs on SQLite and on PostgreSQL."""
    name: str = request.param
    if name == "postgresql":
        databases.require_postgresql()
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of ``backend``, for this test alone."""
    if backend == "postgresql":
        url: str = request.getfixturevalue("shared_postgresql_url")
        empty_tables(url)
        return url
    databases: Databases = request.getfixturevalue("databases")
    return databases.sqlite_url(tmp_path)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on ``database_url``, disposed of after the test."""
    made = make_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> Iterator[SqlStore]:
    """A :class:`SqlStore` on an empty, migrated database of each backend."""
    made = SqlStore(engine)
    try:
        yield made
    finally:
        made.close()
