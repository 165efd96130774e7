"""Shared test helpers: where the repository is, and how missing tools are handled."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def require_tool(name: str, package: str) -> str:
    """Path of a command-line tool; skip without it, except under CI where it is a failure."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not installed (Debian package {package}; `make test` installs it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
