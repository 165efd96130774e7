"""pydantic validation errors turned into the key paths a person edits (``releases.3.eol``)."""

from __future__ import annotations

from pydantic import ValidationError

# pydantic adds the branch type to the location of a failed union member (``eol.date``); the
# person fixing the file knows the key, not the branch.
_BRANCH_TAGS = frozenset({"date", "bool", "str", "int", "float", "decimal", "none", "literal"})


def error_key(loc: tuple[int | str, ...]) -> str:
    """The dotted key of a pydantic error location, without union branch names."""
    parts = [str(part) for part in loc if not (isinstance(part, str) and part in _BRANCH_TAGS)]
    return ".".join(parts)


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(key, message) of the first error, the message with pydantic's prefixes removed."""
    error = exc.errors()[0]
    return error_key(error["loc"]), str(error["msg"]).removeprefix("Value error, ")


def all_errors(exc: ValidationError) -> str:
    """Every error as ``key: message``, joined by ``; ``."""
    parts = []
    for error in exc.errors():
        key = error_key(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{key}: {message}" if key else message)
    return "; ".join(parts)
