"""Classification metrics agree with scikit-learn, which serves as the oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from cnnlab.errors import ConfigError
from cnnlab.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    format_classification_report,
    most_confident_errors,
    precision_recall_fscore_support,
    top_k_accuracy,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")

# (seed, num_classes, n_samples); classes 0 and num_classes - 1 are kept out of y_pred and
# y_true respectively, so every case has classes absent from one side.
CASES = [(seed, n, size) for seed, (n, size) in enumerate([(2, 40), (3, 7), (5, 60), (10, 200)])]
CASES += [(10 + seed, 7, 50) for seed in range(3)]


def labels(seed: int, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, max(n - 1, 1), size)
    y_pred = np.where(rng.random(size) < 0.5, y_true, rng.integers(1, n, size))
    return y_true, y_pred


@pytest.mark.parametrize(("seed", "n", "size"), CASES)
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_matches_sklearn(seed, n, size, normalize):
    y_true, y_pred = labels(seed, n, size)
    expected = skm.confusion_matrix(y_true, y_pred, labels=range(n), normalize=normalize)
    got = confusion_matrix(y_true, y_pred, num_classes=n, normalize=normalize)
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(("seed", "n", "size"), CASES)
def test_accuracy_matches_sklearn(seed, n, size):
    y_true, y_pred = labels(seed, n, size)
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))


@pytest.mark.parametrize(("seed", "n", "size"), CASES)
@pytest.mark.parametrize("average", [None, "macro", "micro", "weighted"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_precision_recall_fscore_support_matches_sklearn(seed, n, size, average, zero_division):
    y_true, y_pred = labels(seed, n, size)
    expected = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=range(n), average=average, zero_division=zero_division
    )
    got = precision_recall_fscore_support(
        y_true, y_pred, average=average, num_classes=n, zero_division=zero_division
    )
    for g, e in zip(got[:3], expected[:3], strict=True):
        np.testing.assert_allclose(g, e)
    if average is None:
        np.testing.assert_array_equal(got[3], expected[3])
    else:
        assert got[3] is None


@pytest.mark.parametrize(("seed", "n", "size"), [c for c in CASES if c[1] > 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_matches_sklearn(seed, n, size, k):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n, size)
    scores = rng.normal(size=(size, n))
    expected = skm.top_k_accuracy_score(y_true, scores, k=k, labels=range(n))
    assert top_k_accuracy(y_true, scores, k) == pytest.approx(expected)


def test_top_k_accuracy_binary_matches_sklearn_threshold_rule():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 50)
    scores = rng.normal(size=(50, 2))
    expected = skm.top_k_accuracy_score(y_true, scores[:, 1] - scores[:, 0], k=1)
    assert top_k_accuracy(y_true, scores, 1) == pytest.approx(expected)


def test_top_k_accuracy_breaks_ties_like_sklearn():
    y_true = np.array([0, 1, 2, 2, 0])
    scores = np.array([[1, 1, 1], [1, 1, 1], [0, 2, 2], [2, 2, 0], [3, 3, 1.0]])
    for k in (1, 2, 3):
        expected = skm.top_k_accuracy_score(y_true, scores, k=k, labels=range(3))
        assert top_k_accuracy(y_true, scores, k) == pytest.approx(expected)


def test_metrics_accept_torch_tensors():
    y_true, y_pred = labels(0, 5, 60)
    got = confusion_matrix(torch.from_numpy(y_true), torch.from_numpy(y_pred), num_classes=5)
    np.testing.assert_array_equal(got, confusion_matrix(y_true, y_pred, num_classes=5))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "num_classes", "message"),
    [
        ([0, 1, 2], [0, 1], None, "y_true has 3, y_pred has 2"),
        ([0, 1, 3], [0, 1, 1], 3, "outside \\[0, 3\\)"),
        ([], [], None, "empty"),
        ([0, -1], [0, 1], None, "negative"),
        ([0.5, 1], [0, 1], None, "integer"),
    ],
)
def test_bad_labels_raise_config_error(y_true, y_pred, num_classes, message):
    with pytest.raises(ConfigError, match=message):
        confusion_matrix(np.array(y_true), np.array(y_pred), num_classes=num_classes)


def test_unknown_average_names_the_valid_ones():
    with pytest.raises(ConfigError, match="macro"):
        precision_recall_fscore_support([0, 1], [0, 1], average="binary")


def test_top_k_rejects_labels_beyond_score_columns():
    with pytest.raises(ConfigError, match="outside"):
        top_k_accuracy([0, 3], np.zeros((2, 3)), k=1)


def test_most_confident_errors_orders_mistakes_by_confidence():
    y_true = np.array([0, 1, 2, 0])
    probs = np.array([[0.1, 0.9, 0], [0, 1.0, 0], [0.6, 0.4, 0], [0.1, 0.2, 0.7]])
    np.testing.assert_array_equal(most_confident_errors(y_true, probs, n=2), [0, 3])


def test_classification_report_is_json_ready_and_consistent():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 8, 100)
    scores = rng.normal(size=(100, 8))
    y_pred = scores.argmax(axis=1)
    names = [f"c{i}" for i in range(8)]
    report = json.loads(json.dumps(classification_report(y_true, y_pred, scores, names)))
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report["top1_error"] == pytest.approx(1 - report["accuracy"])
    top5 = skm.top_k_accuracy_score(y_true, scores, k=5, labels=range(8))
    assert report["top5_error"] == pytest.approx(1 - top5)
    assert [c["class"] for c in report["per_class"]] == names
    assert report["macro"]["f1"] == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro", labels=range(8))
    )
    assert report["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()
    np.testing.assert_allclose(
        report["confusion_matrix_normalized"],
        skm.confusion_matrix(y_true, y_pred, normalize="true"),
    )


def test_classification_report_omits_top5_for_few_classes():
    report = classification_report([0, 1, 2], [0, 2, 2], np.eye(3))
    assert "top5_error" not in report


def test_format_classification_report_names_every_class():
    names = ["cat", "dog", "bird"]
    text = format_classification_report(
        classification_report([0, 1, 2, 2], [0, 2, 2, 1], None, names)
    )
    assert all(name in text for name in names)
    assert "macro avg" in text and "Confusion matrix" in text
