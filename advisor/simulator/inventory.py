"""The inventory a simulated host's agent would send: its hardware and watched packages.

The package manager offers each app's newest published version (the rollout that started
last) where it is not installed: upgradable, as ``apt list --upgradable`` would show it.
"""

from __future__ import annotations

from advisor.simulator.fleet import SWAP_BYTES, Fleet, SimHost
from agent.shared.wire import (
    Disk,
    Hardware,
    InstalledPackage,
    Inventory,
    UpgradablePackage,
    inventory_digest,
)

CPU_MODELS = {
    "low": ("Intel(R) Core(TM) i3-6100 CPU @ 3.70GHz", 2, 4, 3700.0),
    "mid": ("Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz", 6, 6, 4100.0),
    "high": ("12th Gen Intel(R) Core(TM) i7-12700", 12, 20, 4900.0),
}
BASE_PACKAGES = (
    InstalledPackage("libc6", "2.36-9+deb12u9", "dpkg", "amd64"),
    InstalledPackage("linux-image-amd64", "6.1.119-1", "dpkg", "amd64"),
)
BACKPORTS = "bookworm-backports"


def hardware(host: SimHost) -> Hardware:
    """The host's hardware as the agent reads it."""
    tier = host.tier
    model, cores, threads, mhz = CPU_MODELS[tier.cpu]
    rotational = tier.disk == "hdd"
    return Hardware(
        cpu_model=model,
        cpu_cores=cores,
        cpu_threads=threads,
        cpu_max_mhz=mhz,
        memory_bytes=tier.memory_gb * 2**30,
        swap_bytes=SWAP_BYTES,
        disks=[
            Disk(
                name=host.disk_device,
                kind=tier.disk,
                size_bytes=host.disk_size_bytes,
                model="ST1000DM010-2EP102" if rotational else "Samsung SSD 980 500GB",
                rotational=rotational,
            )
        ],
        machine_vendor="Dell Inc.",
        machine_model=f"OptiPlex {'3050' if tier.cpu == 'low' else '7070'}",
        bios_date="2019-06-12",
        os_name="Debian GNU/Linux",
        os_version="12 (bookworm)",
        kernel="6.1.0-28-amd64",
        arch="x86_64",
    )


class InventoryBuilder:
    """Builds a host's inventory at a time; caches digests (they change a few times a run)."""

    def __init__(self, fleet: Fleet, host: SimHost) -> None:
        self._fleet = fleet
        self._host = host
        self._hardware = hardware(host)
        # A rollout's version is offered from its start on (to every host, whatever the
        # rollout's from_version: a repository does not know who is meant to upgrade).
        self._published = sorted(
            ((fleet.at(r.start), r) for r in fleet.scenario.rollouts), key=lambda p: p[0]
        )
        self._digests: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def at(self, t: float, collected_at: float) -> Inventory:
        """The inventory at true time ``t``, stamped ``collected_at`` (the host's clock)."""
        host = self._host
        software = list(BASE_PACKAGES)
        installed: dict[str, str] = {}
        for app in self._fleet.scenario.apps:
            version = host.version_at(app.name, t).version
            installed[app.name] = version
            software.append(InstalledPackage(app.package, version, "dpkg", "amd64", app.name))
        # The repository offers the newest version of each app: the last one published.
        candidate: dict[str, str] = {}
        for published, rollout in self._published:
            if published <= t:
                candidate[rollout.app] = rollout.to_version
        upgradable = []
        for app in self._fleet.scenario.apps:
            offered = candidate.get(app.name)
            if offered is not None and offered != installed[app.name]:
                upgradable.append(
                    UpgradablePackage(app.package, installed[app.name], offered, BACKPORTS, "amd64")
                )
        key = (
            tuple(p.version for p in software),
            tuple(f"{u.package}={u.candidate}" for u in upgradable),
        )
        digest = self._digests.get(key)
        if digest is None:
            digest = inventory_digest(self._hardware, software, upgradable)
            self._digests[key] = digest
        return Inventory(
            collected_at=collected_at,
            digest=digest,
            hardware=self._hardware,
            software=software,
            upgradable=upgradable,
        )
