"""Agent configuration: one TOML file plus ``FLEETSIGHT_AGENT_*`` environment overrides.

The schema lives in the dataclasses below: every field carries its help text and converter in
``metadata``, so parsing, ``check-config`` and docs/configuration.md all read the same source.
A bad value fails at start-up with one sentence naming the file, line and key.

Environment overrides: ``FLEETSIGHT_AGENT_<SECTION>_<KEY>`` sets a scalar key, for example
``FLEETSIGHT_AGENT_ADVISOR_URL`` or ``FLEETSIGHT_AGENT_SPOOL_MAX_BYTES``; keys of ``[agent]`` need
no section (``FLEETSIGHT_AGENT_STATE_DIR``). Appending ``_FILE``
reads the value from a file (for secrets mounted by systemd credentials or Kubernetes).

The generic parts, shared with the advisor, are in :mod:`agent.shared`: the converters
(durations, sizes, addresses) in ``config_values``, the TOML loader and override mechanics in
``config_loader``. What stays here is the agent's own: its sections, the bounds that keep a batch
within the advisor's limits, and the rules spanning several keys."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
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
from agent.shared.config_values import (
    boolean,
    command,
    duration,
    listen_address,
    log_level,
    loopback_address,
    optional_path,
    path,
    port,
    positive_int,
    ratio,
    regex,
    size,
    string_list,
    text,
    url,
)
from agent.shared.errors import InvalidValue
from agent.shared.wire_limits import HOST_ID, MAX_APP, MAX_PROBE
from agent.text import forbidden_in_name

DEFAULT_CONFIG_PATH = Path("/etc/fleetsight/agent.toml")
DEFAULT_STATE_DIR = Path("/var/lib/fleetsight-agent")
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

# --- converters bound by the wire format's limits and the agent's own choices ----------------


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


def package_manager_list(value: object) -> tuple[str, ...]:
    names = string_list(value)
    unknown = [name for name in names if name not in PACKAGE_MANAGERS]
    if unknown:
        raise InvalidValue(
            f"unknown package manager {unknown[0]!r}; "
            f"expected some of {', '.join(PACKAGE_MANAGERS)}"
        )
    return names


# --- schema -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentSection:
    state_dir: Path = setting(
        DEFAULT_STATE_DIR, path, "Directory for the spool, credential and agent state."
    )
    host_id: str | None = setting(
        None,
        host_id,
        "Stable host identity (letters, digits, . _ : -); default: /etc/machine-id, else the"
        " hostname.",
    )
    sample_interval: float = setting(5.0, duration, "How often resources are sampled.")
    summary_interval: float = setting(
        60.0,
        summary_interval,
        "Length of one summary interval (at most a day); one batch is spooled per interval.",
    )
    log_level: str = setting("info", log_level, "debug, info, warning or error.")


@dataclass(frozen=True)
class AdvisorSection:
    url: str | None = setting(
        None, url, "Advisor base URL, e.g. https://advisor.example:8443. Set by `enroll`."
    )
    ca_file: Path | None = setting(
        None, optional_path, "CA bundle to verify the advisor's certificate; default: system CAs."
    )
    timeout: float = setting(10.0, duration, "Timeout of one HTTP request to the advisor.")
    send_interval: float = setting(
        15.0, duration, "How often the shipper looks for batches to send."
    )
    max_backoff: float = setting(900.0, duration, "Longest wait between retries after failures.")
    max_connections: int = setting(2, positive_int, "Most HTTP connections kept to the advisor.")


@dataclass(frozen=True)
class SpoolSection:
    path: Path | None = setting(
        None, optional_path, "Spool database; default: STATE_DIR/spool.sqlite3."
    )
    max_bytes: int = setting(
        64 * 1024**2,
        size,
        "Bound on spooled batches; when full, the oldest are dropped and counted.",
    )


@dataclass(frozen=True)
class MetricsSection:
    listen: str = setting(
        "127.0.0.1:9798", listen_address, "Prometheus /metrics address; empty to disable."
    )


@dataclass(frozen=True)
class ReportSection:
    listen: str = setting(
        "127.0.0.1:9799",
        loopback_address,
        "Loopback address where apps and login scripts report timings; empty to disable.",
    )


@dataclass(frozen=True)
class InventorySection:
    interval: float = setting(86400.0, duration, "Inventory is sent at least this often.")
    check_interval: float = setting(
        3600.0, duration, "How often the inventory is checked for changes."
    )
    package_managers: tuple[str, ...] = setting_factory(
        lambda: PACKAGE_MANAGERS,
        package_manager_list,
        "Package managers asked for installed versions, in order.",
    )
    upgradable: bool = setting(True, boolean, "Report versions the package manager offers.")


@dataclass(frozen=True)
class LaunchesSection:
    scan_interval: float = setting(
        0.5,
        duration,
        "How often to look for new processes of watched apps (start times come from /proc, "
        "so this bounds detection delay, not accuracy; each look costs a wake-up).",
    )
    poll_interval: float = setting(
        0.1, duration, "How often a launching process is sampled until it is ready."
    )
    max_events_per_interval: int = setting(
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
    signal: str = setting("cpu_settled", ready_signal, "What tells that a launch is ready.")
    timeout: float = setting(
        60.0, timeout, "A launch not ready by then (at most a day) is recorded as timeout."
    )
    cpu_threshold: float = setting(
        0.05, ratio, "cpu_settled: tree CPU (fraction of one core) counted as idle."
    )
    settle_for: float = setting(
        1.0, duration, "cpu_settled, libraries_settled: how long it must stay quiet."
    )
    port: int | None = setting(None, port, "port: TCP port the app listens on when ready.")
    log_path: Path | None = setting(None, optional_path, "log_line: file the app logs to.")
    log_pattern: str | None = setting(
        None, regex, "log_line: regular expression of the ready line."
    )


@dataclass(frozen=True)
class AppConfig:
    name: str = setting(
        "", name, "Name of the application as reported, e.g. 'libreoffice' (128 characters)."
    )
    process_names: tuple[str, ...] = setting_factory(
        tuple,
        string_list,
        "Process names of the app: the kernel's name (comm); a name longer than 15 characters"
        " also matches the executable's or argv[0]'s basename.",
    )
    cmdline_pattern: str | None = setting(
        None, regex, "Optional regular expression the command line must match."
    )
    packages: tuple[str, ...] = setting_factory(
        tuple, string_list, "Package names to read the installed version from."
    )
    version_command: tuple[str, ...] = setting_factory(
        tuple, command, "Command printing the version, when no package manager knows the app."
    )
    version_pattern: str = setting(
        r"(\d+(?:\.\d+)+[\w.+~-]*)", regex, "Regular expression whose first group is the version."
    )
    ready: ReadySection = subtable(ReadySection, "Ready signal.")


@dataclass(frozen=True)
class HttpProbeConfig:
    name: str = setting("", probe_name, "Probe name (128 characters).")
    url: str | None = setting(None, url, "URL to fetch.")
    app: str | None = setting(None, optional_name, "App the timing is reported for; default: name.")
    interval: float = setting(300.0, duration, "How often to probe.")
    timeout: float = setting(30.0, timeout, "Timeout of one probe (at most a day).")
    method: str = setting("GET", text, "HTTP method.")
    verify_tls: bool = setting(True, boolean, "Verify the server's certificate.")
    ca_file: Path | None = setting(
        None, optional_path, "CA bundle for an internal service's certificate; default: system CAs."
    )
    expect_status: int | None = setting(
        None, positive_int, "Status counted as success; default: any 2xx or 3xx."
    )


@dataclass(frozen=True)
class CommandProbeConfig:
    name: str = setting("", probe_name, "Probe name (128 characters).")
    command: tuple[str, ...] = setting_factory(tuple, command, "Command to time, as a list.")
    app: str | None = setting(None, optional_name, "App the timing is reported for; default: name.")
    interval: float = setting(3600.0, duration, "How often to run it.")
    timeout: float = setting(
        120.0, timeout, "A run longer than this (at most a day) is killed, outcome timeout."
    )
    cwd: Path | None = setting(None, optional_path, "Working directory.")


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


def load_config(path_: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any) and apply environment overrides.

    ``path_`` defaults to ``$FLEETSIGHT_AGENT_CONFIG`` or /etc/fleetsight/agent.toml. A missing
    default file means "all defaults"; a missing file the user named is an error.
    """
    environ = os.environ if environ is None else environ
    with raised_as(ConfigError):
        raw_text, source = read_config_text(
            path_, environ, env_var="FLEETSIGHT_AGENT_CONFIG", default=DEFAULT_CONFIG_PATH
        )
    return parse_config(raw_text, source=source, environ=environ)


def parse_config(
    raw_text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> Config:
    """Parse TOML text into a :class:`Config`; see the module docstring for overrides.

    Raises :class:`~agent.errors.ConfigError` naming the file, line and key.
    """
    with raised_as(ConfigError):
        return _parse(raw_text, source, environ if environ is not None else {})


def _parse(raw_text: str, source: str, environ: Mapping[str, str]) -> Config:
    data = load_toml(raw_text, source)
    apply_environment(
        data, environ, prefix=ENV_PREFIX, sections=SCALAR_SECTIONS, default_section="agent"
    )
    parser = TableParser(source, raw_text)
    sections = parser.sections(data, SCALAR_SECTIONS, also=("apps", "probes"))
    apps = parser.array_of_tables(AppConfig, data.get("apps", []), "apps")
    probes = data.get("probes", {})
    if not isinstance(probes, dict) or set(probes) - {"http", "command"}:
        raise parser.error("probes", "expected [[probes.http]] and [[probes.command]] tables")
    config = Config(
        source=source,
        apps=apps,
        http_probes=parser.array_of_tables(HttpProbeConfig, probes.get("http", []), "probes.http"),
        command_probes=parser.array_of_tables(
            CommandProbeConfig, probes.get("command", []), "probes.command"
        ),
        **sections,
    )
    _validate(parser, config)
    return config


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
