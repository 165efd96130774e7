"""From findings to remedies: what could fix each problem, for which hosts, and how.

A remedy is a candidate change, not yet valued: its kind, target, hosts, the counterfactual
the evidence model values it by (:class:`~advisor.recommend.evidence.Change`), the findings
behind it and, where logically sound, a finding whose effect stands in for its saving.
Alternatives for the same problem share a ``group``: a budget takes at most one of them.

**Software** (per app and installed version ``V``, the hosts running it now):

- a **regression** (a ``version_change`` finding, slower, caused by the version): upgrade to
  a named vendor version, newer than ``V``, released, in a cycle that is not end-of-life, not
  itself found slower; the fleet's own versions first: among candidates at least
  ``min_evidence_hosts`` hosts already run, the one the model says saves most, when it saves
  anything; else the newest supported. **Roll back** to the version the hosts left (not an
  end-of-life one) when no candidate is proven better; when an unproven upgrade exists the
  two are alternatives (one group);
- an **improvement** (a faster version): the hosts still on the old version upgrade;
- **end of life** (the catalog's verdict on ``V``): the hosts upgrade to a supported version
  (kind ``end_of_life``, category ``lifecycle``); a regression upgrade of an end-of-life
  version is flagged ``end_of_life`` instead.

**Hardware** (per host in use, from findings that name it; a host that launched nothing in
the recent days gets nothing):

- **RAM** where memory or swap pressure findings, or a tier with a small-RAM part, name it
  and its RAM is below the target: the fleet's standard (the most common size among hosts
  without memory pressure) or twice its size if it has that already (``ram_target_gib``
  overrides); the GB to add priced by module type;
- an **SSD** where an HDD host is named by a disk-io pressure finding or an HDD tier; the
  smallest drive in the price list at least the disk's size (or ``ssd_min_gb``);
- **old machines** (HDD, at most ``old_max_ram_gib`` and ``old_max_cores``: causes that stack
  up) get two alternatives instead: RAM and SSD together (``ram_ssd``), or a **replacement**
  by a standard machine (the fleet's most common disk, RAM and cores).

Hardware remedies are grouped per department (a budget buys them department by department)
and their app is ``*``: a faster disk serves every app. Pressure findings make them a
``regression``; a standing tier alone a ``right_sizing`` candidate, shown apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.analysis.findings import Finding
from advisor.catalog.costs import CostSettings
from advisor.recommend.evidence import Evidence
from advisor.recommend.facts import FleetFacts
from advisor.recommend.hardware import hardware_remedies
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.remedy import Category, HardwarePlan, Kind, Remedy
from advisor.recommend.software import software_remedies
from advisor.recommend.vendor import VendorCatalog

__all__ = ["Category", "HardwarePlan", "Kind", "Remedy", "remedies"]


def remedies(
    facts: FleetFacts,
    findings: Sequence[Finding],
    evidence: Evidence,
    catalog: VendorCatalog,
    costs: CostSettings,
    params: RecommendParameters,
) -> list[Remedy]:
    """Every candidate remedy of the run (module docstring), sorted by key."""
    found = software_remedies(facts, findings, evidence, catalog, params)
    found += hardware_remedies(facts, findings, costs, params)
    return sorted(found, key=lambda r: r.key)
