"""The rank: expected net benefit a year, adjusted for risk.

With B the expected benefit a year and B_low its interval's low end (money, from
:mod:`advisor.recommend.benefit`), R the recurring and O the one-off cost
(:mod:`advisor.recommend.pricing`) and H the horizon in years::

    risk-adjusted benefit  A = p_evidence * p_version * (B - risk_aversion * (B - B_low))
    score                  S = A - R - O / H

and recommendations are ranked by S, highest first (ties by key). Why each part:

- **interval width**: ``B - risk_aversion * (B - B_low)`` moves the estimate towards the
  interval's low end by ``risk_aversion`` (0.5) of the way. For a 95 % interval of a
  normal estimate that is the estimate less one standard error: the benefit there is about
  an 84 % chance to beat. Two savings of one expected size rank by how sure the fleet is of
  them, and a saving whose interval reaches below zero can score below its cost.
- **no evidence**: ``p_evidence`` is 1 for the fleet's own evidence (hosts already on the
  target, the model), ``finding_weight`` (0.75) when a finding's effect stands in for the
  saving (it measured what happened, not what the remedy will do), and 0 without either:
  such a recommendation ranks by its cost alone, below everything that pays, and is a pilot
  (:mod:`advisor.recommend.pilot`) whose measurement will give it a benefit.
- **how new the vendor version is**: a version out for less than ``maturity_days`` (90)
  has had less time to show its bugs; ``p_version = 1 - newness_penalty * (1 - age /
  maturity_days)``, so a release of today counts 0.7, one of 45 days 0.85 and an older one
  1. A release date the catalog does not know counts as half-way (0.85). Roll-backs (a
  version the hosts ran) and hardware count 1.
- **costs** are certain (priced): the one-off cost spread over the horizon, as the net
  benefit a year (:func:`advisor.recommend.pricing.economics`), so the score is the net
  benefit a year with the benefit discounted for risk; the budget planner reads the same
  risk-adjusted benefit (:func:`budget_item`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from advisor.recommend.benefit import Benefit
from advisor.recommend.budget import BudgetItem
from advisor.recommend.impact import CENT
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.pricing import Cost
from advisor.recommend.remedy import Remedy
from advisor.recommend.vendor import VendorCatalog

__all__ = ["Risk", "assess", "budget_item", "p_version", "score"]


@dataclass(frozen=True, slots=True)
class Risk:
    """The parts of a recommendation's score (module docstring)."""

    p_evidence: float
    p_version: float
    version_age_days: int | None
    interval_share: float | None  # (B - B_low) / B: how far the low end is below B
    risk_adjusted_benefit: Decimal
    score: float


def p_version(age_days: int | None, params: RecommendParameters) -> float:
    """The belief in a vendor version ``age_days`` old (None: unknown).

    >>> params = RecommendParameters()
    >>> p_version(0, params), p_version(45, params), p_version(400, params), p_version(None, params)
    (0.7, 0.85, 1.0, 0.85)
    """
    if age_days is None:
        return round(1 - params.newness_penalty / 2, 6)
    young = max(0.0, 1 - age_days / params.maturity_days)
    return round(1 - params.newness_penalty * young, 6)


def score(adjusted: Decimal, price: Cost, horizon_years: int) -> float:
    """``A - R - O / H`` (module docstring).

    >>> from decimal import Decimal as D
    >>> score(D("900"), Cost("USD", D("300"), D("100"), (), True), 3)
    700.0
    """
    return float(adjusted - price.recurring_per_year - price.one_off / horizon_years)


def assess(
    remedy: Remedy,
    benefit: Benefit,
    price: Cost,
    catalog: VendorCatalog,
    *,
    today: dt.date,
    params: RecommendParameters,
) -> Risk:
    """The risk-adjusted benefit and score of ``remedy`` (module docstring)."""
    evidence = {"model": 1.0, "finding": params.finding_weight, "none": 0.0}[benefit.basis]
    age = None
    belief = 1.0
    if remedy.kind in ("upgrade", "end_of_life") and remedy.target_version is not None:
        released = catalog.release_date(remedy.app, remedy.target_version)
        age = (today - released).days if released is not None else None
        belief = p_version(age, params)
    money = benefit.money_per_year
    adjusted = Decimal(0)
    share = None
    if money is not None:
        shrunk = money.estimate - Decimal(repr(params.risk_aversion)) * (money.estimate - money.low)
        adjusted = (Decimal(repr(evidence * belief)) * shrunk).quantize(
            CENT, rounding=ROUND_HALF_EVEN
        )
        if money.estimate > 0:
            share = round(float((money.estimate - money.low) / money.estimate), 4)
    return Risk(
        p_evidence=evidence,
        p_version=belief,
        version_age_days=age,
        interval_share=share,
        risk_adjusted_benefit=adjusted,
        score=score(adjusted, price, params.horizon_years),
    )


def budget_item(
    key: str,
    price: Cost,
    risk: Risk,
    *,
    departments: Sequence[str],
    group: str,
) -> BudgetItem:
    """What the budget planner (:mod:`advisor.recommend.budget`) reads of a
    recommendation: its one-off cost, its risk-adjusted benefit a year less its recurring
    cost, its department when it has one, and its group of alternatives."""
    return BudgetItem(
        key=key,
        cost=price.one_off,
        annual_benefit=risk.risk_adjusted_benefit - price.recurring_per_year,
        department=departments[0] if len(departments) == 1 else None,
        group=group,
    )
