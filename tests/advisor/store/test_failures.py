"""advisor.store.failures on errors the real databases raise: what the batch did (permanent)
against what the database is going through (transient)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from advisor.errors import StoreUnavailable
from advisor.store import failures
from advisor.store.engine import make_engine
from advisor.store.sql import SqlStore
from tests.advisor.store.test_contract import T0, make_batch


def _error_of(engine: sa.Engine, statements: list[str]) -> BaseException:
    """The error the last statement raises after the others ran, in one transaction."""
    *setup, failing = statements
    with engine.connect() as conn:
        for statement in setup:
            conn.exec_driver_sql(statement)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            conn.exec_driver_sql(failing)
        conn.rollback()
    return raised.value


def test_a_constraint_violation_is_permanent(engine: sa.Engine) -> None:
    error = _error_of(
        engine,
        [
            "CREATE TABLE t (k INTEGER PRIMARY KEY)",
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (1)",
        ],
    )

    assert failures.classify(error) == "permanent"
    assert "\n" not in failures.describe(error)


def test_a_value_out_of_range_is_permanent(engine: sa.Engine, backend: str) -> None:
    # SQLite has no narrower integer column to overflow: a NOT NULL violation stands in.
    statements = (
        ["SELECT 9223372036854775807::int8 + 1"]
        if backend == "postgresql"
        else ["CREATE TABLE t (k INTEGER NOT NULL)", "INSERT INTO t VALUES (NULL)"]
    )
    error = _error_of(engine, statements)

    assert failures.classify(error) == "permanent"
    assert ("out of range" if backend == "postgresql" else "NOT NULL") in failures.describe(error)


def test_an_oversized_python_int_is_permanent() -> None:
    connection = sqlite3.connect(":memory:")
    with pytest.raises(OverflowError) as raised:
        connection.execute("SELECT ?", (2**64,))

    assert failures.classify(raised.value) == "permanent"


def test_a_locked_sqlite_database_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (k INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        error = _error_of(engine, ["INSERT INTO t VALUES (1)"])
    finally:
        engine.dispose()
        holder.close()

    assert failures.classify(error) == "transient"


def test_a_database_that_cannot_be_reached_makes_ingest_unavailable() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    store = SqlStore(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none"))
    try:
        with pytest.raises(StoreUnavailable, match="could not take batch"):
            store.ingest_with_credential(
                "fsc_x", make_batch("host-a"), received_at=T0, sent_at=None
            )
    finally:
        store.close()
