"""The import rules between the two programs (issue 12): the agent never imports the advisor,
the advisor takes only ``agent.shared`` of the agent, ``agent.shared`` stands alone and stays
light enough for the agent's budget, and each program keeps its own exception tree.

Imports are read from the source with :mod:`ast`, lazy ones (in a function, under
``TYPE_CHECKING``) included: a dependency is one whenever it runs. Only the weight rule spares
them, since weight is paid at import time."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from advisor.errors import ConfigError as AdvisorConfigError
from agent.errors import ConfigError as AgentConfigError
from agent.errors import FleetsightAgentError
from agent.shared.errors import ConfigFileError
from tests.agent.test_import_weight import HEAVY
from tests.conftest import REPO

SHARED = "agent.shared"


@dataclass(frozen=True)
class Import:
    """One imported name: a module, or ``module.attribute`` for ``from module import attribute``
    (the attribute may be a submodule, so the rules see ``from agent import config``)."""

    name: str
    line: int
    at_import_time: bool
    """False inside a function or under ``if TYPE_CHECKING:``."""


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import in ``source``, the text of ``module``, with relative ones made absolute."""
    found: list[Import] = []
    here = module.split(".") if is_package else module.split(".")[:-1]

    def visit(nodes: Iterable[ast.AST], at_import_time: bool) -> None:
        for child in nodes:
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, child.lineno, at_import_time) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                parts = here[: len(here) - child.level + 1] if child.level else []
                base = ".".join([*parts, *([child.module] if child.module else [])])
                found.extend(
                    Import(
                        base if a.name == "*" else f"{base}.{a.name}", child.lineno, at_import_time
                    )
                    for a in child.names
                )
            elif _is_type_checking(child):
                visit(child.body, at_import_time=False)
                visit(child.orelse, at_import_time)
            else:
                lazy = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(ast.iter_child_nodes(child), at_import_time and not lazy)

    visit([ast.parse(source)], at_import_time=True)
    return found


def _is_type_checking(node: ast.AST) -> TypeGuard[ast.If]:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): its body never runs."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def broken_rules(module: str, imports: Iterable[Import]) -> list[str]:
    """What ``module`` breaks of the import rules, one line per import."""
    broken: list[str] = []
    for imported in imports:
        where = f"{module}:{imported.line} imports {imported.name}"
        name = imported.name
        if within(module, "agent") and within(name, "advisor"):
            broken.append(f"{where}: the agent never imports the advisor")
        if within(module, "advisor") and within(name, "agent") and not within(name, SHARED):
            broken.append(f"{where}: the advisor takes only {SHARED} of the agent")
        if within(module, SHARED) and within(name, "agent") and not within(name, SHARED):
            broken.append(f"{where}: {SHARED} imports nothing else of the agent")
        if (
            within(module, SHARED)
            and imported.at_import_time
            and any(within(name, heavy) for heavy in HEAVY)
        ):
            broken.append(f"{where}: too heavy for the agent (tests/agent/test_import_weight.py)")
    return broken


def modules_under(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports_under(package: str) -> dict[str, list[Import]]:
    return {
        module: imports_of(path.read_text(), module, is_package=path.name == "__init__.py")
        for module, path in modules_under(package)
    }


def foreign_exception_bases(module: types.ModuleType) -> list[str]:
    """Exception classes defined in ``module`` deriving from the agent's own (not shared) ones."""
    found: list[str] = []
    for value in vars(module).values():
        if not (
            isinstance(value, type)
            and issubclass(value, BaseException)
            and value.__module__ == module.__name__
        ):
            continue
        found.extend(
            f"{value.__module__}.{value.__qualname__} derives from"
            f" {base.__module__}.{base.__name__}"
            for base in value.__mro__
            if within(base.__module__, "agent") and not within(base.__module__, SHARED)
        )
    return found


# --- the rules hold --------------------------------------------------------------------------


def test_the_agent_never_imports_the_advisor_and_its_shared_package_stands_alone() -> None:
    imports = imports_under("agent")
    assert any(within(module, SHARED) for module in imports)  # the scan saw the package
    assert [
        problem for module, found in imports.items() for problem in broken_rules(module, found)
    ] == []


def test_the_advisor_takes_nothing_of_the_agent_but_its_shared_package() -> None:
    imports = imports_under("advisor")
    assert any(within(i.name, SHARED) for i in imports["advisor.config"])
    assert [
        problem for module, found in imports.items() for problem in broken_rules(module, found)
    ] == []


def test_importing_the_shared_package_loads_nothing_else_of_the_agent_and_nothing_heavy() -> None:
    shared = [module for module, _ in modules_under("agent/shared")]
    script = (
        "import importlib, json, sys\n"
        f"for name in {shared!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert "agent.shared.config_loader" in loaded
    outside = {
        name
        for name in loaded
        if (within(name, "agent") and name != "agent" and not within(name, SHARED))
        or within(name, "advisor")
        or any(within(name, heavy) for heavy in HEAVY)
    }
    assert outside == set()


def test_no_advisor_exception_derives_from_an_agent_exception_outside_the_shared_package() -> None:
    modules = [
        importlib.import_module(module)
        for module, path in modules_under("advisor")
        if path.name == "errors.py"
    ]
    assert "advisor.errors" in {module.__name__ for module in modules}
    assert [problem for module in modules for problem in foreign_exception_bases(module)] == []


def test_each_program_catches_config_problems_in_its_own_tree() -> None:
    assert issubclass(AdvisorConfigError, ConfigFileError)
    assert not issubclass(AdvisorConfigError, FleetsightAgentError)
    assert issubclass(AgentConfigError, FleetsightAgentError)
    assert issubclass(AgentConfigError, ConfigFileError)


# --- the checker would notice ------------------------------------------------------------------


def test_the_checker_refuses_an_advisor_module_reaching_into_the_agent() -> None:
    source = (
        "from agent.config import duration\n"
        "from agent.shared.config_values import size\n"
        "import agent.shared.wire\n"
        "def later():\n"
        "    from agent import errors\n"
    )
    assert broken_rules("advisor.example", imports_of(source, "advisor.example")) == [
        "advisor.example:1 imports agent.config.duration: the advisor takes only agent.shared"
        " of the agent",
        "advisor.example:5 imports agent.errors: the advisor takes only agent.shared of the agent",
    ]


def test_the_checker_refuses_the_agent_importing_the_advisor_even_lazily() -> None:
    source = "def later():\n    import advisor.config\n"
    assert broken_rules("agent.cli", imports_of(source, "agent.cli")) == [
        "agent.cli:2 imports advisor.config: the agent never imports the advisor"
    ]


def test_the_checker_resolves_relative_imports_out_of_the_shared_package() -> None:
    source = "from .. import config\nfrom . import wire\nfrom .errors import InvalidValue\n"
    found = imports_of(source, "agent.shared.example")
    assert [i.name for i in found] == [
        "agent.config",
        "agent.shared.wire",
        "agent.shared.errors.InvalidValue",
    ]
    assert broken_rules("agent.shared.example", found) == [
        "agent.shared.example:1 imports agent.config: agent.shared imports nothing else of the"
        " agent"
    ]


def test_the_checker_refuses_heavy_imports_in_the_shared_package_only_at_import_time() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import pydantic\n"
        "if TYPE_CHECKING:\n"
        "    import sqlalchemy\n"
        "else:\n"
        "    import numpy\n"
        "def validate():\n"
        "    import httpx\n"
    )
    assert broken_rules("agent.shared.example", imports_of(source, "agent.shared.example")) == [
        "agent.shared.example:2 imports pydantic: too heavy for the agent"
        " (tests/agent/test_import_weight.py)",
        "agent.shared.example:6 imports numpy: too heavy for the agent"
        " (tests/agent/test_import_weight.py)",
    ]


def test_the_checker_finds_an_advisor_exception_deriving_from_an_agent_one() -> None:
    module = types.ModuleType("advisor.example")
    module.__dict__.update(
        Borrowed=type("Borrowed", (FleetsightAgentError,), {"__module__": module.__name__}),
        Shared=type("Shared", (ConfigFileError,), {"__module__": module.__name__}),
    )
    assert foreign_exception_bases(module) == [
        "advisor.example.Borrowed derives from agent.errors.FleetsightAgentError"
    ]
