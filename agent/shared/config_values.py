"""Value converters of the config files: a raw TOML (or environment string) value in, a typed
value out, or :class:`~agent.shared.errors.InvalidValue` saying what was expected.

Generic and shared by both programs, so a duration, a size or an address is written the same
way in agent.toml, advisor.toml and on either command line (docs/configuration.md, "Values").
Converters bound by the wire format's limits belong to the agent's own config module.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from agent.shared.errors import InvalidValue

__all__ = [
    "InvalidValue",
    "boolean",
    "command",
    "duration",
    "listen_address",
    "log_level",
    "loopback_address",
    "optional_path",
    "optional_text",
    "path",
    "port",
    "positive_int",
    "ratio",
    "regex",
    "size",
    "split_host_port",
    "string_list",
    "text",
    "url",
]

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def duration(value: object) -> float:
    """Seconds from ``30``, ``1.5``, ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"`` or ``"7d"``."""
    if isinstance(value, bool):
        raise InvalidValue(f"expected a duration like '30s', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", value)
        if not match:
            raise InvalidValue(f"expected a duration like '30s', '5m' or '1h', got {value!r}")
        seconds = float(match[1]) * _DURATION_UNITS[match[2] or "s"]
    else:
        raise InvalidValue(f"expected a duration like '30s', got {value!r}")
    if seconds <= 0:
        raise InvalidValue(f"must be positive, got {value!r}")
    return seconds


def size(value: object) -> int:
    """Bytes from ``1048576``, ``"64MiB"``, ``"100 MB"``."""
    if isinstance(value, bool):
        raise InvalidValue(f"expected a size like '64MiB', got {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        if not match or match[2].lower() not in _SIZE_UNITS:
            raise InvalidValue(f"expected a size like '64MiB' or '100MB', got {value!r}")
        result = int(float(match[1]) * _SIZE_UNITS[match[2].lower()])
    else:
        raise InvalidValue(f"expected a size like '64MiB', got {value!r}")
    if result <= 0:
        raise InvalidValue(f"must be positive, got {value!r}")
    return result


def text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a string, got {value!r}")
    return value


def optional_text(value: object) -> str | None:
    return text(value) or None


def path(value: object) -> Path:
    result = text(value)
    if not result:
        raise InvalidValue("expected a path, got an empty string")
    return Path(result)


def optional_path(value: object) -> Path | None:
    result = text(value)
    return Path(result) if result else None


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
    }:
        return value.lower() in {"true", "1", "yes", "on"}
    raise InvalidValue(f"expected true or false, got {value!r}")


def positive_int(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidValue(f"expected a positive whole number, got {value!r}")
    return value


def ratio(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidValue(f"expected a number between 0 and 1, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise InvalidValue(f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def log_level(value: object) -> str:
    level = text(value).lower()
    if level not in {"debug", "info", "warning", "error"}:
        raise InvalidValue(f"expected debug, info, warning or error, got {value!r}")
    return level


def port(value: object) -> int:
    number = positive_int(value)
    if number > 65535:
        raise InvalidValue(f"expected a TCP port (1-65535), got {value!r}")
    return number


def string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidValue(f"expected a list of strings, got {value!r}")
    return tuple(value)


def command(value: object) -> tuple[str, ...]:
    """A command as a list of arguments; never run through a shell."""
    if isinstance(value, str):
        raise InvalidValue("expected a list of arguments, e.g. ['app', '--version']")
    result = string_list(value)
    if not result:
        raise InvalidValue("expected a non-empty command")
    return result


def regex(value: object) -> str:
    pattern = text(value)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidValue(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def listen_address(value: object) -> str:
    """``host:port``; an empty string disables the listener."""
    address = text(value)
    if address:
        split_host_port(address)
    return address


def loopback_address(value: object) -> str:
    """A ``host:port`` that only this machine can reach."""
    address = listen_address(value)
    if address:
        host, _ = split_host_port(address)
        if not is_loopback(host):
            raise InvalidValue(f"must be a loopback address (127.0.0.1 or [::1]), got {address!r}")
    return address


def url(value: object) -> str | None:
    result = text(value).rstrip("/")
    if result and not re.match(r"https?://[^/\s]+", result):
        raise InvalidValue(f"expected an http:// or https:// URL, got {result!r}")
    return result or None


def split_host_port(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9798"`` -> ``("127.0.0.1", 9798)``; ``"[::1]:9798"`` -> ``("::1", 9798)``."""
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]*):(\d+)", address)
    if not match:
        raise InvalidValue(f"expected host:port, got {address!r}")
    host = match[1] if match[1] is not None else match[3]
    return host, port(match[2] or match[4])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) can only mean this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
