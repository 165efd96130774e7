"""Advisor configuration: the agent's rules, the advisor's keys; passwords never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.cli.common import redacted as _redacted
from advisor.config import describe, load_config, parse_config
from advisor.errors import ConfigError
from tests.conftest import REPO


def test_the_example_config_loads() -> None:
    config = load_config(REPO / "config" / "advisor.toml", environ={})
    assert config.server.listen == "0.0.0.0:8443"
    assert config.database_url == "sqlite:////var/lib/fleetsight-advisor/advisor.sqlite3"
    assert config.ingest.max_body_bytes == 1024**2


def test_environment_overrides_and_the_file_suffix(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql+psycopg://fleetsight:s3cret@db.example/fleetsight\n")
    config = parse_config(
        "",
        environ={
            "FLEETSIGHT_ADVISOR_STATE_DIR": "/srv/fs",
            "FLEETSIGHT_ADVISOR_DATABASE_URL_FILE": str(secret),
            "FLEETSIGHT_ADVISOR_INGEST_MAX_CONCURRENT": "8",
        },
    )
    assert config.advisor.state_dir == Path("/srv/fs")
    assert config.database_url.endswith("@db.example/fleetsight")
    assert config.ingest.max_concurrent == 8


def test_a_bad_database_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('[database]\nurl = "mysql://root:hunter2@db/x"\n', source="advisor.toml")
    assert str(caught.value).startswith("advisor.toml:2: database.url: expected a sqlite")
    assert "hunter2" not in str(caught.value)


def test_half_a_tls_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="both tls_cert_file and tls_key_file"):
        parse_config('[server]\ntls_cert_file = "/etc/fleetsight/a.crt"\n')


def test_an_unknown_section_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown section; expected one of: advisor, server"):
        parse_config("[servr]\nlisten = '127.0.0.1:1'\n")


def test_urls_are_shown_without_passwords() -> None:
    assert _redacted("postgresql+psycopg://fs:pw@db/fs") == "postgresql+psycopg://fs:***@db/fs"
    assert _redacted("sqlite:////var/lib/fleetsight-advisor/advisor.sqlite3").endswith(
        "advisor.sqlite3"
    )


def test_every_advisor_setting_is_documented() -> None:
    documentation = (REPO / "docs" / "advisor-configuration.md").read_text()
    missing = [key for key, _, _ in describe() if f"`{key}`" not in documentation]
    assert not missing, f"docs/advisor-configuration.md lacks: {missing}"
