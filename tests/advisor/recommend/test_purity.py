"""The recommendation engine is pure, as the analysis is: no store, database, HTTP or clock
(``now`` is passed in), no file or network I/O, and its docstring examples hold."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import advisor.recommend
from tests.advisor.analysis.test_purity import FORBIDDEN_CALLS, FORBIDDEN_IMPORTS, imported_names

MODULES = sorted(Path(advisor.recommend.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_recommend_module_imports_anything_that_does_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = {
        name
        for name in imported_names(tree)
        for forbidden in FORBIDDEN_IMPORTS
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_recommend_module_calls_io_builtins(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & set(FORBIDDEN_CALLS), f"{path.name} calls {calls & set(FORBIDDEN_CALLS)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_recommend_docstring_examples_hold(path: Path) -> None:
    name = "advisor.recommend" if path.stem == "__init__" else f"advisor.recommend.{path.stem}"
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
