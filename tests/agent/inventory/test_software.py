"""Reading the software inventory: package managers run through a fake, fed recorded output."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from agent.config import AppConfig, Config, InventorySection
from agent.inventory.software import (
    APT_UPGRADABLE_COMMAND,
    PACKAGE_LIST_COMMANDS,
    CachedSoftwareReader,
    SoftwareInventory,
    read_software,
    run_command,
)
from agent.shared.wire import InstalledPackage, field_values
from tests.agent.hostile import HOSTILE_APT, HOSTILE_DPKG
from tests.conftest import FIXTURES

DPKG = tuple(PACKAGE_LIST_COMMANDS["dpkg"])
RPM = tuple(PACKAGE_LIST_COMMANDS["rpm"])
FLATPAK = tuple(PACKAGE_LIST_COMMANDS["flatpak"])
SNAP = tuple(PACKAGE_LIST_COMMANDS["snap"])
APT = tuple(APT_UPGRADABLE_COMMAND)


def fixture(path: str) -> str:
    return (FIXTURES / path).read_text(encoding="utf-8")


DEBIAN_OUTPUT = {
    DPKG: fixture("package-managers/dpkg-query.debian12.tsv"),
    APT: fixture("package-managers/apt-list-upgradable.debian12.txt"),
}


class FakeRun:
    """Answers known commands with recorded output; anything else is "not installed"."""

    def __init__(self, outputs: Mapping[tuple[str, ...], str]):
        self.outputs = dict(outputs)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> str | None:
        assert timeout > 0
        self.calls.append(tuple(argv))
        return self.outputs.get(tuple(argv))


def app(name: str, packages: tuple[str, ...] = (), command: tuple[str, ...] = ()) -> AppConfig:
    return AppConfig(name=name, process_names=(name,), packages=packages, version_command=command)


def tagged(installed: Sequence[InstalledPackage]) -> dict[str, str | None]:
    return {f"{p.source}:{p.package}": p.app for p in installed if p.app is not None}


def test_it_lists_every_dpkg_package_and_every_apt_upgrade() -> None:
    inventory = read_software(Config(), run=FakeRun(DEBIAN_OUTPUT))

    assert len(inventory.installed) == 830
    assert len(inventory.upgradable) == 134
    assert inventory.skipped_lines == {}
    assert [p.package for p in inventory.installed] == sorted(
        p.package for p in inventory.installed
    )


def test_it_asks_each_configured_package_manager_in_order_and_skips_missing_ones() -> None:
    run = FakeRun(DEBIAN_OUTPUT)

    inventory = read_software(Config(), run=run)

    assert run.calls == [DPKG, RPM, FLATPAK, SNAP, APT]
    assert {p.source for p in inventory.installed} == {"dpkg"}


def test_it_tags_the_packages_of_watched_apps_and_reads_their_versions() -> None:
    config = Config(
        apps=(
            app("curl", packages=("curl",)),
            app("vim", packages=("vim-gtk3", "vim", "vim-common")),
            app("absent", packages=("no-such-package",)),
        )
    )

    inventory = read_software(config, run=FakeRun(DEBIAN_OUTPUT))

    assert inventory.app_versions == {"curl": "7.88.1-10+deb12u14", "vim": "2:9.0.1378-2+deb12u2"}
    assert tagged(inventory.installed) == {
        "dpkg:curl": "curl",
        "dpkg:vim": "vim",
        "dpkg:vim-common": "vim",
    }


def test_it_takes_the_first_listed_package_found_across_package_managers() -> None:
    outputs = {
        FLATPAK: fixture("packages/flatpak-list.txt"),
        SNAP: fixture("packages/snap-list.txt"),
    }
    config = Config(
        inventory=InventorySection(package_managers=("snap", "flatpak"), upgradable=False),
        apps=(app("libreoffice", packages=("org.libreoffice.LibreOffice", "libreoffice")),),
    )

    inventory = read_software(config, run=FakeRun(outputs))

    assert inventory.app_versions == {"libreoffice": "24.8.3.2"}
    assert tagged(inventory.installed) == {
        "flatpak:org.libreoffice.LibreOffice": "libreoffice",
        "snap:libreoffice": "libreoffice",
    }
    assert len(inventory.installed) == 4 + 6


def test_it_reports_the_version_command_and_prefers_packages_for_the_app_version() -> None:
    outputs = {
        **DEBIAN_OUTPUT,
        ("git", "--version"): fixture("packages/git-version.txt"),
        ("/opt/lo/program/soffice", "--version"): fixture("packages/libreoffice-version.txt"),
    }
    config = Config(
        apps=(
            app("git", packages=("git",), command=("git", "--version")),
            app("libreoffice", command=("/opt/lo/program/soffice", "--version")),
        )
    )

    inventory = read_software(config, run=FakeRun(outputs))

    assert inventory.app_versions == {"git": "1:2.39.5-0+deb12u3", "libreoffice": "7.4.7.2"}
    commands = [p for p in inventory.installed if p.source == "command"]
    assert commands == [
        InstalledPackage("git", "2.39.5", "command", None, "git"),
        InstalledPackage("libreoffice", "7.4.7.2", "command", None, "libreoffice"),
    ]


def test_it_leaves_out_an_app_whose_version_command_fails() -> None:
    config = Config(apps=(app("tool", command=("tool", "--version")),))

    inventory = read_software(config, run=FakeRun(DEBIAN_OUTPUT))

    assert "tool" not in inventory.app_versions
    assert not [p for p in inventory.installed if p.source == "command"]


def test_it_does_not_ask_apt_when_upgradable_is_off() -> None:
    run = FakeRun(DEBIAN_OUTPUT)
    config = Config(inventory=InventorySection(package_managers=("dpkg",), upgradable=False))

    inventory = read_software(config, run=run)

    assert run.calls == [DPKG]
    assert inventory.upgradable == []


def test_it_counts_and_logs_malformed_lines_per_source(caplog: pytest.LogCaptureFixture) -> None:
    outputs = {
        DPKG: fixture("packages/dpkg-query.malformed.tsv"),
        APT: fixture("packages/apt-list-upgradable.malformed.txt"),
    }
    config = Config(inventory=InventorySection(package_managers=("dpkg",)))

    with caplog.at_level(logging.WARNING, logger="agent.inventory.software"):
        inventory = read_software(config, run=FakeRun(outputs))

    assert inventory.skipped_lines == {"dpkg": 3, "apt": 2}
    assert len(inventory.installed) == 3
    assert len(inventory.upgradable) == 3
    assert "dpkg: skipped 3 malformed output line(s) (line 5, 6, 7)" in caplog.text


def test_it_warns_about_an_unknown_package_manager_and_reads_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = FakeRun(DEBIAN_OUTPUT)
    config = Config(inventory=InventorySection(package_managers=("pacman", "dpkg")))

    with caplog.at_level(logging.WARNING, logger="agent.inventory.software"):
        inventory = read_software(config, run=run)

    assert "unknown package manager 'pacman'" in caplog.text
    assert run.calls == [DPKG, APT]
    assert len(inventory.installed) == 830


def test_it_reads_nothing_on_a_machine_without_package_managers() -> None:
    inventory = read_software(Config(apps=(app("curl", packages=("curl",)),)), run=FakeRun({}))

    assert inventory.installed == []
    assert inventory.upgradable == []
    assert inventory.app_versions == {}


# --- run_command, with real child processes -----------------------------------------------------


def test_run_command_returns_stdout_in_the_c_locale_with_no_stdin() -> None:
    script = "import os, sys; print(os.environ['LC_ALL'], repr(sys.stdin.read()))"

    assert run_command([sys.executable, "-c", script]) == "C ''\n"


def test_run_command_returns_none_for_a_missing_program() -> None:
    assert run_command(["/nonexistent/fleetsight-no-such-tool", "--version"]) is None


def test_run_command_returns_none_when_the_program_fails() -> None:
    assert run_command([sys.executable, "-c", "import sys; print('x'); sys.exit(3)"]) is None


def test_run_command_returns_none_when_the_program_outlives_its_timeout() -> None:
    assert run_command([sys.executable, "-c", "import time; time.sleep(30)"], 0.5) is None


def test_the_cached_reader_rereads_only_when_a_package_database_changed(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("one\n")
    calls: list[int] = []
    now = [1000.0]

    def read(config: Config) -> SoftwareInventory:
        calls.append(1)
        return SoftwareInventory(installed=[], upgradable=[], app_versions={"n": str(len(calls))})

    reader = CachedSoftwareReader(
        max_age=86400.0,
        read=read,
        databases=[str(status), str(tmp_path / "absent")],
        clock=lambda: now[0],
    )
    config = Config()
    assert reader(config).app_versions == {"n": "1"}
    now[0] += 3600
    assert reader(config).app_versions == {"n": "1"}  # nothing changed: no new read
    os.utime(status, (now[0], now[0]))
    assert reader(config).app_versions == {"n": "2"}  # dpkg status touched: read again
    now[0] += 86400
    assert reader(config).app_versions == {"n": "3"}  # a day old: read again anyway
    assert reader.reads == 3


def test_the_cached_answer_comes_back_whole(tmp_path: Path) -> None:
    """The cache keeps the last answer compressed; what it gives back equals what was read."""
    status = tmp_path / "status"
    status.write_text("")
    read = read_software(Config(), run=FakeRun(DEBIAN_OUTPUT))  # real dpkg and apt output
    first = SoftwareInventory(
        installed=read.installed,
        upgradable=read.upgradable,
        app_versions={"firefox": "115.6.0esr-1~deb12u1"},
        skipped_lines={"apt": 1},
    )
    reader = CachedSoftwareReader(
        max_age=86400.0, read=lambda config: first, databases=[str(status)], clock=lambda: 0.0
    )
    assert reader(Config()) is first
    again = reader(Config())
    assert reader.reads == 1
    assert again == first
    assert len(again.installed) > 500
    assert len(again.upgradable) > 100


def test_hostile_package_output_comes_out_as_the_advisor_takes_it() -> None:
    run = FakeRun(
        {
            DPKG: DEBIAN_OUTPUT[DPKG] + HOSTILE_DPKG,
            APT: DEBIAN_OUTPUT[APT] + HOSTILE_APT,
            ("evil-tool", "--version"): "evil-tool \x1b[1m9.1\x1b[0m\n",
        }
    )
    config = Config(
        apps=(
            AppConfig(
                name="tool",
                process_names=("tool",),
                version_command=("evil-tool", "--version"),
                version_pattern=r"evil-tool (.*)",
            ),
        )
    )

    software = read_software(config, run)

    fields = [
        value
        for package in [*software.installed, *software.upgradable]
        for value in field_values(package)
        if isinstance(value, str)
    ]
    assert all(value.isprintable() and len(value) <= 256 for value in fields)
    assert "dpkg:evil\\x1b[2J" in {f"{p.source}:{p.package}" for p in software.installed}
    assert software.app_versions == {"tool": "\\x1b[1m9.1\\x1b[0m"}


def test_a_package_list_longer_than_the_advisor_takes_is_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agent.inventory.software.MAX_PACKAGES", 100)

    software = read_software(Config(), FakeRun(DEBIAN_OUTPUT))

    assert len(software.installed) == 100
    assert software.installed == sorted(software.installed, key=lambda p: (p.source, p.package))
