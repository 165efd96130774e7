"""The generic TOML loader both programs build their settings with.

A program describes its settings as frozen dataclasses whose fields are made with
:func:`setting` (a converter from :mod:`agent.shared.config_values` and help text) or
:func:`subtable`; this module reads the file, folds in ``<PREFIX><SECTION>_<KEY>[_FILE]``
environment overrides, converts every value and documents every key from that one schema.

Every problem is a :class:`~agent.shared.errors.ConfigFileError` naming the file, line and key;
a program re-raises it as its own ``ConfigError`` with :func:`raised_as`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from agent.shared.errors import ConfigFileError, InvalidValue

_T = TypeVar("_T")


def setting(default: Any, convert: Callable[[object], Any], help: str) -> Any:
    """A dataclass field read from the file through ``convert`` and documented by ``help``."""
    return dataclasses.field(default=default, metadata={"convert": convert, "help": help})


def setting_factory(factory: Callable[[], Any], convert: Callable[[object], Any], help: str) -> Any:
    """:func:`setting` for a default that must be built per instance."""
    return dataclasses.field(default_factory=factory, metadata={"convert": convert, "help": help})


def subtable(cls: type[Any], help: str) -> Any:
    """A field holding a nested table (``[[apps]]`` ... ``[apps.ready]``) of schema ``cls``."""
    return dataclasses.field(default_factory=cls, metadata={"help": help, "table": cls})


@contextmanager
def raised_as(error_class: type[ConfigFileError]) -> Iterator[None]:
    """Re-raise the loader's errors as ``error_class``, a program's own ``ConfigError``."""
    try:
        yield
    except ConfigFileError as exc:
        if isinstance(exc, error_class):
            raise
        raise error_class.from_error(exc) from None


class TableParser:
    """Builds schema dataclasses from the parsed TOML of one file, and blames the line of the
    key a bad value came from."""

    def __init__(self, source: str, text_: str):
        self.source = source
        self.lines = text_.splitlines()

    def error(self, key: str, message: str) -> ConfigFileError:
        return ConfigFileError(message, source=self.source, key=key, line=self.line_of(key))

    def line_of(self, dotted: str) -> int | None:
        """Best-effort line of ``section.key`` (or ``apps[2].ready.key``) in the file."""
        *parts, key = dotted.split(".")
        # "apps[2]" -> table "apps", the third [[apps]] header in the file.
        wanted_index = 0
        table_parts = []
        for part in parts:
            indexed = re.fullmatch(r"(\w+)\[(\d+)\]", part)
            if indexed:
                table_parts.append(indexed[1])
                wanted_index = int(indexed[2])
            else:
                table_parts.append(part)
        array = next((p[: p.index("[")] for p in parts if "[" in p), None)
        header_re = re.compile(r"\s*(\[\[?)\s*([\w.]+)\s*\]\]?")
        key_re = re.compile(rf"\s*{re.escape(key)}\s*=")
        current, seen = "", -1
        for number, line in enumerate(self.lines, start=1):
            header = header_re.match(line)
            if header:
                current = header[2]
                if header[1] == "[[" and current == array:
                    seen += 1
            elif (
                key_re.match(line)
                and current == ".".join(table_parts)
                and (array is None or seen == wanted_index)
            ):
                return number
        return None

    def build(self, cls: type[_T], raw: object, where: str) -> _T:
        """The table ``raw`` (found at dotted key ``where``) as the schema dataclass ``cls``."""
        if not isinstance(raw, dict):
            raise self.error(where, f"expected a table, got {raw!r}")
        known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        for key, value in raw.items():
            dotted = f"{where}.{key}" if where else key
            spec = known.get(key)
            if spec is None:
                raise self.error(
                    dotted, f"unknown key; expected one of: {', '.join(sorted(known))}"
                )
            if "table" in spec.metadata:
                values[key] = self.build(spec.metadata["table"], value, dotted)
                continue
            try:
                values[key] = spec.metadata["convert"](value)
            except InvalidValue as exc:
                raise self.error(dotted, str(exc)) from None
        return cls(**values)

    def sections(
        self,
        data: Mapping[str, Any],
        schemas: Mapping[str, type[Any]],
        *,
        also: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """The tables of ``data`` named in ``schemas``, built; a table neither there nor in
        ``also`` (which the caller builds itself) is an unknown section."""
        built: dict[str, Any] = {}
        for key, value in data.items():
            if key in schemas:
                built[key] = self.build(schemas[key], value, key)
            elif key not in also:
                expected = ", ".join([*schemas, *also])
                raise self.error(key, f"unknown section; expected one of: {expected}")
        return built

    def array_of_tables(self, cls: type[_T], value: object, where: str) -> tuple[_T, ...]:
        """``[[where]]`` tables, each built as ``cls``: ``apps[0]``, ``apps[1]``, ..."""
        if not isinstance(value, list):
            raise self.error(where, f"expected an array of tables ([[{where}]])")
        return tuple(self.build(cls, item, f"{where}[{index}]") for index, item in enumerate(value))


def apply_environment(
    data: dict[str, Any],
    environ: Mapping[str, str],
    *,
    prefix: str,
    sections: Mapping[str, type[Any]],
    default_section: str,
) -> None:
    """Fold ``<PREFIX><SECTION>_<KEY>[_FILE]`` variables into the parsed TOML ``data``.

    Keys of ``default_section`` need no section: with the agent's prefix and ``agent``,
    ``FLEETSIGHT_AGENT_STATE_DIR`` sets ``[agent] state_dir``. ``_FILE`` reads the value from
    that file (secrets mounted by systemd credentials or Kubernetes). The variable naming the
    config file itself (``<PREFIX>CONFIG``) is left alone.
    """
    for name, value in sorted(environ.items()):
        if not name.startswith(prefix) or name == f"{prefix}CONFIG":
            continue
        rest = name[len(prefix) :].lower()
        section, _, key = rest.partition("_")
        if section not in sections:
            section, key = default_section, rest
        from_file = False
        keys = {f.name for f in dataclasses.fields(sections[section])}
        if key not in keys and key.endswith("_file") and key[: -len("_file")] in keys:
            key, from_file = key[: -len("_file")], True
        if key not in keys:
            raise ConfigFileError(
                f"unknown setting; expected {prefix}<SECTION>_<KEY> with a section of "
                f"{', '.join(sections)} and one of its keys",
                source=f"environment variable {name}",
            )
        if from_file:
            try:
                value = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigFileError(
                    f"cannot read {value}: {exc.strerror}", source=f"environment variable {name}"
                ) from None
        data.setdefault(section, {})[key] = value


def load_toml(raw_text: str, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error names the file and line."""
    try:
        return tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 puts the position only in the message: "... (at line 2, column 19)".
        position = re.search(r"\(at line (\d+)", str(exc))
        line = int(position[1]) if position else None
        message = str(exc).split(" (at ")[0]
        raise ConfigFileError(f"not valid TOML: {message}", source=source, line=line) from None


def read_config_text(
    path_: Path | None, environ: Mapping[str, str], *, env_var: str, default: Path
) -> tuple[str, str]:
    """``(text, source)`` of the config file: ``path_``, else ``$env_var``, else ``default``.

    A missing default file means "all defaults" (empty text); a missing named file is an error.
    """
    from_env = environ.get(env_var)
    named = path_ or (Path(from_env) if from_env else None)
    config_path = named or default
    try:
        return config_path.read_text(encoding="utf-8"), str(config_path)
    except FileNotFoundError:
        if named:
            raise ConfigFileError("file not found", source=str(config_path)) from None
        return "", str(config_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read: {exc}", source=str(config_path)) from None


def describe_tables(tables: Mapping[str, type[Any]]) -> list[tuple[str, str, str]]:
    """Every setting of ``tables`` as ``(dotted key, default, help)``, nested tables included."""
    rows: list[tuple[str, str, str]] = []

    def walk(prefix: str, cls: type[Any]) -> None:
        for spec in dataclasses.fields(cls):
            if "table" in spec.metadata:
                walk(f"{prefix}.{spec.name}", spec.metadata["table"])
                continue
            default: object = spec.default
            if spec.default_factory is not dataclasses.MISSING:
                default = spec.default_factory()
            rows.append((f"{prefix}.{spec.name}", _render(default), spec.metadata["help"]))

    for prefix, cls in tables.items():
        walk(prefix, cls)
    return rows


def _render(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(item) for item in value) + "]"
    return str(value)
