"""Advisor configuration: one TOML file plus ``FLEETSIGHT_ADVISOR_*`` environment overrides.

Same rules as the agent's, from the same shared loader (agent/shared/config_loader.py) and
value converters (agent/shared/config_values.py): the schema is the dataclasses below, a bad
value stops start-up with one sentence naming file, line and key,
``FLEETSIGHT_ADVISOR_<SECTION>_<KEY>`` overrides a key (keys of ``[advisor]`` need no
section), ``_FILE`` reads the value from a file, which is how a PostgreSQL URL with a password
should be passed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError
from agent.shared.config_loader import (
    TableParser,
    apply_environment,
    describe_tables,
    load_toml,
    raised_as,
    read_config_text,
    setting,
)
from agent.shared.config_values import (
    boolean,
    duration,
    listen_address,
    log_level,
    optional_path,
    path,
    positive_int,
    ratio,
    size,
    text,
)
from agent.shared.errors import InvalidValue

DEFAULT_CONFIG_PATH = Path("/etc/fleetsight/advisor.toml")
DEFAULT_STATE_DIR = Path("/var/lib/fleetsight-advisor")
ENV_PREFIX = "FLEETSIGHT_ADVISOR_"


def database_url(value: object) -> str | None:
    url = text(value)
    if url and not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise InvalidValue(
            "expected a sqlite:///PATH or postgresql+psycopg://USER@HOST/DB URL, "
            f"got {url.split('@')[-1]!r}"  # never echo a password
        )
    return url or None


@dataclass(frozen=True)
class AdvisorSection:
    state_dir: Path = setting(DEFAULT_STATE_DIR, path, "Directory of the embedded SQLite database.")
    log_level: str = setting("info", log_level, "debug, info, warning or error.")


@dataclass(frozen=True)
class ServerSection:
    listen: str = setting("127.0.0.1:8080", listen_address, "Address the HTTP API listens on.")
    tls_cert_file: Path | None = setting(
        None, optional_path, "Certificate (PEM) to serve HTTPS; agents should not send over HTTP."
    )
    tls_key_file: Path | None = setting(None, optional_path, "Private key (PEM) of tls_cert_file.")
    workers: int = setting(
        1,
        positive_int,
        "Processes serving the API on one socket: one uses one core; with PostgreSQL, set it to"
        " the number of cores.",
    )


@dataclass(frozen=True)
class DatabaseSection:
    url: str | None = setting(
        None,
        database_url,
        "SQLAlchemy URL; default: SQLite in STATE_DIR/advisor.sqlite3. For a fleet: "
        "postgresql+psycopg://fleetsight@db.example/fleetsight (set it with ..._URL_FILE).",
    )


@dataclass(frozen=True)
class IngestSection:
    max_body_bytes: int = setting(
        1024**2, size, "Largest compressed batch accepted; larger ones get 413."
    )
    max_decompressed_bytes: int = setting(
        16 * 1024**2, size, "Largest batch after gunzip; a gzip bomb stops here with 413."
    )
    max_concurrent: int = setting(
        32, positive_int, "Batches stored at once; beyond that a batch waits for a free slot."
    )
    queue_wait: float = setting(
        1.0,
        duration,
        "How long a batch waits for a free slot before the agent gets 429 and retries later.",
    )
    retry_after: float = setting(5.0, duration, "Retry-After sent with 429.")
    body_timeout: float = setting(
        30.0,
        duration,
        "A batch whose body has not arrived whole this long after its headers gets 408: a"
        " stalled upload holds its slot no longer.",
    )
    max_per_host: int = setting(
        2,
        positive_int,
        "Batches of one host handled at once (an agent sends one at a time); more get 429.",
    )
    host_batches_per_minute: int = setting(
        600,
        positive_int,
        "Batches one host may send a minute (an agent sends one, and drains its spool after"
        " an outage); more get 429 with Retry-After. Per advisor process.",
    )
    auth_cache: float = setting(
        300.0,
        duration,
        "How long a credential the database vouched for is trusted before a body is read;"
        " a revoked host's batches are never stored, whatever this says.",
    )


def days(value: object) -> int:
    """A whole number of days; 0 means forever."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidValue(f"expected a whole number of days (0: forever), got {value!r}")
    return value


@dataclass(frozen=True)
class JobsSection:
    enabled: bool = setting(
        True,
        boolean,
        "Run the scheduled jobs in `serve`. Advisors sharing a database may all keep it on: "
        "each run happens in one of them.",
    )
    rollup_interval: float = setting(
        300.0, duration, "How often new batches are rolled up into hourly and daily rollups."
    )
    retention_interval: float = setting(3600.0, duration, "How often retention deletes old rows.")
    analysis_interval: float = setting(
        21600.0,
        duration,
        "How often the analysis looks for degradation and updates the findings.",
    )
    recommend_interval: float = setting(
        600.0,
        duration,
        "How often the recommendation job looks whether an analysis finished since its last"
        " run; it runs (engine, then the rollout loop) once after each analysis, never while"
        " one is running.",
    )
    lease: float = setting(
        600.0,
        duration,
        "How long a job is held by its runner without renewal (renewed between chunks); "
        "another advisor takes over a crashed runner's job after this.",
    )
    max_backoff: float = setting(
        3600.0, duration, "Longest pause before a failing job is tried again."
    )
    rollup_chunk_batches: int = setting(
        240,
        positive_int,
        "Batches rolled up per transaction (a host-hour is 60; SQLite ingest waits meanwhile).",
    )


@dataclass(frozen=True)
class RetentionSection:
    launches_days: int = setting(90, days, "Days raw launch events are kept (0: forever).")
    summaries_days: int = setting(
        14,
        days,
        "Days raw metric summaries are kept after they are rolled up (0: forever); never "
        "deleted before.",
    )
    hourly_days: int = setting(90, days, "Days hourly rollups are kept (0: forever).")
    daily_days: int = setting(730, days, "Days daily rollups are kept (0: forever).")
    launch_daily_days: int = setting(
        730,
        days,
        "Days daily launch rollups (what the analysis reads) are kept (0: forever); at least "
        "[analysis] window_days.",
    )
    batches_days: int = setting(
        30,
        days,
        "Days batch records (what makes a retried batch a no-op) are kept, and at least as "
        "long as their raw summaries (0: forever).",
    )
    finding_history_days: int = setting(
        730,
        days,
        "Days each finding's history points (its effect as each analysis run found it) are "
        "kept (0: forever); the finding and its status changes stay while it does.",
    )
    chunk_rows: int = setting(
        5000, positive_int, "Rows deleted per transaction, so ingest never waits long."
    )


@dataclass(frozen=True)
class AnalysisSection:
    window_days: int = setting(
        90,
        positive_int,
        "Days of launches (as daily launch rollups) and pressure each analysis run reads "
        "(keep the rollups that long: [retention] launch_daily_days).",
    )


@dataclass(frozen=True)
class RecommendSection:
    rollout_share: float = setting(
        0.9,
        ratio,
        "Share of an approved recommendation's hosts (its pilot group's, for a pilot) whose"
        " inventory must show the change for it to count as rolled out; hosts offline for"
        " days need not hold it up.",
    )
    verify_days: int = setting(
        14,
        positive_int,
        "Days after a rollout before its saving is measured (changed hosts against hosts not"
        " changed, over the same days) and it is verified or reopened; a pilot waits its own"
        " days. At least 7 are read either side of the change.",
    )


@dataclass(frozen=True)
class UiSection:
    idle_timeout: float = setting(
        1800.0, duration, "A web session not used this long ends; its user logs in again."
    )
    session_lifetime: float = setting(
        43200.0, duration, "A web session ends this long after login, however busy."
    )
    login_failures_per_user: int = setting(
        5,
        positive_int,
        "Failed logins allowed for one user name per login_failure_window; more get 429."
        " Per advisor process.",
    )
    login_failures_per_address: int = setting(
        20,
        positive_int,
        "Failed logins allowed from one client address per login_failure_window (behind a"
        " proxy, the proxy's address); more get 429. Per advisor process.",
    )
    login_failure_window: float = setting(
        900.0, duration, "The window the login failure limits count over."
    )


SECTIONS: dict[str, type[Any]] = {
    "advisor": AdvisorSection,
    "server": ServerSection,
    "database": DatabaseSection,
    "ingest": IngestSection,
    "jobs": JobsSection,
    "retention": RetentionSection,
    "analysis": AnalysisSection,
    "recommend": RecommendSection,
    "ui": UiSection,
}


@dataclass(frozen=True)
class AdvisorConfig:
    source: str = "<defaults>"
    advisor: AdvisorSection = field(default_factory=AdvisorSection)
    server: ServerSection = field(default_factory=ServerSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    ingest: IngestSection = field(default_factory=IngestSection)
    jobs: JobsSection = field(default_factory=JobsSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    analysis: AnalysisSection = field(default_factory=AnalysisSection)
    recommend: RecommendSection = field(default_factory=RecommendSection)
    ui: UiSection = field(default_factory=UiSection)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.advisor.state_dir / 'advisor.sqlite3'}"


def load_config(
    path_: Path | None = None, environ: Mapping[str, str] | None = None
) -> AdvisorConfig:
    """``path_``, else ``$FLEETSIGHT_ADVISOR_CONFIG``, else /etc/fleetsight/advisor.toml."""
    environ = os.environ if environ is None else environ
    with raised_as(ConfigError):
        raw_text, source = read_config_text(
            path_, environ, env_var="FLEETSIGHT_ADVISOR_CONFIG", default=DEFAULT_CONFIG_PATH
        )
    return parse_config(raw_text, source=source, environ=environ)


def parse_config(
    raw_text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> AdvisorConfig:
    """Parse TOML text into an :class:`AdvisorConfig`; see the module docstring for overrides.

    Raises :class:`~advisor.errors.ConfigError` naming the file, line and key.
    """
    with raised_as(ConfigError):
        data = load_toml(raw_text, source)
        apply_environment(
            data, environ or {}, prefix=ENV_PREFIX, sections=SECTIONS, default_section="advisor"
        )
        parser = TableParser(source, raw_text)
        config = AdvisorConfig(source=source, **parser.sections(data, SECTIONS))
    server = config.server
    if bool(server.tls_cert_file) != bool(server.tls_key_file):
        raise ConfigError(
            "set both tls_cert_file and tls_key_file, or neither", source=source, key="server"
        )
    return config


def describe() -> list[tuple[str, str, str]]:
    """Every setting as ``(dotted key, default, help)``, for docs/advisor-configuration.md."""
    return describe_tables(SECTIONS)
