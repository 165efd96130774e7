"""Configuration: defaults, TOML, environment overrides, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Config, describe, load_config, parse_config
from agent.errors import ConfigError
from tests.conftest import REPO


def error_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="agent.toml", environ=environ or {})
    return str(caught.value)


def test_the_example_config_in_the_repository_loads() -> None:
    config = load_config(REPO / "config" / "agent.toml", environ={})
    assert [app.name for app in config.apps] == ["libreoffice", "firefox", "thunderbird", "gimp"]
    assert config.apps[0].ready.timeout == 90.0
    assert config.spool.max_bytes == 64 * 1024**2


def test_an_absent_default_file_means_defaults_but_an_absent_named_file_is_an_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: file not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_durations_and_sizes_accept_units() -> None:
    config = parse_config(
        '[agent]\nsample_interval = "500ms"\nsummary_interval = "2m"\n'
        '[spool]\nmax_bytes = "1.5MiB"\n[inventory]\ninterval = "7d"\n',
        environ={},
    )
    assert config.agent.sample_interval == 0.5
    assert config.agent.summary_interval == 120.0
    assert config.spool.max_bytes == int(1.5 * 1024**2)
    assert config.inventory.interval == 7 * 86400.0


def test_a_bad_value_names_file_line_and_key() -> None:
    message = error_of('[agent]\nlog_level = "info"\n\n[spool]\nmax_bytes = "lots"\n')
    assert message == (
        "agent.toml:5: spool.max_bytes: expected a size like '64MiB' or '100MB', got 'lots'"
    )


def test_an_unknown_key_is_refused_with_the_keys_that_exist() -> None:
    message = error_of("[agent]\nsample_intervall = 5\n")
    assert message.startswith("agent.toml:2: agent.sample_intervall: unknown key")
    assert "sample_interval" in message


def test_an_unknown_section_is_refused() -> None:
    assert "unknown section" in error_of("[advisr]\nurl = 'http://x'\n")


def test_errors_in_the_second_app_point_at_its_own_lines() -> None:
    text = (
        '[[apps]]\nname = "a"\nprocess_names = ["a"]\n'
        '[[apps]]\nname = "b"\nprocess_names = ["b"]\n[apps.ready]\nsignal = "magic"\n'
    )
    message = error_of(text)
    assert message.startswith("agent.toml:8: apps[1].ready.signal: expected one of cpu_settled")


def test_broken_toml_names_the_line() -> None:
    assert error_of("[agent]\nsample_interval = \n").startswith("agent.toml:2: not valid TOML")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[apps]]\nname = "a"\n', "needs process_names"),
        ('[[apps]]\nname = "a"\nprocess_names = ["a"]\nready = { signal = "port" }\n', "port"),
        ('[[apps]]\nprocess_names = ["a"]\n', "needs a name"),
        (
            '[[apps]]\nname = "a"\nprocess_names = ["a"]\n[[apps]]\nname = "a"\n'
            'process_names = ["b"]\n',
            "duplicate name 'a'",
        ),
        ('[report]\nlisten = "0.0.0.0:9799"\n', "must be a loopback address"),
        ('[metrics]\nlisten = "nowhere"\n', "expected host:port"),
        ('[advisor]\nurl = "ftp://advisor"\n', "expected an http:// or https:// URL"),
        ('[agent]\nsample_interval = "90s"\nsummary_interval = "60s"\n', "must not be shorter"),
        ("[agent]\nsample_interval = -1\n", "must be positive"),
        ('[[probes.command]]\nname = "x"\ncommand = "ls -l"\n', "list of arguments"),
        ('[[apps]]\nname = "a"\nprocess_names = ["a"]\ncmdline_pattern = "("\n', "regular"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(text: str, fragment: str) -> None:
    assert fragment in error_of(text)


def test_environment_overrides_the_file() -> None:
    config = parse_config(
        '[advisor]\nurl = "http://file:1"\n',
        environ={
            "FLEETSIGHT_AGENT_ADVISOR_URL": "https://env:8443/",
            "FLEETSIGHT_AGENT_SPOOL_MAX_BYTES": "10MB",
            "FLEETSIGHT_AGENT_STATE_DIR": "/tmp/fleetsight-state",
            "FLEETSIGHT_AGENT_INVENTORY_UPGRADABLE": "false",
        },
    )
    assert config.advisor.url == "https://env:8443"
    assert config.spool.max_bytes == 10_000_000
    assert config.agent.state_dir == Path("/tmp/fleetsight-state")
    assert config.spool_path == Path("/tmp/fleetsight-state/spool.sqlite3")
    assert config.inventory.upgradable is False


def test_a_file_suffix_reads_the_value_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("https://from-file:8443\n")
    config = parse_config("", environ={"FLEETSIGHT_AGENT_ADVISOR_URL_FILE": str(secret)})
    assert config.advisor.url == "https://from-file:8443"


def test_an_unknown_environment_setting_is_named() -> None:
    message = error_of("", environ={"FLEETSIGHT_AGENT_SPOOL_MAXBYTES": "1"})
    assert message.startswith("environment variable FLEETSIGHT_AGENT_SPOOL_MAXBYTES:")


def test_an_invalid_environment_value_names_the_key() -> None:
    assert "spool.max_bytes" in error_of("", environ={"FLEETSIGHT_AGENT_SPOOL_MAX_BYTES": "x"})


def test_host_id_prefers_the_setting_then_the_machine_id(tmp_path: Path) -> None:
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("4c1d0f\n")
    assert Config().host_id(machine_id) == "4c1d0f"
    assert parse_config('[agent]\nhost_id = "ws-12"\n', environ={}).host_id(machine_id) == "ws-12"


def test_every_setting_is_documented() -> None:
    documentation = (REPO / "docs" / "configuration.md").read_text()
    missing = [key for key, _, _ in describe() if f"`{key}`" not in documentation]
    assert not missing, f"docs/configuration.md lacks: {missing}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[launches]\nmax_events_per_interval = 5001\n",
            "agent.toml:2: launches.max_events_per_interval: at most 5000",
        ),
        (
            '[agent]\nsummary_interval = "2d"\n',
            "agent.toml:2: agent.summary_interval: at most a day",
        ),
        (
            '[agent]\nsample_interval = "100ms"\nsummary_interval = "1d"\n',
            "agent.toml:2: agent.sample_interval: at most 100000 samples per summary interval",
        ),
        (
            '[agent]\nhost_id = "fin ws 12"\n',
            "agent.toml:2: agent.host_id: expected 1 to 128 letters, digits",
        ),
        (
            '[[apps]]\nname = "gimp"\nprocess_names = ["gimp"]\nready.timeout = "2d"\n',
            "agent.toml: apps[0].ready.timeout: at most a day",
        ),
        (
            '[[apps]]\nname = "gimp\\u001b[31m"\nprocess_names = ["gimp"]\n',
            "agent.toml:2: apps[0].name: contains the control or formatting character \\x1b",
        ),
        (
            f'[[apps]]\nname = "{"g" * 129}"\nprocess_names = ["gimp"]\n',
            "agent.toml:2: apps[0].name: at most 128 characters",
        ),
        (
            '[[probes.command]]\nname = "convert"\ncommand = ["x"]\ntimeout = "25h"\n',
            "agent.toml: probes.command[0].timeout: at most a day",
        ),
        (
            '[[probes.http]]\nname = "intranet\\u202e"\nurl = "https://intranet"\n',
            "agent.toml: probes.http[0].name: contains the control or formatting character",
        ),
        (
            '[[probes.http]]\nname = "intranet"\nurl = "https://intranet"\napp = "a\\tb"\n',
            "agent.toml: probes.http[0].app: contains the control or formatting character",
        ),
    ],
)
def test_values_that_would_make_the_advisor_refuse_batches_are_refused_naming_the_key(
    text: str, message: str
) -> None:
    assert error_of(text).startswith(message)


def test_more_apps_than_a_batch_can_summarise_are_refused() -> None:
    apps = "".join(f'[[apps]]\nname = "app{i}"\nprocess_names = ["p{i}"]\n' for i in range(1001))
    assert "apps: 1001 [[apps]], at most 1000" in error_of(apps)


def test_the_bounds_themselves_are_accepted() -> None:
    config = parse_config(
        '[agent]\nhost_id = "fin-ws-12.example:1"\nsample_interval = 1\nsummary_interval = "1d"\n'
        "[launches]\nmax_events_per_interval = 5000\n"
        '[[apps]]\nname = "LibreOffice Writer"\nprocess_names = ["soffice.bin"]\n'
        'ready.timeout = "1d"\n',
        environ={},
    )
    assert config.launches.max_events_per_interval == 5000
    assert config.apps[0].ready.timeout == 86_400.0
