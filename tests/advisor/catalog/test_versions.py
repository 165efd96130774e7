from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.catalog.errors import InvalidVersion
from advisor.catalog.versions import (
    Scheme,
    compare_versions,
    is_valid,
    newest,
    sort_versions,
    upstream_version,
)

DPKG = shutil.which("dpkg")

_digits = st.integers(min_value=0, max_value=120).map(str)
_word = st.sampled_from(["a", "b", "rc", "beta", "alpha", "dfsg", "ds", "git", "esr", "p", "z"])
_part = st.one_of(_digits, st.tuples(_digits, _word).map("".join))
_tilde = st.one_of(
    st.just(""),
    st.tuples(st.just("~"), _word, _digits).map("".join),
    st.just("~"),
)
_plus = st.one_of(st.just(""), st.tuples(st.just("+"), _word, _digits).map("".join))
_upstream = st.tuples(
    _digits,
    st.lists(_part, max_size=3).map(lambda parts: "".join("." + part for part in parts)),
    _tilde,
    _plus,
).map("".join)
_revision = st.one_of(
    st.just(""),
    st.tuples(
        st.just("-"),
        _digits,
        st.sampled_from(["", "+deb12u1", "+deb12u15", "+deb11u3", "~deb12u1", "+b1", "ubuntu0.1"]),
        st.sampled_from(["", "~bpo12+1", "+b2", "~"]),
    ).map("".join),
)
_epoch = st.one_of(st.just(""), st.integers(min_value=0, max_value=3).map(lambda n: f"{n}:"))
debian_versions = st.tuples(_epoch, _upstream, _revision).map("".join)


def dpkg_compare(left: str, right: str) -> int:
    assert DPKG is not None

    def holds(op: str) -> bool:
        return subprocess.run([DPKG, "--compare-versions", left, op, right]).returncode == 0

    if holds("lt"):
        return -1
    return 0 if holds("eq") else 1


@pytest.mark.skipif(DPKG is None, reason="dpkg is the oracle and is not installed")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(debian_versions, debian_versions)
def test_it_orders_debian_versions_as_dpkg_does(left: str, right: str) -> None:
    assert compare_versions("deb", left, right) == dpkg_compare(left, right)


@pytest.mark.skipif(DPKG is None, reason="dpkg is the oracle and is not installed")
@settings(max_examples=100, deadline=None)
@given(debian_versions)
def test_it_orders_a_debian_security_update_after_its_base(version: str) -> None:
    base = version if "-" in version.split(":")[-1] else f"{version}-1"
    update = f"{base}+deb12u1"
    assert compare_versions("deb", base, update) == dpkg_compare(base, update) == -1


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("1:1.0", "2.0", 1),  # an epoch wins over everything after it
        ("0:1.0", "1.0", 0),
        ("1.0~rc1", "1.0", -1),  # a tilde sorts before the empty string
        ("1.0~~", "1.0~", -1),
        ("7.88.1-10+deb12u15", "7.88.1-10+deb12u14", 1),
        ("7.88.1-10+deb12u9", "7.88.1-10+deb12u10", -1),
        ("0.13.0-1.1~deb12u1", "0.13.0-1.1", -1),
        ("15+248+deb12u2", "15+248+deb12u1", 1),
    ],
)
def test_it_knows_the_dpkg_rules_by_example(left: str, right: str, expected: int) -> None:
    assert compare_versions("deb", left, right) == expected


# Cases from rpm's own test suite (tests/rpmvercmp.at).
@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p2", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("xyz10", "xyz10.1", -1),
        ("1.0aa", "1.0a", 1),
        ("1.0010", "1.9", 1),
        ("1.05", "1.5", 0),
        ("1.0", "1", 1),
        ("2.50", "2.5", 1),
        ("fc4", "fc.4", 0),
        ("FC5", "fc4", -1),
        ("2a", "2.0", -1),
        ("1.0", "1.fc4", 1),
        ("3.0.0_fc", "3.0.0.fc", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0^", "1.0", 1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git1", "1.01", -1),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1:1.0-1", "2.0-1", 1),
        ("3.0.7-27.el9", "3.0.7-24.el9", 1),
    ],
)
def test_it_follows_rpmvercmp(left: str, right: str, expected: int) -> None:
    assert compare_versions("rpm", left, right) == expected


@pytest.mark.parametrize(
    ("scheme", "left", "right", "expected"),
    [
        ("pep440", "1.0rc1", "1.0", -1),
        ("pep440", "1.0.dev1", "1.0a1", -1),
        ("pep440", "1.0.post1", "1.0", 1),
        ("pep440", "1!0.1", "2.0", 1),
        ("pep440", "1.0", "1.0.0", 0),
        ("semver", "1.0.0-alpha", "1.0.0", -1),
        ("semver", "1.0.0-alpha.1", "1.0.0-alpha.beta", -1),
        ("semver", "1.0.0-beta.2", "1.0.0-beta.11", -1),
        ("semver", "1.0.0+build.2", "1.0.0+build.1", 0),
        ("calver", "24.04", "24.10", -1),
        ("calver", "2023.12", "2024.1", -1),
        ("calver", "26.2.2.2", "7.4.7.2", 1),
        ("generic", "8u501", "8u51", 1),
        ("generic", "8u502-b07", "8u492-b09", 1),
        ("generic", "2402 CU10", "2402 CU4", 1),
        ("generic", "21.0.10+7", "21.0.4+7", 1),
        ("generic", "3.13.0rc1", "3.13.0", -1),
        ("generic", "10.0.26100", "10.0.22631", 1),
    ],
)
def test_it_orders_each_scheme_by_its_own_rules(
    scheme: Scheme, left: str, right: str, expected: int
) -> None:
    assert compare_versions(scheme, left, right) == expected


@pytest.mark.parametrize(
    ("scheme", "text"),
    [("deb", "a1.0"), ("deb", "1:"), ("semver", "1.0"), ("pep440", "8u501"), ("deb", "")],
)
def test_it_rejects_a_version_its_scheme_does_not_allow(scheme: Scheme, text: str) -> None:
    assert not is_valid(scheme, text)
    with pytest.raises(InvalidVersion, match=scheme):
        compare_versions(scheme, text, "1.0.0")


def test_it_sorts_and_picks_the_newest() -> None:
    versions = ["1.0-1", "1:0.9-1", "1.0~rc1-1", "1.0-1+deb12u1"]
    assert sort_versions("deb", versions) == ["1.0~rc1-1", "1.0-1", "1.0-1+deb12u1", "1:0.9-1"]
    assert newest("deb", versions) == "1:0.9-1"
    assert newest("deb", []) is None


@pytest.mark.parametrize(
    ("scheme", "text", "expected"),
    [
        ("deb", "1:7.88.1-10+deb12u15", "7.88.1"),
        ("deb", "15+248+deb12u1", "15+248+deb12u1"),
        ("deb", "15.18-0+deb12u1", "15.18"),
        ("rpm", "1:3.0.7-27.el9", "3.0.7"),
        ("generic", "8u501", "8u501"),
    ],
)
def test_it_finds_the_upstream_version_in_a_package_version(
    scheme: Scheme, text: str, expected: str
) -> None:
    assert upstream_version(scheme, text) == expected
