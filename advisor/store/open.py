"""One way to open the advisor's store: :func:`open_store` builds every interface from the config.

The CLI, the jobs and the API server all start here, so they agree on what "the database" is,
when it may be created and when its schema must be current. A command that only reads never
creates a database: on a SQLite file that does not exist it fails with one sentence naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from advisor.config import AdvisorConfig
from advisor.errors import DatabaseMissing
from advisor.store import Store
from advisor.store.analysis_data import FleetFrames, SqlFleetFrames, SqlUpkeep, Upkeep
from advisor.store.api_tokens import ApiTokens, SqlApiTokens
from advisor.store.audit import AuditLog, SqlAuditLog
from advisor.store.catalog import CatalogStore, SqlCatalogStore
from advisor.store.engine import make_engine
from advisor.store.findings import Findings, SqlFindings
from advisor.store.inventory import FleetInventory, SqlFleetInventory
from advisor.store.job_state import JobLeases, SqlJobLeases
from advisor.store.migrate import UPGRADE_COMMAND, check_schema
from advisor.store.recommendations import Recommendations
from advisor.store.recommendations_sql import SqlRecommendations
from advisor.store.sql import SqlStore
from advisor.store.users import UiSessions, Users
from advisor.store.users_sql import SqlUiSessions, SqlUsers


@dataclass(frozen=True, eq=False)
class Stores:
    """Every interface of one database, built by :func:`open_store`; :meth:`close` ends them all.

    ``hosts`` is :class:`~advisor.store.Enrolments` and :class:`~advisor.store.Ingest` on
    one object (ingest authenticates against the hosts in its own transaction); the others
    are one object per interface on the same engine.
    """

    hosts: Store
    findings: Findings
    frames: FleetFrames
    upkeep: Upkeep
    catalog: CatalogStore
    leases: JobLeases
    api_tokens: ApiTokens
    recommendations: Recommendations
    audit: AuditLog
    inventory: FleetInventory
    users: Users
    ui_sessions: UiSessions
    engine: sa.Engine = field(repr=False)

    def check_schema(self) -> None:
        """Raise SchemaOutOfDate unless the schema is this advisor's (the readiness check)."""
        check_schema(self.engine)

    def close(self) -> None:
        """Close every connection (the interfaces must not be used afterwards)."""
        self.engine.dispose()


def open_store(config: AdvisorConfig, *, create: bool = False, check: bool = True) -> Stores:
    """The stores on ``config.database_url``; see :func:`open_store_at`."""
    return open_store_at(config.database_url, create=create, check=check)


def open_store_at(url: str, *, create: bool = False, check: bool = True) -> Stores:
    """The stores on the database at ``url``.

    ``create`` lets a missing SQLite file be created (``db upgrade``, ``serve`` and commands
    that write); without it a missing file raises DatabaseMissing and nothing is created.
    ``check`` (the default) raises SchemaOutOfDate unless the schema is current.
    """
    engine = open_engine(url, create=create)
    stores = stores_on(engine)
    if check:
        try:
            stores.check_schema()
        except Exception:
            stores.close()
            raise
    return stores


def open_engine(url: str, *, create: bool = False) -> sa.Engine:
    """An engine on ``url``; a missing SQLite file is created only with ``create``."""
    if not create:
        path = sqlite_path(url)
        if path is not None and not path.exists():
            raise DatabaseMissing(
                f"the database {path} does not exist: create it with `{UPGRADE_COMMAND}`"
            )
    return make_engine(url)


def stores_on(engine: sa.Engine) -> Stores:
    """Every interface on ``engine`` (which the returned stores own)."""
    return Stores(
        hosts=SqlStore(engine),
        findings=SqlFindings(engine),
        frames=SqlFleetFrames(engine),
        upkeep=SqlUpkeep(engine),
        catalog=SqlCatalogStore(engine),
        leases=SqlJobLeases(engine),
        api_tokens=SqlApiTokens(engine),
        recommendations=SqlRecommendations(engine),
        audit=SqlAuditLog(engine),
        inventory=SqlFleetInventory(engine),
        users=SqlUsers(engine),
        ui_sessions=SqlUiSessions(engine),
        engine=engine,
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for other databases and in-memory SQLite.

    >>> sqlite_path("sqlite:////var/lib/fleetsight-advisor/advisor.sqlite3")
    PosixPath('/var/lib/fleetsight-advisor/advisor.sqlite3')
    >>> sqlite_path("postgresql+psycopg://advisor@db/fleetsight") is None
    True
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None  # make_engine says what is wrong with it
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)
