"""Checks of what people and the analysis hand the store, at its boundary.

Each check returns the value as it will be stored, or raises ``error`` (a ValueError class,
the caller's) with a message that names the field and what is wrong with it. Names are one
line; free text (a reason) may hold line breaks and tabs; neither any other control
character, which would reach a terminal or a log unescaped.

>>> one_line("  alice ", field="actor", limit=200)
'alice'
>>> one_line("a\\nb", field="title", limit=300)
Traceback (most recent call last):
...
ValueError: title must be one line, without control characters
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def one_line(value: object, *, field: str, limit: int, error: type[ValueError] = ValueError) -> str:
    """``value`` stripped: a non-empty string of one line, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise error(f"{field} must be text, not {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise error(f"{field} must not be empty")
    if len(stripped) > limit:
        raise error(f"{field} must be at most {limit} characters, not {len(stripped)}")
    if _NAME_FORBIDDEN.search(stripped):
        raise error(f"{field} must be one line, without control characters")
    return stripped


def optional_one_line(
    value: object, *, field: str, limit: int, error: type[ValueError] = ValueError
) -> str | None:
    """:func:`one_line`, or None for None."""
    return None if value is None else one_line(value, field=field, limit=limit, error=error)


def free_text(
    value: object, *, field: str, limit: int, error: type[ValueError] = ValueError
) -> str | None:
    """``value`` stripped, at most ``limit`` characters, line breaks and tabs allowed; None for
    None or blank text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise error(f"{field} must be text, not {type(value).__name__}")
    stripped = value.strip()
    if len(stripped) > limit:
        raise error(f"{field} must be at most {limit} characters, not {len(stripped)}")
    if _TEXT_FORBIDDEN.search(stripped):
        raise error(f"{field} must not hold control characters other than line breaks and tabs")
    return stripped or None


def names(
    values: object, *, field: str, limit: int, error: type[ValueError] = ValueError
) -> tuple[str, ...]:
    """A sequence of :func:`one_line` names (not one string), as a tuple in its order."""
    if isinstance(values, str) or not isinstance(values, tuple | list):
        raise error(f"{field} must be a tuple of names, not {type(values).__name__}")
    return tuple(
        one_line(value, field=f"{field}[{i}]", limit=limit, error=error)
        for i, value in enumerate(values)
    )


def finite(value: object, *, field: str, error: type[ValueError] = ValueError) -> float:
    """``value`` as a float: a real number, neither NaN nor infinite (nor a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{field} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise error(f"{field} must be a finite number, not {number}")
    return number


def json_object(
    value: object, *, field: str, limit_bytes: int, error: type[ValueError] = ValueError
) -> dict[str, Any]:
    """``value`` as stored and read back: a JSON object (string keys; tuples become lists),
    with finite numbers only (JSONB and strict JSON refuse NaN), at most ``limit_bytes``
    encoded."""
    if not isinstance(value, dict):
        raise error(f"{field} must be a JSON object (a dict), not {type(value).__name__}")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise error(f"{field} is not JSON with finite numbers: {exc}") from None
    size = len(encoded.encode("utf-8"))
    if size > limit_bytes:
        raise error(f"{field} must be at most {limit_bytes} bytes as JSON, not {size}")
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded
