"""Agent configuration: one TOML file plus ``FLEETSIGHT_AGENT_*`` environment overrides.

The schema lives in the dataclasses below: every field carries its help text and converter in
``metadata``, so parsing, ``check-config`` and docs/configuration.md all read the same source.
A bad value fails at start-up with one sentence naming the file, line and key.

Environment overrides: ``FLEETSIGHT_AGENT_<SECTION>_<KEY>`` sets a scalar key, for example
``FLEETSIGHT_AGENT_ADVISOR_URL`` or ``FLEETSIGHT_AGENT_SPOOL_MAX_BYTES``; keys of ``[agent]`` need
no section (``FLEETSIGHT_AGENT_STATE_DIR``). Appending ``_FILE``
reads the value from a file (for secrets mounted by systemd credentials or Kubernetes).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import ConfigError
from agent.shared.wire_limits import HOST_ID, MAX_APP, MAX_PROBE
from agent.text import forbidden_in_name

DEFAULT_CONFIG_PATH = Path("/etc/fleetsight/agent.toml")
DEFAULT_STATE_DIR = Path("/var/lib/fleetsight")
ENV_PREFIX = "FLEETSIGHT_AGENT_"
PACKAGE_MANAGERS = ("dpkg", "rpm", "flatpak", "snap")

# Bounds that keep every batch within the advisor's limits (advisor/api/batch_rules.py), which
# refuse a whole batch, a minute of the host's data, for one value out of range.
MAX_EVENTS_PER_INTERVAL = 5_000
"""launches.max_events_per_interval: a batch after a failed spool write carries two intervals'
events, and the advisor takes 10,000 launches per batch."""
MAX_TIMEOUT_SECONDS = 86_400.0
"""Launch and probe timeouts: a timed-out launch's duration is its timeout, and the advisor
takes durations up to a day."""
MAX_SUMMARY_INTERVAL = 86_400.0
"""agent.summary_interval: the advisor takes intervals of 92 days; a day is plenty."""
MAX_SAMPLES_PER_INTERVAL = 100_000
"""summary_interval / sample_interval: samples per series and interval (the advisor takes
1,000,000; a flush delayed by a stepped clock adds a few)."""
MAX_APPS = 1_000
"""Watched apps: 3 summaries each, with at most 500 mounts (2 each), 500 disks (4 each) and
about 20 machine series, stay within the advisor's 10,000 summaries per batch."""

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


class InvalidValue(ValueError):  # noqa: N818 - a converter's complaint, never escapes a parser
    """A converter's complaint; the parser adds file, line and key."""


# --- converters: raw TOML (or environment string) value -> typed value -------------------------


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


def name(value: object, limit: int = MAX_APP) -> str:
    """A name as the advisor takes it: at most ``limit`` characters, no control character."""
    result = text(value)
    if len(result) > limit:
        raise InvalidValue(f"at most {limit} characters, got {len(result)}")
    found = forbidden_in_name(result)
    if found is not None:
        raise InvalidValue(
            f"contains the control or formatting character {found}; the advisor refuses it"
        )
    return result


def probe_name(value: object) -> str:
    return name(value, MAX_PROBE)


def optional_name(value: object) -> str | None:
    return name(value) or None


def host_id(value: object) -> str | None:
    result = text(value)
    if result and not HOST_ID.fullmatch(result):
        raise InvalidValue(
            "expected 1 to 128 letters, digits, '.', '_', ':' or '-' starting with a letter or"
            f" digit (as the advisor enrols hosts), got {result!r}"
        )
    return result or None


def timeout(value: object) -> float:
    """A duration of at most a day (:data:`MAX_TIMEOUT_SECONDS`)."""
    seconds = duration(value)
    if seconds > MAX_TIMEOUT_SECONDS:
        raise InvalidValue(
            f"at most a day ({MAX_TIMEOUT_SECONDS:g} s): the advisor refuses longer launch"
            f" durations, got {value!r}"
        )
    return seconds


def summary_interval(value: object) -> float:
    seconds = duration(value)
    if seconds > MAX_SUMMARY_INTERVAL:
        raise InvalidValue(f"at most a day ({MAX_SUMMARY_INTERVAL:g} s), got {value!r}")
    return seconds


def events_cap(value: object) -> int:
    number = positive_int(value)
    if number > MAX_EVENTS_PER_INTERVAL:
        raise InvalidValue(
            f"at most {MAX_EVENTS_PER_INTERVAL}: a batch can carry two intervals' events and"
            f" the advisor refuses more than {2 * MAX_EVENTS_PER_INTERVAL}, got {number}"
        )
    return number


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


def package_manager_list(value: object) -> tuple[str, ...]:
    names = string_list(value)
    unknown = [name for name in names if name not in PACKAGE_MANAGERS]
    if unknown:
        raise InvalidValue(
            f"unknown package manager {unknown[0]!r}; "
            f"expected some of {', '.join(PACKAGE_MANAGERS)}"
        )
    return names


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
        if not _is_loopback(host):
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- schema -------------------------------------------------------------------------------------


def _opt(default: Any, convert: Callable[[object], Any], help: str) -> Any:
    return field(default=default, metadata={"convert": convert, "help": help})


def _opt_factory(factory: Callable[[], Any], convert: Callable[[object], Any], help: str) -> Any:
    return field(default_factory=factory, metadata={"convert": convert, "help": help})


@dataclass(frozen=True)
class AgentSection:
    state_dir: Path = _opt(
        DEFAULT_STATE_DIR, path, "Directory for the spool, credential and agent state."
    )
    host_id: str | None = _opt(
        None,
        host_id,
        "Stable host identity (letters, digits, . _ : -); default: /etc/machine-id, else the"
        " hostname.",
    )
    sample_interval: float = _opt(5.0, duration, "How often resources are sampled.")
    summary_interval: float = _opt(
        60.0,
        summary_interval,
        "Length of one summary interval (at most a day); one batch is spooled per interval.",
    )
    log_level: str = _opt("info", log_level, "debug, info, warning or error.")


@dataclass(frozen=True)
class AdvisorSection:
    url: str | None = _opt(
        None, url, "Advisor base URL, e.g. https://advisor.example:8443. Set by `enroll`."
    )
    ca_file: Path | None = _opt(
        None, optional_path, "CA bundle to verify the advisor's certificate; default: system CAs."
    )
    timeout: float = _opt(10.0, duration, "Timeout of one HTTP request to the advisor.")
    send_interval: float = _opt(15.0, duration, "How often the shipper looks for batches to send.")
    max_backoff: float = _opt(900.0, duration, "Longest wait between retries after failures.")
    max_connections: int = _opt(2, positive_int, "Most HTTP connections kept to the advisor.")


@dataclass(frozen=True)
class SpoolSection:
    path: Path | None = _opt(
        None, optional_path, "Spool database; default: STATE_DIR/spool.sqlite3."
    )
    max_bytes: int = _opt(
        64 * 1024**2,
        size,
        "Bound on spooled batches; when full, the oldest are dropped and counted.",
    )


@dataclass(frozen=True)
class MetricsSection:
    listen: str = _opt(
        "127.0.0.1:9798", listen_address, "Prometheus /metrics address; empty to disable."
    )


@dataclass(frozen=True)
class ReportSection:
    listen: str = _opt(
        "127.0.0.1:9799",
        loopback_address,
        "Loopback address where apps and login scripts report timings; empty to disable.",
    )


@dataclass(frozen=True)
class InventorySection:
    interval: float = _opt(86400.0, duration, "Inventory is sent at least this often.")
    check_interval: float = _opt(
        3600.0, duration, "How often the inventory is checked for changes."
    )
    package_managers: tuple[str, ...] = _opt_factory(
        lambda: PACKAGE_MANAGERS,
        package_manager_list,
        "Package managers asked for installed versions, in order.",
    )
    upgradable: bool = _opt(True, boolean, "Report versions the package manager offers.")


@dataclass(frozen=True)
class LaunchesSection:
    scan_interval: float = _opt(
        0.5,
        duration,
        "How often to look for new processes of watched apps (start times come from /proc, "
        "so this bounds detection delay, not accuracy; each look costs a wake-up).",
    )
    poll_interval: float = _opt(
        0.1, duration, "How often a launching process is sampled until it is ready."
    )
    max_events_per_interval: int = _opt(
        1000,
        events_cap,
        "Launch events kept per summary interval (at most 5000); the rest are only counted.",
    )


READY_SIGNALS = ("cpu_settled", "libraries_settled", "port", "log_line", "process_start")


def ready_signal(value: object) -> str:
    name = text(value)
    if name not in READY_SIGNALS:
        raise InvalidValue(f"expected one of {', '.join(READY_SIGNALS)}, got {name!r}")
    return name


@dataclass(frozen=True)
class ReadySection:
    signal: str = _opt("cpu_settled", ready_signal, "What tells that a launch is ready.")
    timeout: float = _opt(
        60.0, timeout, "A launch not ready by then (at most a day) is recorded as timeout."
    )
    cpu_threshold: float = _opt(
        0.05, ratio, "cpu_settled: tree CPU (fraction of one core) counted as idle."
    )
    settle_for: float = _opt(
        1.0, duration, "cpu_settled, libraries_settled: how long it must stay quiet."
    )
    port: int | None = _opt(None, port, "port: TCP port the app listens on when ready.")
    log_path: Path | None = _opt(None, optional_path, "log_line: file the app logs to.")
    log_pattern: str | None = _opt(None, regex, "log_line: regular expression of the ready line.")


@dataclass(frozen=True)
class AppConfig:
    name: str = _opt(
        "", name, "Name of the application as reported, e.g. 'libreoffice' (128 characters)."
    )
    process_names: tuple[str, ...] = _opt_factory(
        tuple, string_list, "Process names (comm or executable basename) of a launch."
    )
    cmdline_pattern: str | None = _opt(
        None, regex, "Optional regular expression the command line must match."
    )
    packages: tuple[str, ...] = _opt_factory(
        tuple, string_list, "Package names to read the installed version from."
    )
    version_command: tuple[str, ...] = _opt_factory(
        tuple, command, "Command printing the version, when no package manager knows the app."
    )
    version_pattern: str = _opt(
        r"(\d+(?:\.\d+)+[\w.+~-]*)", regex, "Regular expression whose first group is the version."
    )
    ready: ReadySection = field(
        default_factory=ReadySection, metadata={"help": "Ready signal.", "table": ReadySection}
    )


@dataclass(frozen=True)
class HttpProbeConfig:
    name: str = _opt("", probe_name, "Probe name (128 characters).")
    url: str | None = _opt(None, url, "URL to fetch.")
    app: str | None = _opt(None, optional_name, "App the timing is reported for; default: name.")
    interval: float = _opt(300.0, duration, "How often to probe.")
    timeout: float = _opt(30.0, timeout, "Timeout of one probe (at most a day).")
    method: str = _opt("GET", text, "HTTP method.")
    verify_tls: bool = _opt(True, boolean, "Verify the server's certificate.")
    ca_file: Path | None = _opt(
        None, optional_path, "CA bundle for an internal service's certificate; default: system CAs."
    )
    expect_status: int | None = _opt(
        None, positive_int, "Status counted as success; default: any 2xx or 3xx."
    )


@dataclass(frozen=True)
class CommandProbeConfig:
    name: str = _opt("", probe_name, "Probe name (128 characters).")
    command: tuple[str, ...] = _opt_factory(tuple, command, "Command to time, as a list.")
    app: str | None = _opt(None, optional_name, "App the timing is reported for; default: name.")
    interval: float = _opt(3600.0, duration, "How often to run it.")
    timeout: float = _opt(
        120.0, timeout, "A run longer than this (at most a day) is killed, outcome timeout."
    )
    cwd: Path | None = _opt(None, optional_path, "Working directory.")


@dataclass(frozen=True)
class Config:
    """The whole agent configuration. ``source`` is where it came from, for messages."""

    source: str = "<defaults>"
    agent: AgentSection = field(default_factory=AgentSection)
    advisor: AdvisorSection = field(default_factory=AdvisorSection)
    spool: SpoolSection = field(default_factory=SpoolSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    report: ReportSection = field(default_factory=ReportSection)
    inventory: InventorySection = field(default_factory=InventorySection)
    launches: LaunchesSection = field(default_factory=LaunchesSection)
    apps: tuple[AppConfig, ...] = ()
    http_probes: tuple[HttpProbeConfig, ...] = ()
    command_probes: tuple[CommandProbeConfig, ...] = ()

    @property
    def spool_path(self) -> Path:
        return self.spool.path or self.agent.state_dir / "spool.sqlite3"

    @property
    def credential_path(self) -> Path:
        return self.agent.state_dir / "credential"

    @property
    def inventory_state_path(self) -> Path:
        return self.agent.state_dir / "inventory.json"

    @property
    def enrolment_path(self) -> Path:
        return self.agent.state_dir / "enrolment.json"

    def host_id(self, machine_id_path: Path = Path("/etc/machine-id")) -> str:
        """The configured host id, else the machine id, else the hostname."""
        if self.agent.host_id:
            return self.agent.host_id
        try:
            machine_id = machine_id_path.read_text().strip()
        except OSError:
            machine_id = ""
        return machine_id or socket.gethostname()


SCALAR_SECTIONS: dict[str, type[Any]] = {
    "agent": AgentSection,
    "advisor": AdvisorSection,
    "spool": SpoolSection,
    "metrics": MetricsSection,
    "report": ReportSection,
    "inventory": InventorySection,
    "launches": LaunchesSection,
}


# --- parsing ------------------------------------------------------------------------------------

_T = TypeVar("_T")


class TableParser:
    def __init__(self, source: str, text_: str):
        self.source = source
        self.lines = text_.splitlines()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, key=key, line=self.line_of(key))

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


def load_config(path_: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any) and apply environment overrides.

    ``path_`` defaults to ``$FLEETSIGHT_AGENT_CONFIG`` or /etc/fleetsight/agent.toml. A missing
    default file means "all defaults"; a missing file the user named is an error.
    """
    environ = os.environ if environ is None else environ
    raw_text, source = read_config_text(
        path_, environ, env_var="FLEETSIGHT_AGENT_CONFIG", default=DEFAULT_CONFIG_PATH
    )
    return parse_config(raw_text, source=source, environ=environ)


def parse_config(
    raw_text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> Config:
    """Parse TOML text into a :class:`Config`; see the module docstring for overrides."""
    data = load_toml(raw_text, source)
    apply_environment(data, environ if environ is not None else {})
    parser = TableParser(source, raw_text)

    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key in SCALAR_SECTIONS:
            sections[key] = parser.build(SCALAR_SECTIONS[key], value, key)
        elif key not in {"apps", "probes"}:
            expected = ", ".join([*SCALAR_SECTIONS, "apps", "probes"])
            raise parser.error(key, f"unknown section; expected one of: {expected}")

    apps = tuple(
        parser.build(AppConfig, item, f"apps[{index}]")
        for index, item in enumerate(_array_of_tables(parser, data.get("apps", []), "apps"))
    )
    probes = data.get("probes", {})
    if not isinstance(probes, dict) or set(probes) - {"http", "command"}:
        raise parser.error("probes", "expected [[probes.http]] and [[probes.command]] tables")
    http_probes = tuple(
        parser.build(HttpProbeConfig, item, f"probes.http[{index}]")
        for index, item in enumerate(
            _array_of_tables(parser, probes.get("http", []), "probes.http")
        )
    )
    command_probes = tuple(
        parser.build(CommandProbeConfig, item, f"probes.command[{index}]")
        for index, item in enumerate(
            _array_of_tables(parser, probes.get("command", []), "probes.command")
        )
    )
    config = Config(
        source=source,
        apps=apps,
        http_probes=http_probes,
        command_probes=command_probes,
        **sections,
    )
    _validate(parser, config)
    return config


def _array_of_tables(parser: TableParser, value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise parser.error(where, f"expected an array of tables ([[{where}]])")
    return value


def _validate(parser: TableParser, config: Config) -> None:
    """Rules that span several keys."""
    if config.agent.summary_interval < config.agent.sample_interval:
        raise parser.error(
            "agent.summary_interval", "must not be shorter than agent.sample_interval"
        )
    if config.agent.summary_interval > config.agent.sample_interval * MAX_SAMPLES_PER_INTERVAL:
        raise parser.error(
            "agent.sample_interval",
            f"at most {MAX_SAMPLES_PER_INTERVAL} samples per summary interval: the advisor"
            " refuses summaries of more; sample less often or summarise more often",
        )
    if len(config.apps) > MAX_APPS:
        raise parser.error(
            "apps",
            f"{len(config.apps)} [[apps]], at most {MAX_APPS}: a batch would hold more metric"
            " summaries than the advisor takes",
        )
    _unique(parser, "apps", [app.name for app in config.apps])
    for index, app in enumerate(config.apps):
        where = f"apps[{index}]"
        if not app.name:
            raise parser.error(f"{where}.name", "every [[apps]] needs a name")
        if not app.process_names:
            raise parser.error(f"{where}.process_names", f"app {app.name!r} needs process_names")
        ready = app.ready
        if ready.signal == "port" and ready.port is None:
            raise parser.error(f"{where}.ready.port", "the 'port' ready signal needs a port")
        if ready.signal == "log_line" and not (ready.log_path and ready.log_pattern):
            raise parser.error(
                f"{where}.ready.log_path", "the 'log_line' signal needs log_path and log_pattern"
            )
    probe_names = [probe.name for probe in config.http_probes]
    probe_names += [probe.name for probe in config.command_probes]
    _unique(parser, "probes", probe_names)
    for index, probe in enumerate(config.http_probes):
        if not probe.name or not probe.url:
            raise parser.error(f"probes.http[{index}].url", "every HTTP probe needs a name and url")
    for index, cmd_probe in enumerate(config.command_probes):
        if not cmd_probe.name or not cmd_probe.command:
            raise parser.error(
                f"probes.command[{index}].command", "every command probe needs a name and command"
            )


def _unique(parser: TableParser, where: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise parser.error(f"{where}.name", f"duplicate name {name!r}")
        seen.add(name)


def apply_environment(
    data: dict[str, Any],
    environ: Mapping[str, str],
    *,
    prefix: str = ENV_PREFIX,
    sections: Mapping[str, type[Any]] = SCALAR_SECTIONS,
    default_section: str = "agent",
) -> None:
    """Fold ``<PREFIX><SECTION>_<KEY>[_FILE]`` variables into the parsed TOML ``data``.

    Keys of ``default_section`` need no section: ``FLEETSIGHT_AGENT_STATE_DIR``. The variable
    naming the config file itself (``<PREFIX>CONFIG``) is left alone.
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
            raise ConfigError(
                f"unknown setting; expected {prefix}<SECTION>_<KEY> with a section of "
                f"{', '.join(sections)} and one of its keys",
                source=f"environment variable {name}",
            )
        if from_file:
            try:
                value = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
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
        raise ConfigError(f"not valid TOML: {message}", source=source, line=line) from None


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
            raise ConfigError("file not found", source=str(config_path)) from None
        return "", str(config_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=str(config_path)) from None


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


def describe() -> list[tuple[str, str, str]]:
    """Every setting as ``(dotted key, default, help)``: the source of docs/configuration.md."""
    return describe_tables(
        {
            **SCALAR_SECTIONS,
            "apps[]": AppConfig,
            "probes.http[]": HttpProbeConfig,
            "probes.command[]": CommandProbeConfig,
        }
    )


def _render(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(item) for item in value) + "]"
    return str(value)
