"""Every endpoint of the advisor fuzzed from its own OpenAPI document (schemathesis).

The app runs in-process on a real :class:`SqlStore` over a migrated SQLite database, with one
enrolled host whose credential goes along as the bearer header. Valid inputs (positive mode)
and inputs that break the documented schema (negative mode) are both sent; the checks:

* no 5xx, ever (``not_a_server_error``);
* every answer is documented: its status, content type and body schema
  (``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``);
* no accepted garbage: an input that breaks the schema is refused with a 4xx
  (``negative_data_rejection``), so a 2xx from /api/v1/ingest or /api/v1/enrol means the
  input was valid.

Valid cases get what random data cannot guess (the enrolled host's id and a batch id for
ingest, a live token for enrolment) so they reach the store instead of all stopping at a
403 or 401. Generation is deterministic and bounded.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.catalog import PREFIX as CATALOG_PREFIX
from advisor.api.findings import PREFIX as FINDINGS_PREFIX
from advisor.api.settings import ApiSettings
from advisor.catalog.sources import load_directory_file
from advisor.catalog.store import CatalogStore
from advisor.store.api_tokens import create_api_token
from advisor.store.engine import make_engine
from advisor.store.migrate import upgrade
from advisor.store.sql import SqlStore
from agent.shipper import BATCH_ID_HEADER
from agent.wire import ENROL_PATH, INGEST_PATH

from .memory_store import MemoryStore

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    # schemathesis' ASGI transport runs on that client: imported first here, under this
    # filter, its import-time warning is not turned into an error inside the transport.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    import starlette.testclient  # noqa: F401

T0 = 1_764_000_000.0
NOW = T0 + 3600
HOST_ID = "fuzz-host-1"
MAX_EXAMPLES = 40
ENDOFLIFE = Path(__file__).resolve().parents[2] / "fixtures" / "endoflife"
BASE_URL = "http://testserver"  # the in-process ASGI transport's host
# What "refused" may look like for a broken input: the statuses the document lists for bad
# requests (a body over the limit is 413, an unknown Content-Encoding 415).
REFUSAL_STATUSES = [400, 401, 403, 413, 415, 422]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Advisor:
    """The app under test, its store, a live enrolment token and the enrolled host's credential."""

    def __init__(self, store: SqlStore, token: str, credential: str, admin_token: str) -> None:
        self.store = store
        self.token = token
        self.credential = credential
        self.admin_token = admin_token
        self.app = create_app(store, ApiSettings(), clock=lambda: NOW, registry=CollectorRegistry())


@pytest.fixture
def advisor(tmp_path: Path) -> Iterator[Advisor]:
    engine = make_engine(f"sqlite:///{tmp_path / 'advisor.sqlite3'}")
    upgrade(engine)
    store = SqlStore(engine)
    try:
        token, _ = store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
        enrolment = store.enrol(
            token=token, host_id=HOST_ID, hostname="fin-ws-12", agent_version="0.1.0", now=T0
        )
        admin_token, _ = create_api_token(engine, now=T0)
        # Two real products, so the catalog routes answer with content, not only 404s.
        records = [
            load_directory_file(ENDOFLIFE / "products" / f"{name}.md", ENDOFLIFE / "releases")
            for name in ("postgresql", "firefox")
        ]
        CatalogStore(engine).import_records(records, kind="endoflife", source="fuzz", now=T0)
        yield Advisor(store, token, enrolment.credential, admin_token)
    finally:
        store.close()


def _document() -> dict[str, Any]:
    """The advisor's OpenAPI document; it does not depend on the store, so none is opened."""
    app = create_app(MemoryStore(), ApiSettings(), registry=CollectorRegistry())
    return app.openapi()


schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    database="none",
)
schema.config.checks.negative_data_rejection.expected_statuses = [
    str(status) for status in REFUSAL_STATUSES
]


def _batch_id(body: dict[str, Any]) -> str:
    """A valid batch id that is the same for the same body (a retry) and differs otherwise."""
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def _make_valid_reach_the_store(case: Any, advisor: Advisor) -> None:
    """Give a valid (positive) case what random data cannot guess, so it gets past the
    credential, token and header checks and reaches the store: the enrolled host's id, a
    live enrolment token, a batch id header equal to the body's and a body sent as it is."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    if case.path == ENROL_PATH:
        case.body["token"] = advisor.token
    elif case.path == INGEST_PATH and isinstance(case.body.get("host"), dict):
        case.body["host"]["host_id"] = HOST_ID
        # The document does not state batch_id's pattern (advisor.api.ingest enforces it).
        case.body["batch_id"] = _batch_id(case.body)
        headers = case.headers if case.headers is not None else {}
        headers["Content-Encoding"] = "identity"
        headers.pop(BATCH_ID_HEADER, None)
        case.headers = headers


def _bearer(case: Any, advisor: Advisor) -> str:
    admin = case.path.startswith((CATALOG_PREFIX, FINDINGS_PREFIX))
    return advisor.admin_token if admin else advisor.credential


@schema.parametrize()
# One database per operation on purpose: ingests and enrolments accumulate across examples,
# as they do on a live advisor. No deadline: the machine is shared and loaded.
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_endpoint_answers_fuzzed_input_as_documented(case: Any, advisor: Advisor) -> None:
    _make_valid_reach_the_store(case, advisor)
    case.call_and_validate(
        app=advisor.app,
        base_url=BASE_URL,
        # The catalog routes want an admin API token; the agents' routes a host credential.
        headers={"Authorization": f"Bearer {_bearer(case, advisor)}"},
        checks=CHECKS,
    )
