"""Migrations: they build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from advisor.errors import SchemaOutOfDate
from advisor.store.engine import make_engine
from advisor.store.migrate import check_schema, current_revision, downgrade, head_revision, upgrade
from advisor.store.models import Base
from tests.advisor.conftest import Databases, partition_names, table_names


@pytest.fixture
def empty_engine(backend: str, databases: Databases, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a database with no tables at all."""
    engine = make_engine(databases.url(backend, tmp_path, migrated=False))
    try:
        yield engine
    finally:
        engine.dispose()


def schema_differences(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    """What Alembic's autogenerate would change to make the database match ``metadata``
    (PostgreSQL's partitions, which the models do not name, and their indexes left out)."""
    partitions = partition_names(engine)

    def modelled(item: object, name: str | None, kind: str, reflected: bool, to: object) -> bool:
        if kind == "table":
            return name not in partitions
        table = getattr(item, "table", None)
        return getattr(table, "name", None) not in partitions

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": modelled,
            },
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_of_an_empty_database_reaches_the_head_revision(empty_engine: sa.Engine) -> None:
    assert current_revision(empty_engine) is None

    upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()
    assert table_names(empty_engine) == set(Base.metadata.tables)
    check_schema(empty_engine)


def test_upgrade_of_an_up_to_date_database_changes_nothing(empty_engine: sa.Engine) -> None:
    upgrade(empty_engine)

    upgrade(empty_engine)

    assert current_revision(empty_engine) == head_revision()


def test_check_schema_refuses_an_empty_database_and_names_the_fix(
    empty_engine: sa.Engine,
) -> None:
    with pytest.raises(SchemaOutOfDate) as refused:
        check_schema(empty_engine)

    message = str(refused.value)
    assert "no revision" in message
    assert f"needs revision {head_revision()}" in message
    assert "`fleetsight-advisor db upgrade`" in message


def test_check_schema_refuses_a_database_migrated_by_a_newer_advisor(
    empty_engine: sa.Engine,
) -> None:
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dcafe9999'"))

    with pytest.raises(SchemaOutOfDate) as refused:
        check_schema(empty_engine)

    assert "f00dcafe9999" in str(refused.value)
    assert "does not know" in str(refused.value)


def test_the_migrated_schema_matches_the_models(empty_engine: sa.Engine) -> None:
    upgrade(empty_engine)

    assert schema_differences(empty_engine, Base.metadata) == []


def test_the_schema_comparison_notices_a_model_change_without_a_migration(
    empty_engine: sa.Engine,
) -> None:
    upgrade(empty_engine)
    changed = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["hosts"].append_column(sa.Column("asset_tag", sa.String(), nullable=True))

    differences = schema_differences(empty_engine, changed)

    assert len(differences) == 1
    assert "asset_tag" in repr(differences[0])


def test_downgrade_to_base_removes_every_table(empty_engine: sa.Engine) -> None:
    upgrade(empty_engine)

    downgrade(empty_engine, "base")

    assert current_revision(empty_engine) is None
    assert table_names(empty_engine) == set()
