"""The software inventory: ask each package manager what is installed and what it offers.

Running commands is the only I/O here and it goes through an injected ``run`` callable, so the
whole read is tested with recorded output. A package manager that is missing, fails or times
out contributes nothing; the read never raises because of one.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agent.config import Config
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
from agent.shared.wire import InstalledPackage, UpgradablePackage, field_values

log = logging.getLogger(__name__)

RunCommand = Callable[[Sequence[str], float], str | None]
_P = TypeVar("_P")

PACKAGE_LIST_COMMANDS: dict[str, tuple[str, ...]] = {
    "dpkg": (
        "dpkg-query",
        "-W",
        "--showformat=${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n",
    ),
    "rpm": (
        "rpm",
        "-qa",
        "--queryformat",
        "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n",
    ),
    "flatpak": ("flatpak", "list", "--app", "--columns=application,version,branch,origin"),
    "snap": ("snap", "list"),
}
"""The command listing installed packages, per name accepted in ``inventory.package_managers``."""

APT_UPGRADABLE_COMMAND = ("apt", "list", "--upgradable")

_PARSERS: dict[str, Callable[[str], Parsed[InstalledPackage]]] = {
    "dpkg": parse_dpkg_query,
    "rpm": parse_rpm_query,
    "flatpak": parse_flatpak_list,
    "snap": parse_snap_list,
}
# Listing every package of a slow disk's dpkg or rpm database can take seconds; an app's
# --version should answer at once, and a hung one must not hold the inventory up for long.
PACKAGE_MANAGER_TIMEOUT = 120.0
VERSION_COMMAND_TIMEOUT = 15.0
MAX_PACKAGES = 50_000
"""The advisor's most installed (and upgradable) packages per inventory; a desktop has 2,000 to
10,000. Past it the list is cut, in its sorted order: a cut list costs a few packages, a
refused batch the whole inventory and a minute of data."""


@dataclass(frozen=True, slots=True)
class SoftwareInventory:
    """One read of the machine's software.

    ``installed``: every package of every package manager found, sorted, watched apps' packages
    tagged with ``app``, plus one ``source="command"`` entry (named after the app) per app with
    a ``version_command``. ``upgradable``: what apt offers. ``app_versions``: watched app ->
    installed version, for launch events. ``skipped_lines``: malformed output lines skipped per
    source (``"dpkg"``, ``"apt"``...), for the agent's self-metrics.
    """

    installed: list[InstalledPackage]
    upgradable: list[UpgradablePackage]
    app_versions: dict[str, str]
    skipped_lines: dict[str, int] = field(default_factory=dict)


def run_command(argv: Sequence[str], timeout: float = 30.0) -> str | None:
    """Run ``argv`` (never through a shell) and return its standard output.

    The C locale keeps the output in the format the parsers expect. Returns None, logging why
    at debug level, when the program is missing, fails, or runs longer than ``timeout``.
    """
    try:
        completed = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
    except FileNotFoundError:
        log.debug("%s: not installed", argv[0])
        return None
    except subprocess.TimeoutExpired:
        log.debug("%s: no answer within %.0f s", argv[0], timeout)
        return None
    except OSError as exc:
        log.debug("%s: cannot run: %s", argv[0], exc)
        return None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        log.debug(
            "%s: exit status %d: %s",
            argv[0],
            completed.returncode,
            stderr[0] if stderr else "no message",
        )
        return None
    return completed.stdout.decode("utf-8", "replace")


def read_software(config: Config, run: RunCommand = run_command) -> SoftwareInventory:
    """Read installed packages, upgradable packages and watched apps' versions.

    Package managers are asked in ``config.inventory.package_managers`` order; an app's version
    is that of the first of its ``packages`` found, in that order, else its version command's.
    """
    skipped: dict[str, int] = {}
    found: list[InstalledPackage] = []
    for manager in config.inventory.package_managers:
        parser = _PARSERS.get(manager)
        if parser is None:
            log.warning("inventory.package_managers: unknown package manager %r", manager)
            continue
        output = run(PACKAGE_LIST_COMMANDS[manager], PACKAGE_MANAGER_TIMEOUT)
        if output is not None:
            found.extend(map(fit_installed, _keep(manager, parser(output), skipped)))

    owner: dict[str, str] = {}
    for app in config.apps:
        for package in app.packages:
            owner.setdefault(package, app.name)
    installed = [
        _tagged(package, owner.get(package.package)) for package in found
    ] + _command_versions(config, run)

    app_versions: dict[str, str] = {}
    for app in config.apps:
        version = _package_version(app.packages, found) or _command_version(app.name, installed)
        if version is not None:
            app_versions[app.name] = version

    upgradable: list[UpgradablePackage] = []
    if config.inventory.upgradable:
        output = run(APT_UPGRADABLE_COMMAND, PACKAGE_MANAGER_TIMEOUT)
        if output is not None:
            upgradable = [
                fit_upgradable(item) for item in _keep("apt", parse_apt_upgradable(output), skipped)
            ]

    return SoftwareInventory(
        installed=sorted(installed, key=_installed_key)[:MAX_PACKAGES],
        upgradable=sorted(upgradable, key=lambda item: (item.package, item.arch or ""))[
            :MAX_PACKAGES
        ],
        app_versions=app_versions,
        skipped_lines=skipped,
    )


def _keep(source: str, parsed: Parsed[_P], skipped: dict[str, int]) -> list[_P]:
    if parsed.skipped:
        shown = ", ".join(str(number) for number in parsed.skipped[:5])
        log.warning(
            "%s: skipped %d malformed output line(s) (line %s%s)",
            source,
            len(parsed.skipped),
            shown,
            ", ..." if len(parsed.skipped) > 5 else "",
        )
        skipped[source] = skipped.get(source, 0) + len(parsed.skipped)
    return parsed.packages


def _tagged(package: InstalledPackage, app: str | None) -> InstalledPackage:
    if app is None:
        return package
    return InstalledPackage(package.package, package.version, package.source, package.arch, app)


def _command_versions(config: Config, run: RunCommand) -> list[InstalledPackage]:
    result: list[InstalledPackage] = []
    for app in config.apps:
        if not app.version_command:
            continue
        output = run(app.version_command, VERSION_COMMAND_TIMEOUT)
        version = parse_version_output(output, app.version_pattern) if output else None
        if version is None:
            log.debug("%s: no version found in the output of its version_command", app.name)
            continue
        result.append(InstalledPackage(app.name, version, "command", None, app.name))
    return result


def _package_version(names: Sequence[str], found: Sequence[InstalledPackage]) -> str | None:
    by_name: dict[str, str] = {}
    for package in found:
        by_name.setdefault(package.package, package.version)
    return next((by_name[name] for name in names if name in by_name), None)


def _command_version(app: str, installed: Sequence[InstalledPackage]) -> str | None:
    return next(
        (item.version for item in installed if item.source == "command" and item.app == app),
        None,
    )


def _installed_key(package: InstalledPackage) -> tuple[str, str, str, str]:
    return (package.source, package.package, package.arch or "", package.version)


# Where each package manager keeps what it knows: when none of these has changed, a new read
# would give the same answer. apt's lists change on `apt update`, dpkg's status on installs.
PACKAGE_DATABASES: tuple[str, ...] = (
    "/var/lib/dpkg/status",
    "/var/lib/apt/lists",
    "/var/lib/rpm",
    "/var/lib/flatpak",
    "/var/lib/snapd/state.json",
)


class CachedSoftwareReader:
    """:func:`read_software`, re-run only when a package database changed or ``max_age`` passed.

    The full read costs about a second of CPU (``apt list --upgradable``); the agent checks
    hourly and the answer rarely changes, so the check compares the modification times of
    :data:`PACKAGE_DATABASES` first. Apps with a ``version_command`` are installed outside the
    package managers, so their versions are refreshed by the ``max_age`` read (daily).

    The last answer is kept compressed: as objects, a desktop's 2,500 packages would hold
    most of a MB of the agent's memory between hourly checks; as zlib'd JSON, tens of KB.
    """

    def __init__(
        self,
        *,
        max_age: float,
        read: Callable[[Config], SoftwareInventory] = read_software,
        databases: Sequence[str] = PACKAGE_DATABASES,
        clock: Callable[[], float] = time.time,
    ):
        self._max_age = max_age
        self._read = read
        self._databases = databases
        self._clock = clock
        self._fingerprint: tuple[float | None, ...] | None = None
        self._read_at = 0.0
        self._last: bytes | None = None
        self.reads = 0

    def __call__(self, config: Config) -> SoftwareInventory:
        fingerprint = tuple(_mtime(path) for path in self._databases)
        now = self._clock()
        unchanged = fingerprint == self._fingerprint
        if self._last is not None and unchanged and 0 <= now - self._read_at < self._max_age:
            return _unpack(self._last)
        software = self._read(config)
        self._last = _pack(software)
        self._fingerprint = fingerprint
        self._read_at = now
        self.reads += 1
        return software


def _pack(software: SoftwareInventory) -> bytes:
    # One JSON line a package, fed to the compressor as it is made: the whole list as dicts
    # and one document would be the agent's highest moment on a desktop (megabytes).
    packer = zlib.compressobj()
    head = {"app_versions": software.app_versions, "skipped_lines": software.skipped_lines}
    chunks = [packer.compress(_json_line(head))]
    chunks.append(packer.compress(_json_line(len(software.installed))))
    for installed in software.installed:
        chunks.append(packer.compress(_json_line(field_values(installed))))
    for upgradable in software.upgradable:
        chunks.append(packer.compress(_json_line(field_values(upgradable))))
    chunks.append(packer.flush())
    return b"".join(chunks)


def _unpack(packed: bytes) -> SoftwareInventory:
    lines = io.BytesIO(zlib.decompress(packed))
    head = json.loads(lines.readline())
    count = json.loads(lines.readline())
    installed = [InstalledPackage(*json.loads(lines.readline())) for _ in range(count)]
    upgradable = [UpgradablePackage(*json.loads(line)) for line in lines]
    return SoftwareInventory(
        installed=installed,
        upgradable=upgradable,
        app_versions=head["app_versions"],
        skipped_lines=head["skipped_lines"],
    )


def _json_line(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _mtime(path: str) -> float | None:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None
