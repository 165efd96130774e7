"""The analysis is pure: it imports neither the store, a database, HTTP nor the simulator,
does no file or network I/O, and its docstring examples hold. The catalog package (all of it,
importers included) imports neither the store, a database, the API nor HTTP: its SQL is in
advisor.store.catalog, its fetching in advisor.catalog_sources."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import advisor.analysis
import advisor.catalog

PACKAGE = Path(advisor.analysis.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
FORBIDDEN_IMPORTS = (
    "advisor.store",
    "advisor.api",
    "advisor.simulator",
    "advisor.jobs",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "sqlite3",
    "httpx",
    "fastapi",
    "starlette",
    "uvicorn",
    "requests",
    "urllib",
    "http",
    "socket",
    "pathlib",
    "os",
    "io",
    "sys",
    "time",  # no wall clock: ``now`` is passed in (the fleet analysis and its modules)
)
FORBIDDEN_CALLS = ("open", "print", "input")
CATALOG_MODULES = sorted(Path(advisor.catalog.__file__).parent.rglob("*.py"))
CATALOG_FORBIDDEN_IMPORTS = (
    "advisor.store",
    "advisor.api",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "sqlite3",
    "httpx",
)


def imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def assert_imports_nothing_that_does_io(path: Path) -> None:
    """``path`` imports none of :data:`FORBIDDEN_IMPORTS` (nor their submodules)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = {
        name
        for name in imported_names(tree)
        for forbidden in FORBIDDEN_IMPORTS
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


def assert_calls_no_io_builtins(path: Path) -> None:
    """``path`` calls none of :data:`FORBIDDEN_CALLS`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & set(FORBIDDEN_CALLS), f"{path.name} calls {calls & set(FORBIDDEN_CALLS)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_it_imports_nothing_that_does_io(path: Path) -> None:
    assert_imports_nothing_that_does_io(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_it_calls_no_io_builtins(path: Path) -> None:
    assert_calls_no_io_builtins(path)


def test_the_import_check_would_catch_a_store_import() -> None:
    tree = ast.parse("from advisor.store.sql import SqlStore\nimport sqlalchemy as sa\n")
    assert imported_names(tree) == {"advisor.store.sql", "sqlalchemy"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_its_docstring_examples_hold(path: Path) -> None:
    module = importlib.import_module(f"advisor.analysis.{path.stem}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("path", CATALOG_MODULES, ids=lambda p: p.name)
def test_no_catalog_module_imports_the_store_a_database_or_http(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = {
        name
        for name in imported_names(tree)
        for forbidden in CATALOG_FORBIDDEN_IMPORTS
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_catalog_check_covers_the_importers() -> None:
    assert {"endoflife.py", "orgfile.py", "packagemanager.py"} <= {p.name for p in CATALOG_MODULES}
