"""What the OpenAPI document says beyond what FastAPI sees in the routes' signatures.

FastAPI writes the document from parameters and models; these functions add what the code
enforces elsewhere, so that a client, or a fuzzer such as schemathesis, can trust every line:

* the ingest body's schema (its route reads the body itself): :class:`agent.shared.wire.Batch` with
  every rule :mod:`advisor.api.ingest` and :mod:`advisor.api.batch_rules` apply to one value
  (the batch id rule, the one schema and version read, 64-bit integers, no NUL, ranges,
  lengths, name patterns, list sizes), and in its description the rules JSON Schema cannot
  state (the clock window, the order of quantiles, totals over a list);
* who may call what: the bearer schemes, the admin token on every route that depends on
  :class:`advisor.api.admin.AdminToken`, and the ``WWW-Authenticate`` challenge that every
  401 of a route with a security requirement carries (RFC 9110);
* no FastAPI default 422 "Validation Error": the app answers those errors 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.routing import BaseRoute

from advisor.api import batch_rules as rules
from advisor.api import ingest
from advisor.api.admin import AdminToken
from agent.shared.wire import SCHEMA, WIRE_VERSION, Batch

HOST_CREDENTIAL = "HostCredential"
ADMIN_TOKEN = "AdminToken"  # noqa: S105 - the scheme's name, not a secret
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    HOST_CREDENTIAL: {
        "type": "http",
        "scheme": "bearer",
        "description": "The host credential from enrolment (POST /api/v1/enrol).",
    },
    ADMIN_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin API token from `fleetsight-advisor api-token create`.",
    },
}
CHALLENGE_HEADER = {
    "WWW-Authenticate": {
        "required": True,
        "description": "The bearer challenge (RFC 6750); its `error` says what was wrong.",
        "schema": {"type": "string", "pattern": "^Bearer realm="},
    }
}
# What the database can store: PostgreSQL's BIGINT, and text without NUL.
INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}
NO_NUL = "^[^\\u0000]*$"
_REF = "#/components/schemas/{model}"


# batch_rules' forbidden characters as a JSON Schema class (ECMA, Rust and Python read it
# alike). Lone surrogates, refused too, cannot be written in a pattern: the description says so.
_BIDI = "\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069"
_NAME_CHAR = f"[^\\u0000-\\u001f\\u007f-\\u009f{_BIDI}]"
_TEXT_CHAR = f"[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f{_BIDI}]"
BATCH_DESCRIPTION = (
    "Beyond this schema, ingest refuses with 422: a time (created_at, start, end, started_at,"
    f" collected_at) more than {rules.MAX_CLOCK_AHEAD_SECONDS:.0f} s ahead of the advisor's"
    " clock; an interval whose end is before its start or that lasts more than"
    f" {rules.MAX_INTERVAL_SECONDS:.0f} s; a metric summary whose quantiles are not"
    " min <= p50 <= p90 <= p99 <= max; more than"
    f" {rules.MAX_METRIC_SUMMARIES} metric summaries over all intervals; launch counts adding"
    f" up to more than {rules.MAX_LAUNCHES_COUNTED}; a launch_counts day outside"
    f" {rules.EARLIEST_DAY} .. the advisor's local tomorrow anywhere on Earth; an integer"
    " literal beyond 64 bits anywhere (a number field, a field it does not know); an"
    " integer field written with a fraction or exponent (5.0, 5e0: JSON Schema calls those"
    " integers, ingest reads only 5); a lone surrogate in a text. A body with more JSON"
    " arrays and objects, or more array items and object members, than a batch within these"
    " limits can hold is 413."
)


def _name(limit: int, *, empty: bool = False) -> dict[str, Any]:
    """A name as batch_rules reads one: 1 (or 0) to ``limit`` characters, none forbidden."""
    return {"minLength": 0 if empty else 1, "maxLength": limit, "pattern": f"^{_NAME_CHAR}*$"}


def _identifier(first: str, rest: str, limit: int) -> dict[str, Any]:
    return {"pattern": f"^{first}{rest}{{0,{limit - 1}}}$", "minLength": 1, "maxLength": limit}


def _between(low: float, high: float) -> dict[str, Any]:
    return {"minimum": low, "maximum": high}


def _value_rules() -> dict[str, dict[str, dict[str, Any]]]:
    """Schema name -> property -> what batch_rules enforces on that one value."""
    time = {"minimum": rules.EARLIEST_TIME}
    duration = _between(0, rules.MAX_DURATION_SECONDS)
    value = _between(-rules.MAX_METRIC_VALUE, rules.MAX_METRIC_VALUE)
    described = _name(rules.MAX_DESCRIPTION, empty=True)
    short = _name(rules.MAX_SHORT_NAME, empty=True)
    launched = _between(0, rules.MAX_LAUNCHES_COUNTED)
    return {
        "Batch": {
            "sequence": {"minimum": 0},
            "created_at": time,
            "dropped_launch_events": launched,
            "intervals": {"maxItems": rules.MAX_INTERVALS},
            "launches": {"maxItems": rules.MAX_LAUNCHES},
            "launch_counts": {"maxItems": rules.MAX_LAUNCH_COUNT_ROWS},
        },
        "HostIdentity": {
            "hostname": _name(rules.MAX_HOSTNAME),
            "agent_version": _name(rules.MAX_AGENT_VERSION),
        },
        "Interval": {
            "start": time,
            "end": time,
            "metrics": {"maxItems": rules.MAX_METRIC_SUMMARIES},
        },
        "MetricSummary": {
            "name": _identifier("[a-zA-Z_:]", "[a-zA-Z0-9_:]", rules.MAX_METRIC_NAME),
            "labels": {
                "maxProperties": rules.MAX_LABELS,
                "propertyNames": _identifier("[a-zA-Z_]", "[a-zA-Z0-9_]", rules.MAX_LABEL_NAME),
                "additionalProperties": {
                    "type": "string",
                    **_name(rules.MAX_LABEL_VALUE, empty=True),
                },
            },
            "count": _between(1, rules.MAX_SAMPLES),
            "sum": _between(-rules.MAX_METRIC_SUM, rules.MAX_METRIC_SUM),
            **dict.fromkeys(("min", "max", "p50", "p90", "p99"), value),
        },
        "LaunchEvent": {
            "app": _name(rules.MAX_APP),
            "version": _name(rules.MAX_VERSION),
            "started_at": time,
            "duration_seconds": duration,
            "ready_signal": _name(rules.MAX_SHORT_NAME),
            "phases": {
                "maxProperties": rules.MAX_PHASES,
                "propertyNames": _identifier("[a-zA-Z_]", "[a-zA-Z0-9_]", rules.MAX_SHORT_NAME),
                "additionalProperties": {"type": "number", **duration},
            },
            "probe": _name(rules.MAX_PROBE),
            "detail": {"maxLength": rules.MAX_DETAIL, "pattern": f"^{_TEXT_CHAR}*$"},
        },
        "LaunchCount": {
            "app": _name(rules.MAX_APP),
            "day": {"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "format": "date"},
            "count": launched,
        },
        "Inventory": {
            "collected_at": time,
            "digest": {
                "pattern": f"^[A-Za-z0-9:+/=_-]{{1,{rules.MAX_DIGEST}}}$",
                "minLength": 1,
                "maxLength": rules.MAX_DIGEST,
            },
            "software": {"maxItems": rules.MAX_PACKAGES},
            "upgradable": {"maxItems": rules.MAX_PACKAGES},
        },
        "Hardware": {
            "cpu_model": described,
            "cpu_cores": _between(1, rules.MAX_CPU_THREADS),
            "cpu_threads": _between(1, rules.MAX_CPU_THREADS),
            "cpu_max_mhz": _between(0, rules.MAX_CPU_MHZ),
            "memory_bytes": _between(0, rules.MAX_MEMORY_BYTES),
            "swap_bytes": _between(0, rules.MAX_MEMORY_BYTES),
            "disks": {"maxItems": rules.MAX_DISKS},
            "machine_vendor": described,
            "machine_model": described,
            "bios_date": short,
            "os_name": described,
            "os_version": described,
            "kernel": described,
            "arch": short,
        },
        "Disk": {
            "name": _name(rules.MAX_SHORT_NAME),
            "size_bytes": _between(0, rules.MAX_DISK_BYTES),
            "model": described,
        },
        "InstalledPackage": {
            "package": _name(rules.MAX_PACKAGE),
            "version": _name(rules.MAX_VERSION),
            "arch": short,
            "app": _name(rules.MAX_APP, empty=True),
        },
        "UpgradablePackage": {
            "package": _name(rules.MAX_PACKAGE),
            "installed": _name(rules.MAX_VERSION),
            "candidate": _name(rules.MAX_VERSION),
            "origin": _name(rules.MAX_ORIGIN, empty=True),
            "arch": short,
        },
    }


def _storable_value() -> dict[str, Any]:
    """The schema of a field ingest does not know: ignored, but read, so without NUL."""
    itself = {"$ref": _REF.format(model="StorableValue")}
    return {
        "description": "Any JSON value without NUL in its texts (names included).",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": itself},
            {
                "type": "object",
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": itself,
            },
        ],
    }


def batch_schemas(host_id: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``Batch`` and the schemas it refers to, keyed by name, stating what ingest enforces.

    ``host_id`` is the enrolment's host id schema: a batch's ``host.host_id`` must follow the
    same rule (and be the credential's host, else 403).
    """
    batch = TypeAdapter(Batch).json_schema(ref_template=_REF)
    schemas: dict[str, dict[str, Any]] = {**batch.pop("$defs", {}), "Batch": batch}
    for schema in schemas.values():
        _storable(schema)
    for name, properties in _value_rules().items():
        for prop, constraints in properties.items():
            _constrain(schemas[name]["properties"][prop], constraints)
    top = batch["properties"]
    top["batch_id"].update(ingest.BATCH_ID_SCHEMA)
    top["schema"] = {**top["schema"], "const": SCHEMA}
    top["version"] = {"type": "integer", "const": WIRE_VERSION, "default": WIRE_VERSION}
    del top["schema"]["pattern"]
    # Fields it does not know ingest ignores, but it reads them: the same NUL rule holds.
    for schema in schemas.values():
        schema.setdefault("additionalProperties", {"$ref": _REF.format(model="StorableValue")})
        schema.setdefault("propertyNames", {"pattern": NO_NUL})
    schemas["StorableValue"] = _storable_value()
    rule = {key: host_id[key] for key in ("pattern", "minLength", "maxLength")}
    schemas["HostIdentity"]["properties"]["host_id"].update(rule)
    batch["description"] = BATCH_DESCRIPTION
    return schemas


def _constrain(schema: dict[str, Any], constraints: Mapping[str, Any]) -> None:
    """Apply ``constraints`` to ``schema``, or to its non-null branch when it may be null."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") != "null":
            branch.update(constraints)


def _storable(schema: Any) -> None:
    """Bound every integer to 64 bits and keep NUL out of every text, ``schema`` in place."""
    if isinstance(schema, list):
        for item in schema:
            _storable(item)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "integer":
        schema.update(INT64)
    elif kind == "string" and not {"enum", "const", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL
    elif kind == "object" and "additionalProperties" in schema:
        schema["propertyNames"] = {"pattern": NO_NUL}
    for key, value in schema.items():
        if key != "propertyNames":
            _storable(value)


def describe_security(document: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Add the bearer schemes, the admin token requirement of the routes that check one, and
    the challenge header of every 401 answered by a route with a security requirement."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    paths = document.get("paths", {})
    for route in routes:
        if isinstance(route, APIRoute) and _depends_on(route.dependant, AdminToken):
            for method in route.methods or ():
                paths[route.path_format][method.lower()]["security"] = [{ADMIN_TOKEN: []}]
    for operation in _operations(document):
        unauthorized = operation.get("responses", {}).get("401")
        if operation.get("security") and unauthorized is not None:
            unauthorized.setdefault("headers", {}).update(CHALLENGE_HEADER)


def drop_default_validation_errors(document: dict[str, Any]) -> None:
    """Remove FastAPI's 422 "Validation Error" answers and schemas: they are answered 400."""
    for operation in _operations(document):
        responses = operation.get("responses", {})
        if responses.get("422", {}).get("description") == "Validation Error":
            del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in document.get("paths", {}).values():
        yield from path.values()


def _depends_on(dependant: Dependant, kind: type) -> bool:
    return any(
        isinstance(dependency.call, kind) or _depends_on(dependency, kind)
        for dependency in dependant.dependencies
    )
