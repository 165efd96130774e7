"""The shared value converters: what agent.toml, advisor.toml and both command lines accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.shared.config_values import (
    boolean,
    command,
    duration,
    loopback_address,
    optional_path,
    size,
    split_host_port,
    url,
)
from agent.shared.errors import InvalidValue


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("7d", 604800.0)],
)
def test_a_duration_is_seconds_with_or_without_a_unit(raw: object, seconds: float) -> None:
    assert duration(raw) == seconds


@pytest.mark.parametrize("raw", [0, "0s", "-1s", True, "soon", "5 weeks", None])
def test_a_duration_that_is_not_positive_or_not_a_duration_is_refused(raw: object) -> None:
    with pytest.raises(InvalidValue):
        duration(raw)


def test_sizes_take_decimal_and_binary_units() -> None:
    assert [size(v) for v in (1048576, "64MiB", "100 MB", "1.5kib")] == [
        1048576,
        64 * 1024**2,
        100_000_000,
        1536,
    ]
    with pytest.raises(InvalidValue, match="64MiB"):
        size("64 furlongs")


def test_host_and_port_are_split_with_brackets_around_ipv6() -> None:
    assert split_host_port("127.0.0.1:9798") == ("127.0.0.1", 9798)
    assert split_host_port("[::1]:9798") == ("::1", 9798)
    with pytest.raises(InvalidValue, match="TCP port"):
        split_host_port("127.0.0.1:70000")
    with pytest.raises(InvalidValue, match="host:port"):
        split_host_port("::1:9798")


def test_a_loopback_address_refuses_what_other_machines_can_reach() -> None:
    assert loopback_address("localhost:9799") == "localhost:9799"
    assert loopback_address("") == ""
    with pytest.raises(InvalidValue, match="loopback"):
        loopback_address("0.0.0.0:9799")


def test_a_command_is_a_list_never_a_string_for_a_shell() -> None:
    assert command(["app", "--version"]) == ("app", "--version")
    with pytest.raises(InvalidValue, match="list of arguments"):
        command("app --version")


def test_environment_strings_convert_like_toml_values() -> None:
    assert boolean("off") is False
    assert url("https://advisor.example:8443/") == "https://advisor.example:8443"
    assert optional_path("") is None
    assert optional_path("/srv/ca.pem") == Path("/srv/ca.pem")
