"""What a simulated fleet looks like and what happens to it, as plain data.

A :class:`Scenario` names the apps, departments and hardware tiers of a fleet and the scripted
events that happen to it. Event times are *fractions of the simulated period* (``start=0.3``
is 30 % into it), so one scenario fits a 3-day test and a 90-day evaluation alike. Effects are
relative changes of the load time (``0.35`` is 35 % slower, ``-0.25`` a quarter faster) at the
event's full strength; where an event has ``cold_effect`` or ``warm_effect``, those replace
``effect`` for that start kind (a version that slows cold starts only: ``cold_effect=0.35,
warm_effect=0.0``). :func:`default_scenario` covers every kind of event; a TOML file can
describe another (see :mod:`advisor.simulator.scenario_file` and docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DiskKind = Literal["ssd", "hdd"]
CpuClass = Literal["low", "mid", "high"]
Cause = Literal["version", "memory", "swap", "disk_io", "cpu", "hardware_tier"]


@dataclass(frozen=True, slots=True)
class App:
    """A watched application: its package, first version and how it loads.

    ``base_seconds`` is the median warm load time on the reference machine (SSD, 16 GB, mid
    CPU); a cold start takes ``cold_factor`` times longer. ``sigma`` is the log-normal spread.
    """

    name: str
    package: str
    version: str
    base_seconds: float
    launches_per_day: float
    cold_factor: float = 2.0
    sigma: float = 0.25
    ready_signal: str = "cpu_settled"


@dataclass(frozen=True, slots=True)
class Department:
    """A department and its share of the fleet (shares are normalised)."""

    name: str
    share: float


@dataclass(frozen=True, slots=True)
class Tier:
    """A hardware tier and its share of the fleet (shares are normalised).

    Tiers with the same ``cohort`` name are one cohort in the ground truth: one
    ``hardware_tier`` event with the effect of the whole combination (old machines that are
    HDD, 4 GB and a slow CPU at once) against the most common other tier.
    """

    name: str
    share: float
    disk: DiskKind
    memory_gb: int
    cpu: CpuClass
    cohort: str = ""


@dataclass(frozen=True, slots=True)
class VersionRollout:
    """``app`` moves to ``to_version`` on a ``share`` of hosts, spread over ``ramp``.

    With ``pilot_departments``, every host of those departments upgrades first (from
    ``start``, over ``ramp``) and the ``share`` of the others from ``rest_start`` (default:
    when the pilot's ramp ends). With ``from_version``, only hosts that have that version
    when their turn comes move; the others keep what they have (a chain: 26.2.2 -> 26.2.3
    on most hosts, then 26.2.3 -> 26.2.5). A host already on ``to_version`` never moves.

    The effect is the load-time change of the step, against the version each host replaces:
    effects multiply along a chain (+35 % to 26.2.3, then ``1/1.35 - 1`` = -25.9 % to 26.2.5
    is as fast as 26.2.2 again). It belongs to the rollout, not the version: two rollouts of
    one version may differ (fine on the pilot hosts, 30 % slower on the hosts that get it
    later), and each host keeps what the rollout that upgraded it did.
    """

    id: str
    app: str
    to_version: str
    start: float
    ramp: float
    effect: float | None = None
    share: float = 1.0
    departments: tuple[str, ...] = ()
    cold_effect: float | None = None
    warm_effect: float | None = None
    pilot_departments: tuple[str, ...] = ()
    rest_start: float | None = None
    from_version: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryPressure:
    """Memory pressure growing over ``ramp`` on hosts with at most ``max_memory_gb`` of RAM:
    all of them, or ``hosts`` of them (a count), or a ``share`` of them; it slows ``apps``
    (all when empty)."""

    id: str
    start: float
    ramp: float
    effect: float | None = None
    max_memory_gb: int = 4
    apps: tuple[str, ...] = ()
    hosts: int = 0
    share: float = 1.0
    cold_effect: float | None = None
    warm_effect: float | None = None


@dataclass(frozen=True, slots=True)
class DiskFill:
    """The root disk of a ``share`` of hosts with ``disk`` filling up over ``ramp``."""

    id: str
    start: float
    ramp: float
    effect: float | None = None
    share: float = 0.3
    disk: DiskKind = "hdd"
    apps: tuple[str, ...] = ()
    cold_effect: float | None = None
    warm_effect: float | None = None


@dataclass(frozen=True, slots=True)
class SlowTrend:
    """``app`` slows steadily from ``start`` to the end of the run, by ``effect`` in all.

    The cause is CPU: the app's own background work grows (an index, a profile), visible in
    ``app_cpu_utilization_ratio`` and the host's CPU pressure.
    """

    id: str
    app: str
    start: float
    effect: float | None = None
    departments: tuple[str, ...] = ()
    cold_effect: float | None = None
    warm_effect: float | None = None


LoadEvent = VersionRollout | MemoryPressure | DiskFill | SlowTrend
"""The events that change load times (and so have per-start-kind effects)."""


def start_kind_effects(event: LoadEvent) -> tuple[float, float]:
    """The event's effect on cold and on warm starts: ``cold_effect``/``warm_effect`` where
    given, else ``effect`` (0 when neither is: a change that changes nothing)."""
    base = event.effect if event.effect is not None else 0.0
    cold = event.cold_effect if event.cold_effect is not None else base
    warm = event.warm_effect if event.warm_effect is not None else base
    return cold, warm


def headline_effect(event: LoadEvent) -> float:
    """The one effect that stands for the event: ``effect`` when both start kinds have it,
    else the per-start-kind effect of the largest size (cold on a tie)."""
    cold, warm = start_kind_effects(event)
    if cold == warm:
        return cold
    return cold if abs(cold) >= abs(warm) else warm


@dataclass(frozen=True, slots=True)
class AppOutage:
    """A short outage (a file server, a licence server) that must NOT become a finding.

    ``app`` launches in the departments listed take ``slowdown`` times longer or time out,
    for ``minutes`` from ``start`` (moved to 10:00 local time of the nearest working day).
    """

    id: str
    app: str
    start: float
    minutes: float = 45.0
    slowdown: float = 3.0
    timeout_share: float = 0.3
    departments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NoisyHosts:
    """A few hosts whose load times are very noisy but never shift: no finding expected."""

    id: str
    count: int = 3
    sigma_factor: float = 3.0


@dataclass(frozen=True, slots=True)
class DeliveryOutage:
    """The advisor unreachable for ``hours`` from ``start``: batches arrive late, in a burst."""

    id: str
    start: float
    hours: float = 3.0


@dataclass(frozen=True, slots=True)
class Holiday:
    """A public holiday: office machines stay off and always-on ones idle, as at a weekend.

    ``date`` is an ISO date (``"2025-10-03"``; ignored when outside the run) or a fraction
    of the run (the working day at or after that point). Not to flag.
    """

    id: str
    date: str | float


@dataclass(frozen=True, slots=True)
class Reinstall:
    """``count`` machines reinstalled at ``at`` (or when they next run): each comes back under
    a new host id (same hostname and hardware, empty caches: first launches cold) and the old
    id goes silent. Not to flag."""

    id: str
    at: float
    count: int = 1


@dataclass(frozen=True, slots=True)
class Realism:
    """How imperfect the data is. Shares are of hosts, rates of intervals."""

    always_on_share: float = 0.35
    missing_interval_rate: float = 0.005
    no_psi_share: float = 0.1
    skewed_clock_share: float = 0.05
    skew_sigma_seconds: float = 300.0
    badly_skewed_share: float = 0.01
    agent_offline_share: float = 0.03
    agent_offline_days: tuple[float, float] = (1.0, 4.0)
    powered_off_share: float = 0.03
    powered_off_days: tuple[float, float] = (2.0, 8.0)
    failed_launch_rate: float = 0.003
    weekend_usage: float = 0.08
    utc_offset_hours: float = 0.0
    work_hours: tuple[float, float] = (8.0, 17.5)
    time_zone: str = ""  # an IANA zone (Europe/Berlin): its DST replaces utc_offset_hours


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fleet and its scripted events; see the module docstring for the conventions."""

    name: str
    apps: tuple[App, ...]
    departments: tuple[Department, ...]
    tiers: tuple[Tier, ...]
    rollouts: tuple[VersionRollout, ...] = ()
    memory_pressure: tuple[MemoryPressure, ...] = ()
    disk_fills: tuple[DiskFill, ...] = ()
    trends: tuple[SlowTrend, ...] = ()
    outages: tuple[AppOutage, ...] = ()
    noisy_hosts: tuple[NoisyHosts, ...] = ()
    delivery_outages: tuple[DeliveryOutage, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    reinstalls: tuple[Reinstall, ...] = ()
    realism: Realism = field(default_factory=Realism)
    agent_version: str = "0.1.0"

    def app(self, name: str) -> App:
        """The app called ``name``; KeyError if the scenario has none."""
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)


DEFAULT_APPS = (
    App("libreoffice", "libreoffice-core", "4:7.4.7-1+deb12u8", 2.2, 4.0, cold_factor=2.2),
    App("firefox", "firefox-esr", "128.5.0esr-1~deb12u1", 1.4, 3.0, ready_signal="port"),
    App("thunderbird", "thunderbird", "1:128.5.0esr-1~deb12u1", 1.8, 2.0),
    App("gimp", "gimp", "2.10.34-1+deb12u2", 3.5, 0.6, cold_factor=2.5, sigma=0.3),
    App("evince", "evince", "43.1-2+b1", 0.6, 3.0, cold_factor=1.8),
)
DEFAULT_DEPARTMENTS = (
    Department("finance", 0.3),
    Department("engineering", 0.25),
    Department("sales", 0.25),
    Department("hr", 0.2),
)
DEFAULT_TIERS = (
    Tier("legacy-hdd-4g", 0.12, "hdd", 4, "low"),
    Tier("office-hdd-8g", 0.18, "hdd", 8, "mid"),
    Tier("office-ssd-4g", 0.1, "ssd", 4, "mid"),
    Tier("office-ssd-8g", 0.3, "ssd", 8, "mid"),
    Tier("standard-ssd-16g", 0.22, "ssd", 16, "mid"),
    Tier("power-ssd-32g", 0.08, "ssd", 32, "high"),
)


def default_scenario() -> Scenario:
    """Every kind of scripted event once: the scenario `make demo` and the evaluation use."""
    return Scenario(
        name="default",
        apps=DEFAULT_APPS,
        departments=DEFAULT_DEPARTMENTS,
        tiers=DEFAULT_TIERS,
        rollouts=(
            VersionRollout(
                "libreoffice-7.5-slower",
                app="libreoffice",
                to_version="4:7.5.9-1~bpo12+1",
                effect=0.35,
                start=0.35,
                ramp=0.15,
                share=0.8,
            ),
            VersionRollout(
                "firefox-140-faster",
                app="firefox",
                to_version="140.3.0esr-1~deb12u1",
                effect=-0.25,
                start=0.55,
                ramp=0.1,
            ),
        ),
        memory_pressure=(
            MemoryPressure("low-ram-memory-pressure", effect=0.5, start=0.3, ramp=0.4),
        ),
        disk_fills=(DiskFill("hdd-disks-filling", effect=0.4, start=0.2, ramp=0.5, share=0.3),),
        trends=(
            SlowTrend(
                "thunderbird-slow-trend",
                app="thunderbird",
                effect=0.3,
                start=0.1,
                departments=("engineering",),
            ),
        ),
        outages=(
            AppOutage(
                "libreoffice-file-server-outage",
                app="libreoffice",
                start=0.45,
                departments=("finance",),
            ),
        ),
        noisy_hosts=(NoisyHosts("noisy-hosts"),),
        delivery_outages=(DeliveryOutage("advisor-unreachable", start=0.62),),
    )


# Fifteen more office and engineering apps, for the scale run's 20 (names and versions as
# Debian 12 ships them); usage is lighter than the five main apps'.
SCALE_APPS = (
    App("chromium", "chromium", "131.0.6778.85-1~deb12u1", 1.2, 2.0, ready_signal="port"),
    App("vscode", "code", "1.95.3-1731513102", 2.8, 2.0, cold_factor=2.3, sigma=0.3),
    App("nautilus", "nautilus", "43.2-1", 0.5, 3.0, cold_factor=1.6),
    App("gnome-terminal", "gnome-terminal", "3.46.8-1", 0.4, 3.0, cold_factor=1.5),
    App("gedit", "gedit", "43.2-2", 0.7, 1.5),
    App("inkscape", "inkscape", "1.2.2-2+b1", 4.0, 0.3, cold_factor=2.5, sigma=0.3),
    App("vlc", "vlc", "3.0.21-0+deb12u1", 1.0, 0.6),
    App("keepassxc", "keepassxc", "2.7.4+dfsg.1-2", 0.9, 1.0),
    App("remmina", "remmina", "1.4.29+dfsg-1", 1.1, 1.0),
    App("zoom", "zoom", "6.2.11.5069", 3.0, 1.5, cold_factor=2.0, sigma=0.3),
    App("teams", "teams-for-linux", "1.11.3", 3.5, 1.5, cold_factor=2.2, sigma=0.3),
    App("slack", "slack-desktop", "4.41.105", 2.5, 1.0, cold_factor=2.1),
    App("okular", "okular", "4:22.12.3-1", 0.9, 1.0, cold_factor=1.8),
    App("calc-java", "openjdk-17-jre", "17.0.13+11-2~deb12u1", 2.0, 0.5, cold_factor=2.4),
    App("dbeaver", "dbeaver-ce", "24.2.5", 5.0, 0.4, cold_factor=2.5, sigma=0.3),
)


def scale_scenario() -> Scenario:
    """The default scenario's events on 20 apps: the scale benchmark's fleet."""
    default = default_scenario()
    return Scenario(
        name="scale-20-apps",
        apps=DEFAULT_APPS + SCALE_APPS,
        departments=default.departments,
        tiers=default.tiers,
        rollouts=default.rollouts,
        memory_pressure=default.memory_pressure,
        disk_fills=default.disk_fills,
        trends=default.trends,
        outages=default.outages,
        noisy_hosts=default.noisy_hosts,
        delivery_outages=default.delivery_outages,
        realism=default.realism,
    )
