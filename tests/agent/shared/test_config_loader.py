"""The shared TOML loader, on a schema of its own: each program's config tests cover theirs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.shared.config_loader import (
    TableParser,
    apply_environment,
    describe_tables,
    load_toml,
    raised_as,
    read_config_text,
    setting,
    setting_factory,
    subtable,
)
from agent.shared.config_values import duration, positive_int, text
from agent.shared.errors import ConfigFileError


@dataclass(frozen=True)
class Limits:
    burst: int = setting(10, positive_int, "Requests at once.")


@dataclass(frozen=True)
class Server:
    name: str = setting("main", text, "Server name.")
    timeout: float = setting(5.0, duration, "Request timeout.")
    limits: Limits = subtable(Limits, "Limits.")  # noqa: RUF009 - a factory, not a shared default


@dataclass(frozen=True)
class Worker:
    name: str = setting("", text, "Worker name.")


SECTIONS = {"server": Server}
TOML = '[server]\nname = "edge"\n\n[server.limits]\nburst = 3\n\n[[workers]]\nname = "a"\n'


class ProgramConfigError(ConfigFileError):
    """Stands for a program's own ConfigError."""


def load(raw: str, environ: dict[str, str] | None = None) -> tuple[Server, tuple[Worker, ...]]:
    data = load_toml(raw, "test.toml")
    apply_environment(
        data, environ or {}, prefix="TEST_", sections=SECTIONS, default_section="server"
    )
    parser = TableParser("test.toml", raw)
    sections = parser.sections(data, SECTIONS, also=("workers",))
    workers = parser.array_of_tables(Worker, data.get("workers", []), "workers")
    return sections.get("server", Server()), workers


def test_a_schema_of_settings_and_subtables_is_built_from_toml() -> None:
    server, workers = load(TOML)
    assert server == Server(name="edge", limits=Limits(burst=3))
    assert workers == (Worker(name="a"),)


def test_a_bad_value_names_the_file_line_and_key_of_a_nested_table() -> None:
    with pytest.raises(ConfigFileError) as caught:
        load(TOML.replace("burst = 3", "burst = -3"))
    assert str(caught.value).startswith("test.toml:5: server.limits.burst: expected a positive")
    assert (caught.value.source, caught.value.line, caught.value.key) == (
        "test.toml",
        5,
        "server.limits.burst",
    )


def test_an_unknown_section_lists_the_sections_the_program_reads() -> None:
    with pytest.raises(ConfigFileError, match="unknown section; expected one of: server, workers"):
        load("[client]\nname = 1\n")


def test_an_array_of_tables_must_be_one() -> None:
    with pytest.raises(ConfigFileError, match=r"workers: expected an array of tables"):
        load("[workers]\nname = 'a'\n")


def test_environment_overrides_fold_in_with_and_without_a_section(tmp_path: Path) -> None:
    secret = tmp_path / "name"
    secret.write_text("from-file\n")
    server, _ = load(TOML, {"TEST_TIMEOUT": "1m", "TEST_SERVER_NAME_FILE": str(secret)})
    assert (server.name, server.timeout) == ("from-file", 60.0)


def test_an_unknown_environment_setting_is_named() -> None:
    with pytest.raises(ConfigFileError, match="environment variable TEST_SERVER_COLOUR"):
        load(TOML, {"TEST_SERVER_COLOUR": "blue"})


def test_a_missing_named_file_is_an_error_but_a_missing_default_means_defaults(
    tmp_path: Path,
) -> None:
    default = tmp_path / "absent.toml"
    assert read_config_text(None, {}, env_var="TEST_CONFIG", default=default) == (
        "",
        str(default),
    )
    with pytest.raises(ConfigFileError, match=r"absent\.toml: file not found"):
        read_config_text(
            None, {"TEST_CONFIG": str(default)}, env_var="TEST_CONFIG", default=default
        )


def test_raised_as_moves_the_loaders_error_into_the_programs_tree_unchanged() -> None:
    with pytest.raises(ProgramConfigError) as caught, raised_as(ProgramConfigError):
        load("[server\n")
    assert (
        str(caught.value)
        == "test.toml:1: not valid TOML: Expected ']' at the end of a table declaration"
    )
    assert caught.value.line == 1


def test_every_setting_is_described_with_its_default_and_help() -> None:
    assert describe_tables({"server": Server, "workers[]": Worker}) == [
        ("server.name", "main", "Server name."),
        ("server.timeout", "5.0", "Request timeout."),
        ("server.limits.burst", "10", "Requests at once."),
        ("workers[].name", "", "Worker name."),
    ]


def test_defaults_built_per_instance_are_described_too() -> None:
    @dataclass(frozen=True)
    class Listed:
        items: tuple[str, ...] = setting_factory(lambda: ("a", "b"), text, "Items.")

    assert describe_tables({"listed": Listed}) == [("listed.items", "['a', 'b']", "Items.")]
