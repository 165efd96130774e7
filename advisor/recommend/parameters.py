"""Every threshold and assumption of the recommendation engine, with why it is set so.

One frozen value, passed to :func:`advisor.recommend.engine.recommend`; the defaults are the
documented ones (docs/analysis.md, "Recommendations").

>>> RecommendParameters().horizon_years, RecommendParameters(risk_aversion=0.0).risk_aversion
(3, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["DEFAULT_DOWNTIME_HOURS", "RecommendParameters"]

DEFAULT_DOWNTIME_HOURS: dict[str, Decimal] = {
    # An app pushed by the package manager restarts once: a few minutes of the user's time.
    "package_manager": Decimal("0.05"),
    # A vendor installer runs while the user waits (or works on something else, partly).
    "installer": Decimal("0.25"),
    "reimage": Decimal("2.0"),
    # Hardware: the machine is off while IT works on it (costs.toml install_hours).
    "ram": Decimal("0.5"),
    "ssd": Decimal("1.5"),
    "replace": Decimal("3.0"),
}
"""Hours of a user's working time lost per seat while a change is made, by roll-out method.
Estimates: costs.toml has no such table yet (the IT side is its ``install_hours``)."""


@dataclass(frozen=True)
class RecommendParameters:
    """Thresholds of one recommendation run; the defaults are the documented ones."""

    # --- what the facts read (advisor.recommend.facts) ---
    recent_days: int = 14  # a host's current level and pressure: its last 14 days
    min_level_days: int = 3  # fewer days with launches of a kind: no level for it

    # --- the evidence model (advisor.recommend.evidence) ---
    max_model_hosts: int = 2000  # hosts per app and start kind (rare levels all kept)
    n_resamples: int = 200  # bootstrap resamples over hosts
    confidence: float = 0.95
    seed: int = 0
    min_evidence_hosts: int = 3  # hosts already on the target, at least, for any evidence
    # fewer hosts on the target than this, or an interval reaching 0: a pilot first
    strong_evidence_hosts: int = 10
    fallback_widen: float = 2.0  # a finding's own effect stands in: its interval twice as wide

    # --- hardware (advisor.recommend.remedies) ---
    ram_module: str = "DDR4"  # module type of a host whose type is not known (price per GB)
    ram_target_gib: int | None = None  # None: the fleet's standard (see remedies)
    ssd_min_gb: int = 500  # the smallest SSD worth buying when a disk's size is unknown
    machine_class: str = "office-desktop"  # price list class of a replacement
    old_max_ram_gib: float = 4.0  # HDD, at most this RAM and at most old_max_cores: old
    old_max_cores: float = 2.0
    # A host below both is calm in memory: the fleet's standard RAM is the most common size
    # among such hosts (the analysis counts a rise of 0.05 memory PSI as pressure).
    calm_memory_pressure: float = 0.05
    calm_swap_mb: float = 0.5

    # --- cost (advisor.recommend.pricing) ---
    upgrade_method: str = "package_manager"  # roll-out method of a software change
    downtime_hours: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_DOWNTIME_HOURS))
    horizon_years: int = 3  # a change is judged over this many years (hardware, a release)

    # --- risk and rank (advisor.recommend.ranking) ---
    risk_aversion: float = 0.5  # share of the way from the estimate to the interval's low end
    finding_weight: float = 0.75  # belief in a saving read off the finding, not the fleet
    maturity_days: int = 90  # a vendor version younger than this carries a newness risk
    newness_penalty: float = 0.3  # ... of at most 30 % (a version released today)

    # --- pilots (advisor.recommend.pilot) ---
    pilot_min_hosts: int = 6
    pilot_max_hosts: int = 30
    pilot_max_days: int = 56
    pilot_alpha: float = 0.05
    pilot_power: float = 0.8
