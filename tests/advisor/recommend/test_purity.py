"""The recommendation engine is pure, as the analysis is: no store, database, HTTP or clock
(``now`` is passed in), no file or network I/O, and its docstring examples hold."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import advisor.recommend
from tests.advisor.analysis.test_purity import (
    assert_calls_no_io_builtins,
    assert_imports_nothing_that_does_io,
)

MODULES = sorted(Path(advisor.recommend.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_recommend_module_imports_anything_that_does_io(path: Path) -> None:
    assert_imports_nothing_that_does_io(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_recommend_module_calls_io_builtins(path: Path) -> None:
    assert_calls_no_io_builtins(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_recommend_docstring_examples_hold(path: Path) -> None:
    name = "advisor.recommend" if path.stem == "__init__" else f"advisor.recommend.{path.stem}"
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
