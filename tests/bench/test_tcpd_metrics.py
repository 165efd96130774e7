"""The TCPD metrics (bench/tcpd_metrics.py) on hand-made cases and on published scores."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import pytest

from bench.changepoint_public import DATA, load_series
from bench.tcpd_metrics import covering, f_measure, segments, true_positives


def test_it_pairs_each_prediction_with_one_true_point_at_most() -> None:
    # Two annotated points 2 apart and one prediction between them: one true positive.
    assert true_positives([10, 12], [11]) == 1
    # The earliest prediction goes to the earliest point so that both can be paired.
    assert true_positives([5, 8], [2, 3], margin=5) == 2


def test_it_counts_a_prediction_exactly_at_the_margin_and_not_beyond() -> None:
    assert true_positives([20], [25]) == 1
    assert true_positives([20], [15]) == 1
    assert true_positives([20], [26]) == 0


def test_it_counts_the_start_of_the_series_as_a_change_point_for_everyone() -> None:
    # No prediction: X = {0}, matched by the 0 every annotator also holds, so P = 1;
    # recall is the mean of 1 / |T_k|: (1/2 + 1/3) / 2 = 5/12.
    f1, precision, recall = f_measure({"a": [10], "b": [10, 20]}, [])
    assert precision == 1.0
    assert recall == pytest.approx(5 / 12)
    assert f1 == pytest.approx(2 * (5 / 12) / (1 + 5 / 12))
    # An annotator who marked nothing is fully recalled by any prediction.
    assert f_measure({"a": []}, []) == (1.0, 1.0, 1.0)
    # A predicted 0 is the trivial point, not a second prediction.
    assert f_measure({"a": [10]}, [0, 10]) == f_measure({"a": [10]}, [10])


def test_it_scores_precision_against_the_union_and_recall_per_annotator() -> None:
    # X = {0, 11}; T* = {0, 10, 20}: TP = 2, P = 2/2. Recall (2/2 + 2/3) / 2 = 5/6.
    f1, precision, recall = f_measure({"a": [10], "b": [10, 20]}, [11])
    assert precision == 1.0
    assert recall == pytest.approx(5 / 6)
    assert f1 == pytest.approx(10 / 11)
    # A second prediction near the same point is a false positive: P = 2/3.
    assert f_measure({"a": [10]}, [9, 11])[1] == pytest.approx(2 / 3)


def test_it_splits_a_series_into_half_open_segments() -> None:
    assert segments([], 5) == [(0, 5)]
    assert segments([0, 3, 3, 5, 7], 5) == [(0, 3), (3, 5)]


def test_it_computes_the_covering_of_each_annotator_and_averages_it() -> None:
    # Prediction [0, 11) [11, 30). Annotator a: [0, 10) [10, 30) ->
    # (10 * 10/11 + 20 * 19/20) / 30. Annotator b: [0, 10) [10, 20) [20, 30) ->
    # (10 * 10/11 + 10 * 9/20 + 10 * 10/19) / 30.
    a = (10 * Fraction(10, 11) + 20 * Fraction(19, 20)) / 30
    b = (10 * Fraction(10, 11) + 10 * Fraction(9, 20) + 10 * Fraction(10, 19)) / 30
    assert covering({"a": [10], "b": [10, 20]}, [11], 30) == pytest.approx(float((a + b) / 2))
    assert covering({"a": [10]}, [10], 30) == 1.0
    # No prediction: one segment; its best overlap with [0, 10) is 10/30.
    assert covering({"a": [10]}, [], 30) == pytest.approx((10 * (10 / 30) + 20 * (20 / 30)) / 30)


def test_it_refuses_an_empty_set_of_annotators() -> None:
    with pytest.raises(ValueError, match="annotator"):
        f_measure({}, [1])
    with pytest.raises(ValueError, match="annotator"):
        covering({}, [1], 10)


def test_it_reproduces_the_published_scores_of_the_zero_baseline_on_every_series() -> None:
    published = json.loads((DATA / "published_default.json").read_text())["per_series"]
    series = load_series(DATA)
    assert len(series) >= 20
    for s in series:
        assert f_measure(s.annotations, [])[0] == pytest.approx(
            published["f1"][s.name]["zero"], abs=1e-12
        ), s.name
        assert covering(s.annotations, [], s.values.size) == pytest.approx(
            published["cover"][s.name]["zero"], abs=1e-12
        ), s.name


@pytest.mark.parametrize(
    ("name", "found", "f1", "cover"),
    [
        # TCPDBench abed_results/<name>/default_bocpd/*.json "cplocations", scored in
        # analysis/output/scores/default_{f1,cover}_scores.json.
        ("gdp_iran", [0, 10, 43], 0.6222222222222222, 0.5201802507836991),
        ("construction", [0, 64, 136, 191, 244, 268], 0.6341463414634146, 0.39527377713373163),
    ],
)
def test_it_reproduces_published_scores_of_a_real_method(
    name: str, found: list[int], f1: float, cover: float
) -> None:
    s = next(s for s in load_series(DATA) if s.name == name)
    assert f_measure(s.annotations, found)[0] == pytest.approx(f1, abs=1e-12)
    assert covering(s.annotations, found, s.values.size) == pytest.approx(cover, abs=1e-12)


def test_the_kept_data_files_are_the_published_bytes() -> None:
    # checksums.json of alan-turing-institute/TCPD (md5 of each dataset file).
    sums = json.loads((DATA / "checksums.json").read_text())["checksums"]
    files = sorted(Path(DATA / "datasets").glob("*.json"))
    assert files
    for path in files:
        assert hashlib.md5(path.read_bytes()).hexdigest() == sums[path.name], path.name  # noqa: S324
