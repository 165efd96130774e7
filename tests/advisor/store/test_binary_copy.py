"""Binary COPY into numpy on PostgreSQL: types, block boundaries, NULLs, errors, and the
caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from advisor.store import binary_copy
from advisor.store.engine import make_engine
from tests.advisor.conftest import empty_tables

NUMBERS = sa.text(
    "SELECT g::int4 AS small, g::int8 * 4294967296 AS big, g / 4.0::float8 AS ratio,"
    " g % 3 = 0 AS third FROM generate_series(1, :n) AS g"
).columns(
    sa.column("small", sa.Integer),
    sa.column("big", sa.BigInteger),
    sa.column("ratio", sa.Double),
    sa.column("third", sa.Boolean),
)
TYPES = {"small": np.int32, "big": np.int64, "ratio": np.float64, "third": np.bool_}


@pytest.fixture
def pg(shared_postgresql_url: str) -> Iterator[sa.Engine]:
    """An engine on the session's PostgreSQL database, emptied (skipped without one)."""
    empty_tables(shared_postgresql_url)
    engine = make_engine(shared_postgresql_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("block_bytes", [40, 1000, 8 << 20])
def test_columns_come_back_typed_across_block_boundaries(
    pg: sa.Engine, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    monkeypatch.setattr(binary_copy, "BLOCK_BYTES", block_bytes)

    with pg.connect() as conn:
        got = binary_copy.read_columns(conn, NUMBERS.bindparams(n=1000), TYPES)

    g = np.arange(1, 1001)
    assert got["small"].dtype == np.int32
    assert got["small"].tolist() == g.tolist()
    assert got["big"].tolist() == (g * 2**32).tolist()
    assert got["ratio"].tolist() == (g / 4.0).tolist()
    assert got["third"].tolist() == (g % 3 == 0).tolist()


def test_no_rows_give_empty_columns(pg: sa.Engine) -> None:
    with pg.connect() as conn:
        got = binary_copy.read_columns(conn, NUMBERS.bindparams(n=0), TYPES)

    assert {name: (len(column), column.dtype) for name, column in got.items()} == {
        name: (0, np.dtype(dtype)) for name, dtype in TYPES.items()
    }


def test_a_null_is_refused_not_misread(pg: sa.Engine) -> None:
    query = sa.text("SELECT NULLIF(g, 2)::int4 AS v FROM generate_series(1, 3) AS g").columns(
        sa.column("v", sa.Integer)
    )

    with pg.connect() as conn, pytest.raises(ValueError, match="fixed width"):
        binary_copy.read_columns(conn, query, {"v": np.int32})


def test_a_failing_query_raises_and_leaves_the_connection_usable(pg: sa.Engine) -> None:
    query = sa.text("SELECT (1 / (g - 2))::int4 AS v FROM generate_series(1, 3) AS g").columns(
        sa.column("v", sa.Integer)
    )

    with pg.connect() as conn:
        with pytest.raises(psycopg.OperationalError, match="division by zero"):
            binary_copy.read_columns(conn, query, {"v": np.int32})
        conn.rollback()
        assert conn.execute(sa.select(sa.literal(7))).scalar_one() == 7


def test_it_reads_in_the_callers_transaction_and_snapshot(pg: sa.Engine) -> None:
    names = sa.text("SELECT code FROM launch_daily_apps ORDER BY code").columns(
        sa.column("code", sa.Integer)
    )
    with pg.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        conn.execute(sa.text("INSERT INTO launch_daily_apps (code, name) VALUES (1, 'gimp')"))
        with pg.begin() as other:  # committed after the snapshot was taken: not seen
            other.execute(sa.text("INSERT INTO launch_daily_apps (code, name) VALUES (2, 'vim')"))

        seen = binary_copy.read_columns(conn, names, {"code": np.int32})

    assert seen["code"].tolist() == [1]
