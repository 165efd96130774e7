"""The vendor catalog: products, identifiers, cycles, versions, prices, requirements, aliases,
hardware prices and cost settings, the import log, and admin API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-08-22

Types are spelt out here, not imported from the models (see 0001). Catalog rows hang off
``catalog_products`` with ON DELETE CASCADE; nothing else in the schema refers to them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_COUNTS = ("added", "changed", "removed", "rejected")
_TABLES = (
    "api_tokens",
    "catalog_changes",
    "catalog_imports",
    "cost_settings",
    "hardware_prices",
    "catalog_aliases",
    "catalog_requirements",
    "catalog_prices",
    "catalog_versions",
    "catalog_cycles",
    "catalog_identifiers",
    "catalog_products",
)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _long(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _date(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.Date(), nullable=nullable)


def _flag(name: str, *, nullable: bool = True) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=nullable)


def _product(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["product"],
        ["catalog_products.slug"],
        name=f"fk_{table}_product_catalog_products",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        _text("slug"),
        _text("name"),
        _text("vendor", nullable=True),
        _text("category", nullable=True),
        _text("version_scheme"),
        _long("changelog_template"),
        _text("repology", nullable=True),
        sa.PrimaryKeyConstraint("slug", name="pk_catalog_products"),
    )
    op.create_table(
        "catalog_identifiers",
        _text("product"),
        _text("origin"),
        _text("kind"),
        _text("ecosystem"),
        _text("value"),
        sa.PrimaryKeyConstraint(
            "product", "origin", "kind", "ecosystem", "value", name="pk_catalog_identifiers"
        ),
        _product("catalog_identifiers"),
    )
    op.create_index(
        "ix_catalog_identifiers_kind_ecosystem_value",
        "catalog_identifiers",
        ["kind", "ecosystem", "value"],
    )
    op.create_table(
        "catalog_cycles",
        _text("product"),
        _text("name"),
        _text("origin"),
        _text("label", nullable=True),
        _text("codename", nullable=True),
        _date("release_date"),
        _date("support_ends_on"),
        _flag("support_ended"),
        _date("life_ends_on"),
        _flag("life_ended"),
        _date("extended_ends_on"),
        _flag("extended_ended"),
        _flag("lts", nullable=False),
        _date("lts_from"),
        _text("latest", nullable=True),
        _date("latest_release_date"),
        _long("link"),
        sa.PrimaryKeyConstraint("product", "name", name="pk_catalog_cycles"),
        _product("catalog_cycles"),
    )
    op.create_table(
        "catalog_versions",
        _text("product"),
        _text("version"),
        _text("origin"),
        _date("release_date"),
        _long("notes_url"),
        _text("tags"),
        sa.PrimaryKeyConstraint("product", "version", name="pk_catalog_versions"),
        _product("catalog_versions"),
    )
    op.create_table(
        "catalog_prices",
        _text("product"),
        _date("as_of", nullable=False),
        _text("licence"),
        _text("amount"),
        sa.Column("currency", sa.String(3), nullable=False),
        _long("source"),
        sa.PrimaryKeyConstraint("product", "as_of", name="pk_catalog_prices"),
        _product("catalog_prices"),
    )
    op.create_table(
        "catalog_requirements",
        _text("product"),
        sa.Column("min_ram_bytes", sa.BigInteger(), nullable=True),
        _text("os"),
        sa.PrimaryKeyConstraint("product", name="pk_catalog_requirements"),
        _product("catalog_requirements"),
    )
    op.create_table(
        "catalog_aliases",
        _text("alias"),
        _text("product"),
        _long("source", nullable=False),
        sa.PrimaryKeyConstraint("alias", name="pk_catalog_aliases"),
        _product("catalog_aliases"),
    )
    op.create_index("ix_catalog_aliases_product", "catalog_aliases", ["product"])
    op.create_table(
        "hardware_prices",
        _text("kind"),
        _text("item"),
        _date("as_of", nullable=False),
        _text("amount"),
        sa.Column("currency", sa.String(3), nullable=False),
        _long("source", nullable=False),
        _flag("estimate", nullable=False),
        sa.PrimaryKeyConstraint("kind", "item", "as_of", name="pk_hardware_prices"),
    )
    op.create_table(
        "cost_settings",
        _text("name"),
        _text("value"),
        _date("as_of"),
        _long("source"),
        _flag("estimate", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cost_settings"),
    )
    op.create_table(
        "catalog_imports",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        _text("kind"),
        _long("source", nullable=False),
        sa.Column("imported_at", sa.Double(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        _long("summary", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_imports"),
    )
    op.create_table(
        "catalog_changes",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("import_id", _ROW_ID, nullable=False),
        _text("entity"),
        _long("key", nullable=False),
        _text("action"),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_changes"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["catalog_imports.id"],
            name="fk_catalog_changes_import_id_catalog_imports",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_catalog_changes_import_id", "catalog_changes", ["import_id"])
    op.create_table(
        "api_tokens",
        _text("token_id"),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        _long("note"),
        sa.PrimaryKeyConstraint("token_id", name="pk_api_tokens"),
        sa.UniqueConstraint("secret_sha256", name="uq_api_tokens_secret_sha256"),
    )


def downgrade() -> None:
    # Dependants first: every index goes with its table.
    for table in _TABLES:
        op.drop_table(table)
