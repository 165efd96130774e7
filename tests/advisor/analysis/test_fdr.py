from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.analysis.fdr import discoveries, q_values

# Benjamini and Hochberg (1995), section 4: 15 p-values from a clinical trial; at a false
# discovery rate of 0.05 the procedure rejects the four smallest.
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_it_rejects_what_benjamini_and_hochberg_rejected_in_their_example() -> None:
    assert discoveries(BH_1995, alpha=0.05).tolist() == [True] * 4 + [False] * 11


def test_it_returns_q_values_in_the_order_given() -> None:
    shuffled = BH_1995[::-1]
    assert q_values(shuffled).tolist() == q_values(BH_1995)[::-1].tolist()
    assert q_values(BH_1995)[0] == pytest.approx(0.0015)


def test_it_leaves_missing_p_values_out_of_the_count() -> None:
    q = q_values([0.01, math.nan, 0.04])
    assert math.isnan(q[1])
    assert q[[0, 2]].tolist() == pytest.approx(q_values([0.01, 0.04]).tolist())
    assert discoveries([math.nan], alpha=0.05).tolist() == [False]


def test_it_handles_no_tests() -> None:
    assert q_values([]).size == 0


def test_it_keeps_the_false_discovery_rate_across_thousands_of_series() -> None:
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(200):
        null = rng.uniform(size=900)  # series without a change
        real = rng.beta(0.05, 5.0, size=100)  # series with one: small p-values
        found = discoveries(np.r_[null, real], alpha=0.05)
        false = int(found[:900].sum())
        shares.append(false / max(1, int(found.sum())))
    assert float(np.mean(shares)) <= 0.05


def test_it_refuses_an_alpha_outside_zero_and_one() -> None:
    with pytest.raises(ValueError, match="alpha"):
        discoveries([0.1], alpha=1.5)
