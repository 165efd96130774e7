"""A writable copy of the ``desktop`` fake machine, so tests can move its counters on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def proc_root(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    shutil.copytree(FIXTURES / "proc" / "desktop", root)
    return root


@pytest.fixture
def sys_root(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys" / "desktop", root)
    return root
