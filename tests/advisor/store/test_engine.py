"""advisor.store.engine: the embedded SQLite database is private to the advisor's user."""

from __future__ import annotations

import stat
from pathlib import Path

import sqlalchemy as sa

from advisor.store.engine import make_engine
from advisor.store.migrate import upgrade


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "advisor.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:  # the WAL file exists while a connection is open
            conn.execute(sa.text("SELECT 1"))
            wal = path.with_name(path.name + "-wal")
            assert (_mode(path), _mode(wal)) == (0o600, 0o600)
    finally:
        engine.dispose()
    assert _mode(path.parent) == 0o700


def test_an_existing_world_readable_database_loses_only_the_others_bits(tmp_path: Path) -> None:
    path = tmp_path / "advisor.sqlite3"
    path.touch()
    path.chmod(0o664)

    make_engine(f"sqlite:///{path}").dispose()

    assert _mode(path) == 0o660
