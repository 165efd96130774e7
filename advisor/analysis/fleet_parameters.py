"""Every threshold of the fleet analysis (:mod:`advisor.analysis.fleet`), with why it is set so.

The defaults were chosen on the simulator (docs/simulator.md, docs/analysis.md "Fleet
analysis"): they find the issue's target (shifts of 20 % or more with at least 30 launches
after) and flag nothing on its must-not-flag events (a short outage, noisy hosts, weekends).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FleetParameters"]


@dataclass(frozen=True, slots=True)
class FleetParameters:
    """Thresholds of one fleet analysis run; the defaults are the documented ones.

    >>> FleetParameters().alpha, FleetParameters(min_effect=0.2).min_effect
    (0.05, 0.2)
    """

    # --- what becomes a finding (every kind) ---
    alpha: float = 0.05  # Benjamini-Hochberg false discovery rate across all tests of a run
    min_effect: float = 0.10  # smallest relative change of the median worth a finding
    confidence: float = 0.95  # of the effect intervals
    n_resamples: int = 499  # bootstrap resamples over hosts (intervals of reported findings)
    seed: int = 0  # bootstrap and subsampling seed: the same data give the same findings

    # --- what is read ---
    horizon_days: int = 90  # launches older than this (before ``now``) are left out
    min_hosts: int = 3  # fewest hosts behind any finding (a cohort, a rollout, a tier)
    # A day with fewer launches than this share of a usual day's (a weekend, a holiday, the
    # morning of ``now``) is left out of every series and pressure window: its medians come
    # from a few always-on machines and its machines idle (fleet_cells.working_days).
    working_day_share: float = 0.5

    # --- version changes (per host before/after its own change time) ---
    window_days: float = 14.0  # launches compared either side of a host's change
    min_before: int = 5  # a host needs this many launches before (its own baseline)
    min_after: int = 30  # launches after the change, pooled over hosts (the rule)
    min_control_hosts: int = 5  # hosts that did not move, to tell a version from the period

    # --- change points and trends on daily medians per app and department ---
    min_hosts_per_day: int = 3  # a day's median over fewer hosts is missing, not a point
    min_days: int = 30  # fewest observed days for a series to be searched
    min_segment_days: int = 10  # a level held fewer days is a burst (an outage), not a change
    penalty_factor: float = 3.0  # change-point penalty (advisor.analysis.changepoints)
    test_days: int = 14  # days either side of a change point in its per-host test
    rollout_margin_days: float = 3.0  # a change point this close to a rollout is the rollout
    host_candidates: int = 10  # per app, hosts whose level moved most get their own search
    # A trend's ``since``: the start of the CUSUM excursion still under way at the end, in
    # noise scales of the daily series; without one, a broken-stick fit. An allowance of one
    # scale (not Page's usual half) lets a few noisy days before a slow drift drain away
    # instead of carrying over, at the price of a start a few days late.
    onset_allowance: float = 1.0
    onset_threshold: float = 5.0

    # --- resource pressure: early against late period per host ---
    # Length of the early and the late period compared. A pressure still ramping up is
    # measured half a period behind; a 7-day late period halves that lag but doubles the
    # spread of the estimate (fleetframes, 16 hosts: SD 0.032 against 0.016 on the log
    # scale, 23 of 26 intervals covering against 24 of 24).
    period_days: int = 14
    memory_rise: float = 0.05  # rise of PSI memory "some" share that counts as pressure
    swap_rise: float = 5e5  # rise of swap-in, bytes per second
    io_rise: float = 0.05  # rise of PSI io "some" share
    # rise of PSI cpu "some" share; calm hosts' rises stay within +-0.003 (simulator, 99 %),
    # and 0.05 named a drifting app's cause weeks after the drift was found
    cpu_rise: float = 0.02
    # A pressure that rose on at least this share of the hosts measuring it rose on the fleet
    # (an agent or antivirus update, an app's growing background work): every host went
    # through it, so it is no reason to leave a host out of the calm ones, nor a cause told
    # apart by comparing hosts (the trend and change-point search see it).
    fleet_wide_rise: float = 0.8

    # --- cohort model (advisor.analysis.cohorts) ---
    cohort_max_hosts: int = 1000  # hosts sampled per app for the model (seeded)
    min_tier_hosts: int = 5  # fewest hosts in a hardware tier for a tier finding
    # Hardware indicators whose host sets have at least this Jaccard index are one tier: a
    # model cannot separate attributes that (nearly) always come together, and fitted apart
    # their effects trade places from run to run.
    alias_jaccard: float = 0.9
