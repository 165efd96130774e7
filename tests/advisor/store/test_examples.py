"""The examples in the store modules' docstrings hold."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "audit",
        "fields",
        "findings",
        "frames",
        "open",
        "recommendation_rules",
        "retention",
        "rollup",
        "tokens",
    ],
)
def test_its_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"advisor.store.{name}"))

    assert result.attempted >= 1
    assert result.failed == 0
