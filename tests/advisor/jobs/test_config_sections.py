"""The ``[jobs]`` and ``[retention]`` settings: defaults, overrides, and clear refusals."""

from __future__ import annotations

import pytest

from advisor.config import parse_config
from advisor.errors import ConfigError
from advisor.jobs.tasks import retention_policy
from advisor.store.retention import RetentionPolicy


def test_the_defaults_keep_launches_90_days_and_daily_rollups_two_years() -> None:
    config = parse_config("")

    assert (config.jobs.enabled, config.jobs.rollup_interval, config.jobs.retention_interval) == (
        True,
        300.0,
        3600.0,
    )
    assert retention_policy(config) == RetentionPolicy(
        launches_days=90,
        summaries_days=14,
        hourly_days=90,
        daily_days=730,
        batches_days=30,
        finding_history_days=730,
        chunk_rows=5000,
    )


def test_keys_and_environment_overrides_are_read() -> None:
    config = parse_config(
        '[jobs]\nrollup_interval = "2m"\nenabled = false\n[retention]\ndaily_days = 0\n',
        environ={"FLEETSIGHT_ADVISOR_RETENTION_CHUNK_ROWS": "1000"},
    )

    assert (config.jobs.rollup_interval, config.jobs.enabled) == (120.0, False)
    assert (config.retention.daily_days, config.retention.chunk_rows) == (0, 1000)


def test_the_daily_launch_rows_retention_reaches_the_retention_job() -> None:
    config = parse_config("[retention]\nlaunch_daily_days = 400\n")

    assert retention_policy(config).launch_daily_days == 400


def test_the_finding_history_retention_reaches_the_retention_job() -> None:
    config = parse_config("", environ={"FLEETSIGHT_ADVISOR_RETENTION_FINDING_HISTORY_DAYS": "0"})

    assert config.retention.finding_history_days == 0
    assert retention_policy(config).finding_history_days == 0
    assert retention_policy(parse_config("")).finding_history_days == 730


def test_negative_days_are_refused_naming_file_line_and_key() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config("[retention]\n\nlaunches_days = -3\n", source="advisor.toml")

    assert str(refused.value).startswith("advisor.toml:3: retention.launches_days: expected")
    assert "0: forever" in str(refused.value)


def test_a_zero_chunk_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"retention\.chunk_rows"):
        parse_config("[retention]\nchunk_rows = 0\n")
