"""Precision-recall and ROC curves agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from cnnlab.errors import ConfigError
from cnnlab.metrics import (
    average_precision,
    one_vs_rest_pr_curves,
    precision_recall_curve,
    roc_auc,
    roc_curve,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning"),
    pytest.mark.filterwarnings("ignore:No positive class found:UserWarning"),
]


def binary_case(seed: int, size: int = 80, tied: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size)
    scores = y * 0.8 + rng.normal(size=size)
    if tied:  # few distinct scores: thresholds with several samples each
        scores = np.round(scores, 0)
    return y, scores


CASES = [(seed, tied) for seed in range(4) for tied in (False, True)]


@pytest.mark.parametrize(("seed", "tied"), CASES)
def test_precision_recall_curve_matches_sklearn(seed, tied):
    y, scores = binary_case(seed, tied=tied)
    for got, expected in zip(
        precision_recall_curve(y, scores), skm.precision_recall_curve(y, scores), strict=True
    ):
        np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(("seed", "tied"), CASES)
def test_average_precision_matches_sklearn(seed, tied):
    y, scores = binary_case(seed, tied=tied)
    assert average_precision(y, scores) == pytest.approx(skm.average_precision_score(y, scores))


@pytest.mark.parametrize(("seed", "tied"), CASES)
@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_curve_matches_sklearn(seed, tied, drop_intermediate):
    y, scores = binary_case(seed, tied=tied)
    expected = skm.roc_curve(y, scores, drop_intermediate=drop_intermediate)
    got = roc_curve(y, scores, drop_intermediate=drop_intermediate)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e)


@pytest.mark.parametrize(("seed", "tied"), CASES)
def test_roc_auc_matches_sklearn(seed, tied):
    y, scores = binary_case(seed, tied=tied)
    assert roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))


def test_curves_with_only_negatives_follow_sklearn_conventions():
    y, scores = np.zeros(10, dtype=int), np.linspace(0, 1, 10)
    for got, expected in zip(
        precision_recall_curve(y, scores), skm.precision_recall_curve(y, scores), strict=True
    ):
        np.testing.assert_allclose(got, expected)
    assert average_precision(y, scores) == pytest.approx(skm.average_precision_score(y, scores))
    assert np.isnan(roc_auc(y, scores))


@pytest.mark.parametrize("seed", range(3))
def test_one_vs_rest_curves_match_sklearn_per_class(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 100)
    scores = rng.normal(size=(100, 5))  # class 4 never occurs
    curves = one_vs_rest_pr_curves(y, scores, num_classes=5)
    assert len(curves) == 5
    for c, curve in enumerate(curves):
        expected = skm.precision_recall_curve(y == c, scores[:, c])
        for got, e in zip(curve[:3], expected, strict=True):
            np.testing.assert_allclose(got, e)
        assert curve.average_precision == pytest.approx(
            skm.average_precision_score(y == c, scores[:, c])
        )


@pytest.mark.parametrize(
    ("y", "scores", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "binary"),
        ([0, 1], [0.1, 0.2, 0.3], "y_true has 2, scores has 3"),
        ([], [], "empty"),
        ([0, 1], [0.1, np.nan], "NaN"),
    ],
)
def test_bad_binary_inputs_raise_config_error(y, scores, message):
    with pytest.raises(ConfigError, match=message):
        precision_recall_curve(np.array(y), np.array(scores))
