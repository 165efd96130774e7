"""The advisor's OpenAPI document against what its code does, where fuzzing sees little.

test_fuzz_openapi.py sends generated requests; this module checks, deterministically, what
generation reaches rarely or never:

* a route that refuses a request without a bearer declares a security scheme, and its 401
  promises the WWW-Authenticate challenge it sends; no other route declares one;
* no text parameter lets NUL through: the pattern says so and the route answers 400, on
  SQLite and on PostgreSQL (which cannot take NUL: it was a 500 there);
* the refusals only load or hostile clients cause (408 slow body, 413 enrolment over the
  size limit, 429 host quota, 503 database down) are documented, with the Retry-After they
  carry;
* every limit of advisor.api.batch_rules is stated in the Batch schema or its description;
* the Batch schema and ingest's parsing and checks agree, on generated batches both valid
  and invalid by the schema;
* the catalog's ``at`` and ``eol_within`` patterns are exactly what the code takes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from starlette.exceptions import StarletteDeprecationWarning

from advisor.api import batch_rules, ingest
from advisor.api.app import create_app
from advisor.api.catalog import EARLIEST, LATEST
from advisor.api.ingest import RejectedError
from advisor.api.settings import ApiSettings
from advisor.catalog.fleet import horizon_days
from advisor.errors import StoreUnavailable
from advisor.store.api_tokens import SqlApiTokens
from advisor.store.sql import SqlStore
from agent.shared.wire import ENROL_PATH, INGEST_PATH, encode
from tests.advisor.api.admin_routes import admin_routes

from .memory_store import MemoryStore
from .openapi_cases import NOW, T0, advisor_document, keep_the_rules_stated_in_words
from .test_ingest import make_batch

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on httpx2; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

DOCUMENT = advisor_document()
SCHEMAS = DOCUMENT["components"]["schemas"]
PROMISED_HEADERS = ("Retry-After", "WWW-Authenticate")
BATCH_EXAMPLES = 60


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _text_parameters() -> Iterator[tuple[str, str, str, str]]:
    """(path, method, parameter, where) of every string parameter without an enum in a path
    or a query (HTTP itself keeps NUL out of headers)."""
    for path, method, operation in _operations():
        for parameter in operation.get("parameters", []):
            branches = parameter["schema"].get("anyOf", [parameter["schema"]])
            texts = any(b.get("type") == "string" and "enum" not in b for b in branches)
            if texts and parameter["in"] in ("path", "query"):
                yield path, method, parameter["name"], parameter["in"]


def assert_documented(path: str, method: str, response: httpx.Response) -> None:
    """``response`` is one the document describes: its status, its promised headers (and no
    Retry-After or WWW-Authenticate it does not promise) and a ``{"detail"}`` body."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, response.status_code
    declared = responses[str(response.status_code)].get("headers", {})
    for name, header in declared.items():
        assert not header.get("required") or name in response.headers, name
    for name in PROMISED_HEADERS:
        assert name not in response.headers or name in declared, name
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


# --- who must authenticate ------------------------------------------------------------------


@pytest.fixture
def client(store: SqlStore) -> Iterator[TestClient]:
    app = create_app(
        store,
        ApiSettings(),
        clock=lambda: NOW,
        registry=CollectorRegistry(),
        **admin_routes(store.engine),
    )
    with TestClient(app) as test_client:
        yield test_client


def _request(client: TestClient, path: str, method: str, **kwargs: Any) -> httpx.Response:
    filled = re.sub(r"\{[^}]+\}", "x", path)
    if method == "post":
        response: httpx.Response = client.post(filled, json={}, **kwargs)
    else:
        response = client.request(method.upper(), filled, **kwargs)
    return response


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in _operations()])
def test_a_route_refusing_a_request_without_a_bearer_declares_it_and_its_challenge(
    client: TestClient, path: str, method: str
) -> None:
    operation = DOCUMENT["paths"][path][method]

    anonymous = _request(client, path, method)
    stranger = _request(client, path, method, headers={"Authorization": "Bearer fsa_nope"})

    if not operation.get("security"):
        assert 401 not in (anonymous.status_code, stranger.status_code)
        return
    for refused in (anonymous, stranger):
        assert refused.status_code == 401
        assert_documented(path, method, refused)
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


# --- NUL, which PostgreSQL cannot store -----------------------------------------------------


@pytest.mark.parametrize(("path", "method", "name", "where"), list(_text_parameters()))
def test_no_text_parameter_lets_a_nul_through(
    client: TestClient, store: SqlStore, path: str, method: str, name: str, where: str
) -> None:
    parameter = next(p for p in DOCUMENT["paths"][path][method]["parameters"] if p["name"] == name)
    branches = parameter["schema"].get("anyOf", [parameter["schema"]])
    patterns = [parameter["schema"].get("pattern")] + [b.get("pattern") for b in branches]
    assert any(p and re.search(p, "a\x00b") is None for p in patterns)
    token, _ = SqlApiTokens(store.engine).create(now=T0)
    headers = {"Authorization": f"Bearer {token}"}
    if where == "path":
        url = re.sub(r"\{[^}]+\}", "x", path.replace(f"{{{name}}}", quote("a\x00b", safe="")))
        answer = client.request(method.upper(), url, headers=headers)
    else:
        filled = re.sub(r"\{[^}]+\}", "x", path)
        answer = client.request(method.upper(), filled, params={name: "a\x00b"}, headers=headers)

    assert answer.status_code == 400
    assert_documented(path, method, answer)


# --- refusals under load --------------------------------------------------------------------


class _Ingest:
    """An app on a memory store with one enrolled host, and a valid batch to send."""

    def __init__(self, settings: ApiSettings) -> None:
        self.store = MemoryStore()
        self.app = create_app(self.store, settings, clock=lambda: NOW, registry=CollectorRegistry())
        secret, _ = self.store.create_token(department="finance", expires_at=T0 + 86400, now=T0)
        self.credential = self.store.enrol(
            token=secret, host_id="host-1", hostname="fin-ws-12", agent_version="0.1.0", now=T0
        ).credential
        self.headers = {
            "Authorization": f"Bearer {self.credential}",
            "Content-Type": "application/json",
        }

    def body(self, batch_id: str) -> bytes:
        return encode(make_batch("host-1", batch_id))


def test_a_host_over_its_quota_gets_a_documented_429_with_retry_after() -> None:
    api = _Ingest(ApiSettings(host_batches_per_minute=1))
    with TestClient(api.app) as client:
        first = client.post(INGEST_PATH, content=api.body("a1"), headers=api.headers)
        second = client.post(INGEST_PATH, content=api.body("a2"), headers=api.headers)

    assert first.status_code == 200
    assert second.status_code == 429
    assert_documented(INGEST_PATH, "post", second)


def test_a_database_outage_gets_a_documented_503_with_retry_after() -> None:
    api = _Ingest(ApiSettings())

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("the database is down")

    api.store.ingest_with_credential = down  # type: ignore[method-assign]
    with TestClient(api.app) as client:
        answer = client.post(INGEST_PATH, content=api.body("b1"), headers=api.headers)

    assert answer.status_code == 503
    assert_documented(INGEST_PATH, "post", answer)


def test_a_body_that_stalls_gets_a_documented_408() -> None:
    api = _Ingest(ApiSettings(body_timeout_seconds=0.05))
    body = api.body("c1")

    async def stalled() -> AsyncIterator[bytes]:
        yield body[:10]
        await anyio.sleep(5)
        yield body[10:]

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(INGEST_PATH, content=stalled(), headers=api.headers)

    answer = anyio.run(send)

    assert answer.status_code == 408
    assert_documented(INGEST_PATH, "post", answer)


def test_an_enrolment_over_the_size_limit_gets_a_documented_413() -> None:
    api = _Ingest(ApiSettings())
    with TestClient(api.app) as client:
        answer = client.post(ENROL_PATH, json={"token": "x" * 70_000})

    assert answer.status_code == 413
    assert_documented(ENROL_PATH, "post", answer)


def test_an_enrolment_that_stalls_gets_a_documented_408() -> None:
    api = _Ingest(ApiSettings(body_timeout_seconds=0.05))

    async def stalled() -> AsyncIterator[bytes]:
        yield b'{"token": '
        await anyio.sleep(5)
        yield b'"x"}'

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(ENROL_PATH, content=stalled())

    answer = anyio.run(send)

    assert answer.status_code == 408
    assert_documented(ENROL_PATH, "post", answer)


# --- the Batch schema and ingest ------------------------------------------------------------


def _reachable(name: str, seen: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schemas ``name`` refers to, itself included, by name."""
    seen = {} if seen is None else seen
    seen[name] = SCHEMAS[name]
    for ref in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(SCHEMAS[name])):
        if ref not in seen:
            _reachable(ref, seen)
    return seen


BATCH_SCHEMAS = _reachable("Batch")


def _numbers_in(schema: Any) -> set[float]:
    found: set[float] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("minimum", "maximum", "minLength", "maxLength", "maxItems", "maxProperties"):
                found.add(value)
            else:
                found |= _numbers_in(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _numbers_in(item)
    return found


def test_every_limit_of_the_batch_rules_is_in_the_document() -> None:
    stated = _numbers_in(BATCH_SCHEMAS)
    words = SCHEMAS["Batch"]["description"]
    # MAX_PROBLEMS_LISTED shapes a message; MAX_CONTAINERS and MAX_SEPARATORS follow from the
    # other limits.
    limits = {
        name: value
        for name, value in vars(batch_rules).items()
        if name.startswith(("MAX_", "EARLIEST_"))
        and name not in ("MAX_PROBLEMS_LISTED", "MAX_CONTAINERS", "MAX_SEPARATORS")
    }

    missing = [
        name
        for name, value in limits.items()
        if value not in stated and str(value) not in words and f"{value:.0f}" not in words
    ]

    assert missing == []


def _integers(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "integer":
            yield schema
        for value in schema.values():
            yield from _integers(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _integers(item)


def test_every_integer_the_batch_schema_allows_fits_64_bits() -> None:
    # Ingest refuses integer literals beyond 64 bits anywhere; PostgreSQL stores no more.
    unbounded = [
        schema
        for schema in _integers(BATCH_SCHEMAS)
        if "const" not in schema
        and not -(2**63) <= schema.get("minimum", -(2**64)) <= schema.get("maximum", 2**64) < 2**63
    ]

    assert unbounded == []


_BATCH_VALIDATOR = jsonschema_rs.validator_for(
    {"$ref": "#/components/schemas/Batch", "components": DOCUMENT["components"]},
    validate_formats=True,
)
_INGEST = schemathesis.openapi.from_dict(DOCUMENT)[INGEST_PATH]["POST"]


def _is_valid(body: Any) -> bool:
    """Whether ``body`` (JSON, or bytes that may not be JSON) is a batch by the schema."""
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except ValueError:
            return False
    return bool(_BATCH_VALIDATOR.is_valid(body))


def _ingest_reads(body: Any) -> None:
    """What ingest does with a body it has read: count, parse, check (RejectedError if not)."""
    document = body if isinstance(body, bytes) else json.dumps(body).encode()
    batch_rules.check_element_count(document)
    batch_rules.check_separator_count(document)
    batch_rules.check_batch(ingest.parse_batch(document), now=NOW)


@settings(
    max_examples=BATCH_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_ingest_takes_every_batch_the_schema_allows(data: st.DataObject) -> None:
    case = data.draw(_INGEST.as_strategy(generation_mode=GenerationMode.POSITIVE))
    assert isinstance(case.body, dict)
    body = keep_the_rules_stated_in_words(case.body)
    assert _BATCH_VALIDATOR.is_valid(body)

    _ingest_reads(body)


@settings(
    max_examples=BATCH_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_ingest_refuses_every_batch_the_schema_forbids(data: st.DataObject) -> None:
    case = data.draw(_INGEST.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    if _is_valid(case.body):
        return  # a mutation outside the body (a header): nothing to refuse in it

    with pytest.raises(RejectedError):
        _ingest_reads(case.body)


def test_a_known_good_batch_is_valid_by_the_schema() -> None:
    body = json.loads(encode(dataclasses.replace(make_batch("host-1"), created_at=T0)))

    assert _BATCH_VALIDATOR.is_valid(body)
    _ingest_reads(body)


# --- the catalog's text parameters ----------------------------------------------------------


def _documented_text(path: str, name: str) -> Callable[[str], bool]:
    """Whether the document allows text ``value`` for parameter ``name`` of GET ``path``:
    every pattern that applies to a string (at the top, or in its string branch) matches."""
    parameter = next(p for p in DOCUMENT["paths"][path]["get"]["parameters"] if p["name"] == name)
    schema = parameter["schema"]
    string = next(b for b in schema.get("anyOf", [schema]) if b.get("type") == "string")
    patterns = [re.compile(p) for p in (schema.get("pattern"), string.get("pattern")) if p]
    return lambda value: all(pattern.search(value) for pattern in patterns)


def test_the_documented_eol_within_is_what_the_catalog_takes() -> None:
    documented = _documented_text("/api/v1/catalog/outdated", "eol_within")
    shape = re.compile(r"[0-9]{1,6}[dw]?")  # what FastAPI checks before horizon_days

    def taken(value: str) -> bool:
        try:
            horizon_days(value)
        except ValueError:
            return False
        return shape.fullmatch(value) is not None

    differ = [
        value
        for number in range(40_000)
        for value in (f"{number}", f"{number:06d}d", f"{number}w", f"{number:07d}")
        if documented(value) != taken(value)
    ]

    assert differ == []


def test_the_documented_at_is_the_range_of_days_the_catalog_takes() -> None:
    documented = _documented_text("/api/v1/catalog/products", "at")
    days = [dt.date(year, month, 1) for year in range(1, 10_000) for month in (1, 12)]
    days += [EARLIEST, EARLIEST - dt.timedelta(days=1), LATEST, LATEST + dt.timedelta(days=1)]

    differ = [day for day in days if documented(f"{day}") != (EARLIEST <= day <= LATEST)]

    assert differ == []
