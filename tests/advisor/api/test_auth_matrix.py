"""Who may write what: the auth matrix of ingest and enrolment on a real SqlStore (SQLite).

Every way of knocking without the right key is refused with its documented status and a
``{"detail"}`` sentence, and leaves the database as it was; the right key for the right host
is the control that shows the same request does get in.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.settings import ApiSettings
from advisor.store.engine import make_engine
from advisor.store.migrate import upgrade
from advisor.store.models import BATCHES, HOSTS, SUMMARIES
from advisor.store.sql import SqlStore
from agent.shared.wire import (
    ENROL_PATH,
    INGEST_PATH,
    Batch,
    HostIdentity,
    Interval,
    MetricSummary,
    encode_gzip,
)
from tests.advisor.api.admin_routes import admin_routes

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = 1_764_000_000.0
NOW = T0 + 3600
HOST_A = "host-a"
HOST_B = "host-b"
REVOKED = "host-revoked"


@dataclass(frozen=True)
class World:
    """The advisor in-process, its store and the credentials of three enrolled hosts."""

    store: SqlStore
    client: TestClient
    credentials: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    engine = make_engine(f"sqlite:///{tmp_path / 'advisor.sqlite3'}")
    upgrade(engine)
    store = SqlStore(engine)
    try:
        token, _ = store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
        credentials = {
            host_id: store.enrol(
                token=token, host_id=host_id, hostname=host_id, agent_version="0.1.0", now=T0
            ).credential
            for host_id in (HOST_A, HOST_B, REVOKED)
        }
        assert store.revoke_host(REVOKED, now=T0 + 60)
        app = create_app(
            store,
            ApiSettings(),
            clock=lambda: NOW,
            registry=CollectorRegistry(),
            **admin_routes(store.engine),
        )
        with TestClient(app) as client:
            yield World(store, client, credentials)
    finally:
        store.close()


def batch_of(host_id: str) -> Batch:
    return Batch(
        batch_id="5e1f" * 8,
        sequence=1,
        created_at=T0,
        host=HostIdentity(host_id=host_id, hostname=host_id, agent_version="0.1.0"),
        intervals=[
            Interval(
                start=T0 - 60,
                end=T0,
                metrics=[MetricSummary("load1", {}, 12, 6.0, 0.2, 0.9, 0.5, 0.8, 0.9)],
            )
        ],
    )


def rows(store: SqlStore, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return int(count)


# (case, Authorization header, expected status); '@host' stands for that host's credential.
REFUSED_INGESTS = [
    ("no Authorization header", None, 401),
    ("Basic scheme", "Basic aG9zdC1hOnNlY3JldA==", 401),
    ("Bearer with nothing after it", "Bearer", 401),
    ("unknown credential", "Bearer fsc_" + "A" * 43, 401),
    ("revoked host's credential", f"@{REVOKED}", 401),
    ("another host's credential", f"@{HOST_B}", 403),
]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [pytest.param(header, status, id=case) for case, header, status in REFUSED_INGESTS],
)
def test_an_ingest_without_the_right_credential_is_refused_and_stores_nothing(
    world: World, authorization: str | None, status: int
) -> None:
    if authorization is not None and authorization.startswith("@"):
        authorization = f"Bearer {world.credentials[authorization[1:]]}"

    response = world.client.post(
        INGEST_PATH,
        content=encode_gzip(batch_of(HOST_A)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        | ({} if authorization is None else {"Authorization": authorization}),
    )

    assert response.status_code == status
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rows(world.store, BATCHES) == 0
    assert rows(world.store, SUMMARIES) == 0


def test_the_hosts_own_credential_stores_its_batch(world: World) -> None:
    response = world.client.post(
        INGEST_PATH,
        content=encode_gzip(batch_of(HOST_A)),
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {world.credentials[HOST_A]}",
        },
    )

    assert response.status_code == 200
    assert response.json() == {"batch_id": "5e1f" * 8, "stored": True}
    assert rows(world.store, BATCHES) == 1
    assert rows(world.store, SUMMARIES) == 1


@pytest.mark.parametrize(
    ("token_state", "status", "said"),
    [
        ("expired", 410, "has expired"),
        ("revoked", 403, "was revoked"),
        ("unknown", 401, "does not know the enrolment token"),
    ],
)
def test_an_enrolment_with_a_dead_token_is_refused_and_enrols_nobody(
    world: World, token_state: str, status: int, said: str
) -> None:
    if token_state == "unknown":
        token = "fst_" + "B" * 32
    else:
        expires_at = T0 + 60 if token_state == "expired" else T0 + 86400
        token, record = world.store.create_token(department="board", expires_at=expires_at, now=T0)
        if token_state == "revoked":
            assert world.store.revoke_token(record.token_id, now=T0 + 60)
    hosts_before = rows(world.store, HOSTS)

    response = world.client.post(
        ENROL_PATH,
        json={"token": token, "host_id": "new-host", "hostname": "new", "agent_version": "0.1.0"},
    )

    assert response.status_code == status
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert said in detail
    assert "credential" not in response.json()
    assert rows(world.store, HOSTS) == hosts_before
    assert [host.host_id for host in world.store.list_hosts()].count("new-host") == 0
