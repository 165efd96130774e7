"""Turning an ingest request's body into a :class:`agent.shared.wire.Batch`, or saying why not.

Pure: bytes and header values in, a batch or a :class:`RejectedError` out; no I/O, no framework.
The steps, in the order the API applies them (advisor.api.ingest_route); nothing after the
first two happens for a caller who is not an enrolled host::

    credential             no, malformed, unknown or revoked credential        -> 401
                           (advisor.api.auth; the body is never read)
    check_content_length   Content-Length over the compressed limit        -> 413
    content_coding         Content-Encoding other than gzip / identity     -> 415
    host quota             too many in flight or per minute for the host   -> 429
                           (advisor.api.quotas), with Retry-After
    slot                   every ingest slot busy past the queue wait      -> 429
    body                   not whole within the read deadline              -> 408
    decode_body            gzip expanding past the decompressed limit      -> 413
                           broken or truncated gzip                        -> 400
    check_element_count    more objects and arrays than a batch can hold   -> 413
    check_separator_count  more items and members than a batch can hold    -> 413
                           (advisor.api.batch_rules, both before any parsing)
    parse_batch            not JSON, NaN, integers beyond 64 bits, NUL     -> 422
                           schema / version this advisor does not read     -> 422
                           fields that do not match agent.shared.wire.Batch       -> 422, by path
    check_batch            values out of range, bad dates, order, sizes,   -> 422, by path
                           control characters (advisor.api.batch_rules)
    check_batch_id_header  X-Fleetsight-Batch-Id differs from batch_id     -> 400
    wrong_host             the batch is for another host than the caller   -> 403
    store                  the database refuses the batch for its content  -> 422
                           the database cannot take it now                 -> 503

Each rejection carries the metric ``reason`` it is counted under and a ``detail`` sentence
that the agent keeps as the quarantine reason, so it says which field is wrong and how.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NoReturn, get_args

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from agent.shared.wire import SCHEMA, WIRE_VERSION, Batch

RejectReason = Literal[
    "auth",
    "too_large",
    "bad_encoding",
    "invalid",
    "wrong_host",
    "overloaded",
    "host_quota",
    "slow_body",
    "unstorable",
]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)
Coding = Literal["gzip", "identity"]

# Beyond these the database cannot store an integer; say so here rather than fail there.
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_MAX_ERRORS_LISTED = 10
_MAX_ECHO_CHARS = 80
# The store keys batches by id: bounded and plain, whatever a client sends.
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
BATCH_ID_SCHEMA = {"pattern": "^[A-Za-z0-9_-]{1,64}$", "minLength": 1, "maxLength": 64}
"""The batch id rule above, as JSON Schema, for the OpenAPI document."""
# What pydantic would accept but the store cannot take: NaN and infinities written literally,
# integers past 64 bits (19 digits or more), NUL in text. Found with substring searches on a
# copy whose digits are all '0': far cheaper than a regular expression. A hit only sends the
# document down the careful path, which decides; digits inside strings hit harmlessly (a run of
# 19 digits in a hex batch id is rare). Floats past 1e308, which read as infinities, are
# refused by the validator itself (Batch.__pydantic_config__), which also sends them down that path.
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_SUSPECT_LITERALS = (b"NaN", b"Infinity", b"\\u0000")
_SUSPECT_NUMBERS = (b"0" * 19,)
# gzip framing (RFC 1952) rather than a raw zlib stream: what Content-Encoding: gzip means.
_GZIP_WBITS = 16 + zlib.MAX_WBITS

_BATCH_ADAPTER: TypeAdapter[Batch] = TypeAdapter(Batch)


class RejectedError(Exception):
    """A request the API refuses: the HTTP ``status``, the metric ``reason`` it is counted
    under, the ``detail`` sentence for the client, and any ``headers`` to send with it."""

    def __init__(
        self,
        status: int,
        reason: RejectReason,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = dict(headers or {})


def too_large(limit: int, what: str = "the request body") -> RejectedError:
    """The 413 for a body over ``limit`` bytes (compressed, or once decompressed)."""
    return RejectedError(
        413,
        "too_large",
        f"{what} is larger than this advisor's limit of {limit} bytes; send smaller batches",
    )


def check_content_length(header: str | None, limit: int) -> None:
    """Refuse a body announced as longer than ``limit`` before reading any of it.

    A missing header (chunked upload) passes: the body is then read with the same limit.
    """
    if header is None:
        return
    value = header.strip()
    if not value.isdigit():
        raise RejectedError(400, "invalid", f"Content-Length {_echo(header)} is not a number")
    if int(value) > limit:
        raise too_large(limit)


def content_coding(header: str | None) -> Coding:
    """The body's Content-Encoding as one this advisor decodes; else 415."""
    value = (header or "identity").strip().lower()
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value in ("identity", ""):
        return "identity"
    raise RejectedError(
        415,
        "bad_encoding",
        f"Content-Encoding {_echo(header or '')} is not supported: send gzip or identity",
    )


def decode_body(body: bytes, coding: Coding, limit: int) -> bytes:
    """The JSON document in ``body``, at most ``limit`` bytes of it (413 beyond)."""
    if coding == "gzip":
        return gunzip_limited(body, limit)
    if len(body) > limit:
        raise too_large(limit)
    return body


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data``, never producing more than ``limit`` bytes.

    zlib is asked for at most one byte more than what is left of the limit, so a gzip bomb
    (gigabytes of zeros in a few kilobytes) stops there with 413 instead of filling memory.
    Several gzip members one after another are one body (RFC 1952); a broken or truncated
    stream is 400.
    """
    parts: list[bytes] = []
    produced = 0
    remaining = data
    while True:
        inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
        try:
            part = inflater.decompress(remaining, limit - produced + 1)
        except zlib.error as exc:
            raise RejectedError(400, "bad_encoding", f"the body is not valid gzip: {exc}") from exc
        produced += len(part)
        if produced > limit:
            raise too_large(limit, "the body once decompressed")
        if not inflater.eof:
            raise RejectedError(400, "bad_encoding", "the gzip body is truncated")
        parts.append(part)
        remaining = inflater.unused_data
        if not remaining:
            return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_batch(document: bytes) -> Batch:
    """Validate a JSON document against :class:`agent.shared.wire.Batch` (422 with the reasons).

    pydantic reads it in strict mode, so a string is never taken for a number nor ``true``
    for a count. A document that fails, or that a cheap scan finds suspect (NaN, infinities,
    huge numbers, NUL), is read again carefully by :func:`_parse_carefully` to say exactly
    what is wrong; a valid batch, nearly every one, is parsed only once.
    """
    if not _looks_unstorable(document):
        try:
            batch = _BATCH_ADAPTER.validate_json(document, strict=True)
        except ValidationError:
            pass  # the careful reading says what is wrong, version first
        else:
            if (
                batch.schema == SCHEMA
                and batch.version == WIRE_VERSION
                and _BATCH_ID.fullmatch(batch.batch_id)
            ):
                return batch
    return _parse_carefully(document)


def _looks_unstorable(document: bytes) -> bool:
    if any(literal in document for literal in _SUSPECT_LITERALS):
        return True
    digits = document.translate(_DIGITS_AS_ZERO)
    return any(number in digits for number in _SUSPECT_NUMBERS)


def _parse_carefully(document: bytes) -> Batch:
    """The slow path of :func:`parse_batch`: validate, or raise with the first real reason.

    The standard library reads the document first: it names the exact JSON error, refuses
    what the database could not store (NaN, infinities, integers beyond 64 bits), and lets
    the wire version be checked before the fields, since a future version would otherwise
    read as a list of puzzling field errors. Then pydantic checks the fields.
    """
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"the body is not UTF-8: {exc}") from exc
    try:
        parsed = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite
        )
    except json.JSONDecodeError as exc:
        raise _invalid(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _invalid("the body nests arrays or objects too deeply to be a batch") from exc
    except _UnstorableNumberError as exc:
        raise _invalid(f"the body has a number this advisor cannot store: {exc}") from exc
    if not isinstance(parsed, dict):
        raise _invalid(f"the body must be a JSON object (a {SCHEMA} document)")
    _check_schema_version(parsed)
    if _holds_nul(parsed):
        raise _invalid("the body has a NUL character (\\u0000) in a text, which cannot be stored")
    try:
        batch = _BATCH_ADAPTER.validate_json(document, strict=True)
    except ValidationError as exc:
        raise _invalid(describe_errors(exc.errors(include_url=False))) from exc
    if not _BATCH_ID.fullmatch(batch.batch_id):
        raise _invalid("batch_id: should be 1 to 64 letters, digits, '-' or '_'")
    return batch


def _holds_nul(parsed: object) -> bool:
    """Whether any decoded key or string holds a NUL (PostgreSQL text cannot store one).

    Decoded, not searched for in the raw text: ``"\\\\u0000"`` is a backslash followed by
    ``u0000``, six harmless characters. Iterative, as the document may nest deeply.
    """
    pending = [parsed]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def describe_errors(errors: Sequence[ErrorDetails], skip: int = 0) -> str:
    """pydantic errors as one line, each field by its dotted path.

    ``skip`` drops leading path parts (FastAPI's ``body``). Example:
    ``launches.0.outcome: Input should be 'ok', 'timeout' or 'failed'``.
    """
    described = []
    for error in errors[:_MAX_ERRORS_LISTED]:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", error["msg"])
            described.append(f"the body is not valid JSON: {reason}")
            continue
        loc = error["loc"]
        path = ".".join(str(part) for part in (loc[skip:] if len(loc) > skip else loc))
        described.append(f"{path}: {error['msg']}" if path else error["msg"])
    more = len(errors) - _MAX_ERRORS_LISTED
    if more > 0:
        described.append(f"and {more} more error{'s' if more > 1 else ''}")
    return "; ".join(described) or "invalid request"


def wrong_host(batch: Batch, credential_host_id: str) -> RejectedError:
    """The 403 for a batch naming another host than the one the credential belongs to: an
    agent writes only its own host's data."""
    return RejectedError(
        403,
        "wrong_host",
        f"this credential belongs to host {_echo(credential_host_id)}, but the batch is for host"
        f" {_echo(batch.host.host_id)}: an agent sends only its own host's data"
        " (re-enrol this agent with `fleetsight-agent enroll URL -`)",
    )


def check_batch_id_header(header: str | None, batch: Batch, name: str) -> None:
    """The batch id header ``name``, when sent, must be the body's ``batch_id`` (else 400)."""
    if header is not None and header.strip() != batch.batch_id:
        raise RejectedError(
            400,
            "invalid",
            f"the {name} header {_echo(header)} is not the body's batch_id {_echo(batch.batch_id)}",
        )


def parse_sent_at(header: str | None) -> float | None:
    """X-Fleetsight-Sent-At as Unix seconds; None when absent or not a usable time.

    It only serves to estimate clock skew, so a bad value is ignored rather than refused.
    """
    if header is None or len(header) > 64:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


class _UnstorableNumberError(ValueError):
    pass


def _refuse_constant(name: str) -> NoReturn:
    raise _UnstorableNumberError(f"{name} is not a number")


def _bounded_int(text: str) -> int:
    if len(text) > 20:  # before int(): Python refuses long digit strings with a ValueError
        raise _UnstorableNumberError(f"{text[:30]}... is beyond a 64-bit integer")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _UnstorableNumberError(f"{text[:30]} is beyond a 64-bit integer")
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _UnstorableNumberError(f"{text[:30]} is beyond a double")
    return value


def _check_schema_version(parsed: dict[str, Any]) -> None:
    schema = parsed.get("schema", SCHEMA)
    version = parsed.get("version", WIRE_VERSION)
    supported = f"this advisor reads {SCHEMA!r} version {WIRE_VERSION}"
    if schema != SCHEMA:
        raise _invalid(f"schema: {_echo(schema)} is not a batch: {supported}")
    if version != WIRE_VERSION or isinstance(version, bool):
        raise _invalid(
            f"version: wire-format version {_echo(version)} is not supported: {supported}"
        )


def _invalid(detail: str) -> RejectedError:
    return RejectedError(422, "invalid", detail)


def _echo(value: object) -> str:
    """A client-sent value quoted for a message, cut short: it may be anything."""
    text = repr(value)
    return text if len(text) <= _MAX_ECHO_CHARS else text[: _MAX_ECHO_CHARS - 3] + "..."
