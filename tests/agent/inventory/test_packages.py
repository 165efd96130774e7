"""Package-manager output parsers, on recorded output and on malformed lines."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.config import AppConfig
from agent.inventory.packages import (
    Parsed,
    fit_installed,
    fit_upgradable,
    parse_apt_upgradable,
    parse_dpkg_query,
    parse_flatpak_list,
    parse_rpm_query,
    parse_snap_list,
    parse_version_output,
)
from agent.shared.wire import InstalledPackage, UpgradablePackage
from agent.text import CUT_MARK
from tests.agent.hostile import HOSTILE_APT, HOSTILE_DPKG
from tests.conftest import FIXTURES

DEBIAN = FIXTURES / "package-managers"
PACKAGES = FIXTURES / "packages"
DEFAULT_VERSION_PATTERN = AppConfig().version_pattern


def read(path: str) -> str:
    return (FIXTURES / path).read_text(encoding="utf-8")


def by_name(parsed: Parsed[InstalledPackage]) -> dict[str, InstalledPackage]:
    return {package.package: package for package in parsed.packages}


# --- dpkg ---------------------------------------------------------------------------------------


def test_it_reads_every_installed_package_of_the_debian_fixture() -> None:
    parsed = parse_dpkg_query(read("package-managers/dpkg-query.debian12.tsv"))

    assert len(parsed.packages) == 830
    assert parsed.skipped == []
    assert {package.source for package in parsed.packages} == {"dpkg"}
    assert sum(package.arch == "amd64" for package in parsed.packages) == 622
    assert sum(package.arch == "all" for package in parsed.packages) == 208


def test_it_keeps_dpkg_versions_exactly_as_printed() -> None:
    packages = by_name(parse_dpkg_query(read("package-managers/dpkg-query.debian12.tsv")))

    assert packages["bsdutils"].version == "1:2.38.1-5+deb12u3"
    assert packages["vim"].version == "2:9.0.1378-2+deb12u2"
    assert packages["openssl"].version == "3.0.19-1~deb12u2"
    assert packages["curl"] == InstalledPackage("curl", "7.88.1-10+deb12u14", "dpkg", "amd64")
    assert packages["adduser"].arch == "all"


def test_it_keeps_installed_and_held_dpkg_packages_and_reports_malformed_lines() -> None:
    parsed = parse_dpkg_query(read("packages/dpkg-query.malformed.tsv"))

    assert [(p.package, p.version, p.arch) for p in parsed.packages] == [
        ("adduser", "3.134", "all"),
        ("libreoffice-core", "4:7.4.7-1+deb12u8", "amd64"),
        ("libc6", "2.36-9+deb12u14", "i386"),
    ]
    # No tabs, an empty version, an unknown status; "rc" and "iU" are valid but not installed.
    assert parsed.skipped == [5, 6, 7]


# --- rpm ----------------------------------------------------------------------------------------


def test_it_renders_rpm_versions_with_epoch_only_when_set() -> None:
    parsed = parse_rpm_query(read("packages/rpm-qa.rpm418.txt"))
    packages = by_name(parsed)

    assert len(parsed.packages) == 6
    assert parsed.skipped == []
    assert packages["libreoffice-core"] == InstalledPackage(
        "libreoffice-core", "1:7.6.7.2-1.el9", "rpm", "x86_64"
    )
    assert packages["vim-enhanced"].version == "2:8.2.2637-21.el9"
    assert packages["firefox"].version == "128.5.1-1.el9_5"
    assert packages["tzdata"].arch == "noarch"


def test_it_leaves_out_rpm_signing_keys_and_reports_malformed_rpm_lines() -> None:
    text = (
        "bash\t(none)\t5.2.26\t1.fc40\tx86_64\n"
        "gpg-pubkey\t(none)\ta15b79cc\t63d04c2c\t(none)\n"
        "truncated\t(none)\t1.0\n"
        "badepoch\tone\t1.0\t1\tx86_64\n"
        "filesystem\t(none)\t3.18\t8.fc40\t(none)\n"
    )

    parsed = parse_rpm_query(text)

    assert [(p.package, p.version, p.arch) for p in parsed.packages] == [
        ("bash", "5.2.26-1.fc40", "x86_64"),
        ("filesystem", "3.18-8.fc40", None),
    ]
    assert parsed.skipped == [3, 4]


# --- flatpak ------------------------------------------------------------------------------------


def test_it_reads_flatpak_apps_and_falls_back_to_the_branch_without_a_version() -> None:
    parsed = parse_flatpak_list(read("packages/flatpak-list.txt"))
    packages = by_name(parsed)

    assert len(parsed.packages) == 4
    assert parsed.skipped == []
    assert packages["org.libreoffice.LibreOffice"] == InstalledPackage(
        "org.libreoffice.LibreOffice", "24.8.3.2", "flatpak"
    )
    assert packages["org.gnome.Builder.Devel"].version == "master"


def test_it_reports_malformed_flatpak_lines() -> None:
    text = (
        "Application ID\tVersion\tBranch\tOrigin\n"
        "org.mozilla.firefox\t133.0\tstable\tflathub\n"
        "org.example.Cut\t1.0\n"
        "\t1.0\tstable\tflathub\n"
        "org.example.Nothing\t\t\tflathub\n"
    )

    parsed = parse_flatpak_list(text)

    assert [p.package for p in parsed.packages] == ["org.mozilla.firefox"]
    assert parsed.skipped == [3, 4, 5]


# --- snap ---------------------------------------------------------------------------------------


def test_it_reads_snap_list_below_its_header() -> None:
    parsed = parse_snap_list(read("packages/snap-list.txt"))
    packages = by_name(parsed)

    assert len(parsed.packages) == 6
    assert "Name" not in packages
    assert parsed.skipped == []
    assert packages["firefox"] == InstalledPackage("firefox", "133.0-2", "snap")
    assert packages["gtk-common-themes"].version == "0.1-81-g442e511"


def test_it_reports_snap_rows_with_too_few_columns() -> None:
    text = "Name  Version  Rev  Tracking  Publisher  Notes\nfirefox  133.0-2  5361\nlonely\n"

    parsed = parse_snap_list(text)

    assert [p.package for p in parsed.packages] == ["firefox"]
    assert parsed.skipped == [3]


# --- apt ----------------------------------------------------------------------------------------


def test_it_reads_every_upgradable_line_of_the_debian_fixture() -> None:
    parsed = parse_apt_upgradable(read("package-managers/apt-list-upgradable.debian12.txt"))
    upgradable = {item.package: item for item in parsed.packages}

    # 135 lines: the "Listing..." header and 134 packages.
    assert len(parsed.packages) == 134
    assert parsed.skipped == []
    assert upgradable["curl"] == UpgradablePackage(
        package="curl",
        installed="7.88.1-10+deb12u14",
        candidate="7.88.1-10+deb12u15",
        origin="oldstable",
        arch="amd64",
        source="apt",
    )
    assert upgradable["libcups2"].origin == "oldstable,oldstable-security"
    assert upgradable["openssl"].candidate == "3.0.22-1~deb12u2"
    assert upgradable["apt-transport-https"].arch == "all"


def test_it_passes_over_apt_warnings_and_reports_malformed_apt_lines() -> None:
    parsed = parse_apt_upgradable(read("packages/apt-list-upgradable.malformed.txt"))

    assert [(p.package, p.installed, p.candidate) for p in parsed.packages] == [
        ("curl", "7.88.1-10+deb12u14", "7.88.1-10+deb12u15"),
        ("libcups2", "2.4.2-3+deb12u8", "2.4.2-3+deb12u9"),
        ("vim", "2:9.0.1378-2+deb12u2", "2:9.0.1378-2+deb12u3"),
    ]
    assert parsed.skipped == [6, 7]


# --- --version output ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("curl-version.txt", "7.88.1"),
        ("git-version.txt", "2.39.5"),
        ("libreoffice-version.txt", "7.4.7.2"),
        ("firefox-version.txt", "115.14.0esr"),
    ],
)
def test_it_finds_the_version_in_version_output_with_the_default_pattern(
    fixture: str, expected: str
) -> None:
    text = (PACKAGES / fixture).read_text(encoding="utf-8")

    assert parse_version_output(text, DEFAULT_VERSION_PATTERN) == expected


def test_it_uses_the_whole_match_of_a_pattern_without_a_group() -> None:
    assert parse_version_output("Tool release 2024.3 build 7", r"\d{4}\.\d+") == "2024.3"


def test_it_returns_none_when_the_version_output_has_no_version() -> None:
    assert parse_version_output("command not understood\n", DEFAULT_VERSION_PATTERN) is None


# --- robustness ---------------------------------------------------------------------------------

LIST_PARSERS: list[Callable[[str], Parsed[InstalledPackage] | Parsed[UpgradablePackage]]] = [
    parse_dpkg_query,
    parse_rpm_query,
    parse_flatpak_list,
    parse_snap_list,
    parse_apt_upgradable,
]


@pytest.mark.parametrize("parser", LIST_PARSERS)
@given(text=st.text(alphabet=st.sampled_from("ab1:.~+-/ \t\n[]()"), max_size=200))
def test_parsers_never_raise_and_account_for_each_line_at_most_once(
    parser: Callable[[str], Parsed[InstalledPackage] | Parsed[UpgradablePackage]], text: str
) -> None:
    parsed = parser(text)

    lines = len(text.splitlines())
    assert len(parsed.packages) + len(parsed.skipped) <= lines
    assert all(1 <= number <= lines for number in parsed.skipped)


def test_package_fields_the_advisor_would_refuse_are_escaped_and_cut() -> None:
    parsed = parse_dpkg_query(HOSTILE_DPKG)
    assert parsed.skipped == []

    evil, long_version, long_name, bidi = map(fit_installed, parsed.packages)

    assert (evil.package, evil.version) == ("evil\\x1b[2J", "1.0\\x1b[0m")
    assert len(long_version.version) == 256
    assert long_version.version.endswith(CUT_MARK)
    assert len(long_name.package) == 256
    assert (bidi.package, bidi.version) == ("bidi\\u202egpj.exe", "2.0\\u2066")


def test_a_package_the_advisor_takes_is_kept_as_the_same_object() -> None:
    package = InstalledPackage("curl", "7.88.1-10+deb12u8", "dpkg", "amd64")
    assert fit_installed(package) is package
    upgrade = UpgradablePackage("curl", "1", "2", "oldstable", "amd64")
    assert fit_upgradable(upgrade) is upgrade


def test_upgradable_fields_the_advisor_would_refuse_are_escaped_and_cut() -> None:
    evil, long_origin = map(fit_upgradable, parse_apt_upgradable(HOSTILE_APT).packages)

    assert (evil.package, evil.installed, evil.candidate) == (
        "evil\\x1b[2J",
        "1.0\\x1b[0m",
        "2.0",
    )
    assert (evil.origin, evil.arch) == ("stable\\x1b", "amd64\\x1b")
    assert long_origin.origin is not None
    assert len(long_origin.origin) == 256


def test_a_version_pattern_that_matches_too_much_gives_one_clean_line() -> None:
    assert parse_version_output("Tool \x1b[1m9.1\x1b[0m", r"Tool (.*)") == "\\x1b[1m9.1\\x1b[0m"
