"""Every endpoint of the advisor fuzzed from its own OpenAPI document (schemathesis).

The app runs in-process on a real :class:`SqlStore` over a migrated SQLite database, with one
enrolled host whose credential goes along as the bearer on the agents' routes, and an admin
API token on the catalog, findings, recommendations and budget routes. Valid inputs (positive
mode) and inputs that break the documented schema (negative mode) are both sent, in the
coverage phase (every boundary the document states) and the fuzzing phase; then the stateful
phase follows the links schemathesis infers (product list -> product, findings list ->
finding, recommendations list -> one, its approval, its deferral). The checks:

* ``not_a_server_error``: no 5xx, ever;
* ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``,
  ``response_headers_conformance``: every answer is documented, its status, content type,
  body and the headers the document promises (Retry-After, WWW-Authenticate);
* ``headers_are_documented`` (ours): a Retry-After or WWW-Authenticate the advisor sends is
  promised by the document for that status;
* ``positive_data_acceptance``: input the document allows is not refused as malformed (413
  aside: the size limits are settings, stated in words);
* ``negative_data_rejection``: input it forbids is refused with a 4xx, never stored;
* ``missing_required_header``, ``ignored_auth``: a route that declares a bearer refuses a
  request without one, or with a bad one, with 401;
* ``unsupported_method``, ``allow_header_conformance``: a method the document does not list
  gets 405 with an Allow header naming the listed ones;
* ``use_after_free``, ``ensure_resource_availability``, ``object_level_authorization``: run,
  though this API deletes nothing and creates nothing it links to (enrol and ingest answer
  no link), so they find nothing to check.

``max_response_time`` is left out: timing on a shared, loaded machine is not a property of
the code. Valid cases get what random data cannot guess, and what the document can state only
in words (the batch rules over several fields: the clock window, quantile order, totals), so
they reach the store instead of all stopping at a 401, 403 or 422; nothing a schema can state
is repaired, so a rule the document leaves out shows as a refused valid case. Generation is
deterministic and bounded (about 40 s on two cores).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api.app import create_app
from advisor.api.openapi_doc import ADMIN_TOKEN, HOST_CREDENTIAL
from advisor.api.recommendations import BUDGET_PATH
from advisor.api.settings import ApiSettings
from advisor.catalog_sources import load_directory_file
from advisor.quarters import Quarter
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.catalog import SqlCatalogStore
from advisor.store.engine import make_engine
from advisor.store.findings import SqlFindings
from advisor.store.migrate import upgrade
from advisor.store.recommendations_sql import SqlRecommendations
from advisor.store.sql import SqlStore
from agent.shared.wire import ENROL_PATH, INGEST_PATH
from tests.advisor.api.admin_routes import admin_routes
from tests.advisor.store.findingsdata import finding
from tests.advisor.store.reviewdata import KNAPSACK

from .openapi_cases import NOW, T0, advisor_document, keep_the_rules_stated_in_words

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    # schemathesis' ASGI transport runs on that client: imported first here, under this
    # filter, its import-time warning is not turned into an error inside the transport.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    import starlette.testclient  # noqa: F401

HOST_ID = "fuzz-host-1"
MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 10
ENDOFLIFE = Path(__file__).resolve().parents[2] / "fixtures" / "endoflife"
BASE_URL = "http://testserver"  # the in-process ASGI transport's host
# What "refused" may look like for a broken input: the statuses the document lists for bad
# requests (a body over the limit is 413).
REFUSAL_STATUSES = [400, 401, 403, 404, 413, 415, 422]
# Headers whose meaning a client needs from the document: when to retry, how to authenticate.
PROMISED_HEADERS = ("retry-after", "www-authenticate")


def headers_are_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """A Retry-After or WWW-Authenticate header in an answer is listed for its status."""
    definition = case.operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        return None  # status_code_conformance reports that
    listed = {name.lower() for name, _ in definition.headers.items()}
    for header in PROMISED_HEADERS:
        if header in response.headers and header not in listed:
            raise AssertionError(
                f"{case.operation.label}: {response.status_code} answers send {header},"
                " which the document does not list for that status"
            )
    return None


load_all_checks()
CHECKS = [
    check for check in REGISTERED_CHECKS.get_all() if check.__name__ != "max_response_time"
] + [headers_are_documented]


class _Current:
    """The advisor of the test running now. schemathesis sends probes of its own (ignored_auth
    removes the credential and asks again) to its schema's app, and asks its auth provider for
    credentials, so both get this stand-in, pointed at each test's advisor by the fixture."""

    def __init__(self) -> None:
        self.advisor: Advisor | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.advisor is not None
        await self.advisor.app(scope, receive, send)


CURRENT = _Current()


class Advisor:
    """The app under test, its store, a live enrolment token and the enrolled host's credential."""

    def __init__(self, store: SqlStore, token: str, credential: str, admin_token: str) -> None:
        self.store = store
        self.token = token
        self.credential = credential
        self.admin_token = admin_token
        # One host sends every batch here: its quota must not turn the run into 429s.
        api = ApiSettings(max_ingests_per_host=1_000, host_batches_per_minute=1_000_000)
        self.app = create_app(
            store,
            api,
            clock=lambda: NOW,
            registry=CollectorRegistry(),
            **admin_routes(store.engine),
        )


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
        admin_token, _ = SqlApiTokens(engine).create(now=T0)
        # Two real products, so the catalog routes answer with content, not only 404s.
        records = [
            load_directory_file(ENDOFLIFE / "products" / f"{name}.md", ENDOFLIFE / "releases")
            for name in ("postgresql", "firefox")
        ]
        SqlCatalogStore(engine).import_records(records, kind="endoflife", source="fuzz", now=T0)
        # And findings, so the findings routes answer with content too.
        SqlFindings(engine).record_run(
            [finding(), finding("trend", "firefox", {"host": HOST_ID})], now=T0
        )
        # And recommendations, to list, decide on and plan a budget over.
        SqlRecommendations(engine).propose(list(KNAPSACK), now=T0)
        advisor = Advisor(store, token, enrolment.credential, admin_token)
        CURRENT.advisor = advisor
        yield advisor
    finally:
        CURRENT.advisor = None
        store.close()


schema = schemathesis.openapi.from_dict(advisor_document())
schema.app = CURRENT


# Cases are drawn before any advisor exists (some at collection): they carry the scheme's
# name, and each test swaps in its advisor's secret (_with_secrets).
@schema.auth(refresh_interval=None)
class _Bearer:
    """The bearer each operation's security scheme asks for. A negative case whose mutation
    removed it goes without (and must get 401)."""

    def get(self, case: Any, context: Any) -> str | None:
        security = case.operation.definition.raw.get("security", [])
        return next((name for need in security for name in need), None)

    def set(self, case: Any, data: str | None, context: Any) -> None:
        if data is not None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    database="none",
)
schema.config.checks.negative_data_rejection.expected_statuses = [
    str(status) for status in REFUSAL_STATUSES
]
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses,
    "413",
]


def _with_secrets(case: Any, advisor: Advisor) -> None:
    """Swap the scheme names _Bearer put in for this advisor's credential or admin token."""
    secrets = {HOST_CREDENTIAL: advisor.credential, ADMIN_TOKEN: advisor.admin_token}
    headers = case.headers or {}
    scheme = headers.get("Authorization", "").removeprefix("Bearer ")
    if scheme in secrets:
        headers["Authorization"] = f"Bearer {secrets[scheme]}"


def _make_valid_reach_the_store(case: Any, advisor: Advisor) -> None:
    """Give a valid (positive) case a live enrolment token, or the enrolled host's id and the
    batch rules stated in words, so it reaches the store; and a decision or budget the
    rules stated in words (a deferral ends after now, a quarter has not ended)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    _keep_the_review_rules(case)
    if case.path == ENROL_PATH:
        case.body["token"] = advisor.token
    elif case.path == INGEST_PATH and isinstance(case.body.get("host"), dict):
        case.body["host"]["host_id"] = HOST_ID
        case.body = keep_the_rules_stated_in_words(case.body)


@schema.parametrize()
# One database per operation on purpose: ingests and enrolments accumulate across examples,
# as they do on a live advisor. No deadline: the machine is shared and loaded.
@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
def test_every_endpoint_answers_fuzzed_input_as_documented(case: Any, advisor: Advisor) -> None:
    _with_secrets(case, advisor)
    _make_valid_reach_the_store(case, advisor)
    case.call_and_validate(base_url=BASE_URL, checks=CHECKS)


def _keep_the_review_rules(case: Any) -> None:
    """A valid decision or budget case made to keep what the document states in words: a
    deferral ends after the advisor's clock (NOW), a budget's quarter has not ended."""
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path.endswith("/defer") and isinstance(body.get("until"), int | float):
        if body["until"] <= NOW:
            body["until"] = NOW + 1 + body["until"] % 86_400
    elif (
        case.path == BUDGET_PATH
        and isinstance(body.get("quarter"), str)
        and Quarter.parse(body["quarter"]).end <= NOW
    ):
        body["quarter"] = str(Quarter.of(NOW))


class _FollowTheLinks(schema.as_state_machine()):  # type: ignore[misc]
    """Scenarios along the document's links (product list -> product, findings -> finding,
    recommendations -> one, its approval, its deferral)."""

    def before_call(self, case: Any) -> None:
        assert CURRENT.advisor is not None
        _with_secrets(case, CURRENT.advisor)
        meta = case.meta
        if meta is not None and meta.generation.mode.is_positive:
            _keep_the_review_rules(case)

    def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS)


def test_following_the_links_answers_as_documented(advisor: Advisor) -> None:
    _FollowTheLinks.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
