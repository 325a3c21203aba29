"""Threshold-free metrics of a score: precision-recall and ROC curves.

A binary problem is a positive/negative label per sample and a score (higher
means "more positive").  Sweeping a threshold over the distinct scores gives
one (precision, recall) or (false positive rate, true positive rate) point per
threshold.  The curves and areas are computed by `sklearn.metrics`; these
wrappers check the inputs (a mistake raises `ConfigError`) and state
scikit-learn's conventions for degenerate inputs (no positive or no negative
sample) as results instead of warnings or exceptions.  ROC
curves and AUROC are also the standard measure of out-of-distribution
detection, with "in-distribution" as the positive class.

References
----------
Davis, J. and Goadrich, M. (2006). The relationship between precision-recall
and ROC curves. ICML.
Fawcett, T. (2006). An introduction to ROC analysis. Pattern Recognition Letters 27(8).
Hendrycks, D. and Gimpel, K. (2017). A baseline for detecting misclassified and
out-of-distribution examples in neural networks. ICLR.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from cnnlab.metrics._checks import (
    check_binary,
    check_labels,
    check_same_length,
    check_scores,
    resolve_num_classes,
)


class PRCurve(NamedTuple):
    """A precision-recall curve and its average precision."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    average_precision: float


def _binary(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = check_binary("y_true", y_true)
    scores = check_scores("scores", scores, ndim=1)
    check_same_length(y_true=y_true, scores=scores)
    return y_true, scores


def _quietly(metric, *args, **kwargs):
    """Call a scikit-learn metric whose degenerate-input warnings the docstrings document."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", "No positive class found", UserWarning)
        return metric(*args, **kwargs)


def precision_recall_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold.

    At threshold ``t``, ``P(t) = TP(t) / (TP(t) + FP(t))`` and
    ``R(t) = TP(t) / (TP + FN)``, where a sample counts as predicted positive
    when its score is ``>= t`` (`sklearn.metrics.precision_recall_curve`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for positive, 0 for negative samples.
    scores : array-like of shape (n_samples,)
        Higher means more likely positive.

    Returns
    -------
    precision, recall : np.ndarray of shape (n_thresholds + 1,)
        Recall decreases; the last point is (precision=1, recall=0) by
        convention.  With no positive sample, recall is 1 everywhere.
    thresholds : np.ndarray of shape (n_thresholds,)
        Increasing distinct scores; ``precision[i]`` and ``recall[i]`` belong
        to predicting positive when ``score >= thresholds[i]``.
    """
    y_true, scores = _binary(y_true, scores)
    return _quietly(skm.precision_recall_curve, y_true, scores)


def average_precision(y_true: Any, scores: Any) -> float:
    """Area under the precision-recall step function.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over thresholds, without interpolation
    (`sklearn.metrics.average_precision_score`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for positive, 0 for negative samples.
    scores : array-like of shape (n_samples,)
        Higher means more likely positive.

    Returns
    -------
    float
        Average precision in [0, 1]; 0 when there is no positive sample.
    """
    y_true, scores = _binary(y_true, scores)
    return float(_quietly(skm.average_precision_score, y_true, scores))


def one_vs_rest_pr_curves(
    y_true: Any, scores: Any, num_classes: int | None = None
) -> list[PRCurve]:
    """One precision-recall curve per class, that class against all others.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class indices.
    scores : array-like of shape (n_samples, n_classes)
        Class scores; column ``c`` is the score of class ``c``.
    num_classes : int, optional
        Number of classes; defaults to ``scores.shape[1]``.

    Returns
    -------
    list of PRCurve
        ``curves[c]`` holds precision, recall, thresholds and average
        precision of class ``c``.  Their mean average precision is the
        macro-averaged AP (mAP).
    """
    y_true = check_labels("y_true", y_true)
    scores = check_scores("scores", scores, ndim=2)
    check_same_length(y_true=y_true, scores=scores)
    n = resolve_num_classes(num_classes or scores.shape[1], y_true)
    return [
        PRCurve(
            *precision_recall_curve(y_true == c, scores[:, c]),
            average_precision(y_true == c, scores[:, c]),
        )
        for c in range(n)
    ]


def roc_curve(
    y_true: Any, scores: Any, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic: true vs false positive rate per threshold.

    ``TPR(t) = TP(t) / (TP + FN)`` and ``FPR(t) = FP(t) / (FP + TN)``, with
    samples scored ``>= t`` predicted positive (`sklearn.metrics.roc_curve`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for positive, 0 for negative samples.
    scores : array-like of shape (n_samples,)
        Higher means more likely positive.
    drop_intermediate : bool
        Drop thresholds on straight segments of the curve (they do not change
        its shape or area), as scikit-learn does by default.

    Returns
    -------
    fpr, tpr : np.ndarray of shape (n_thresholds,)
        Increasing rates, starting at (0, 0).  NaN when there is no negative
        (for ``fpr``) or no positive (for ``tpr``) sample.
    thresholds : np.ndarray of shape (n_thresholds,)
        Decreasing thresholds; the first is ``inf`` (nothing predicted positive).
    """
    y_true, scores = _binary(y_true, scores)
    return _quietly(skm.roc_curve, y_true, scores, drop_intermediate=drop_intermediate)


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (AUROC), by the trapezoidal rule.

    ``AUC = sum_i (FPR_i - FPR_{i-1}) (TPR_i + TPR_{i-1}) / 2``
    (`sklearn.metrics.roc_auc_score`).

    Equals the probability that a random positive scores higher than a random
    negative (ties count one half).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for positive, 0 for negative samples.
    scores : array-like of shape (n_samples,)
        Higher means more likely positive.

    Returns
    -------
    float
        AUROC in [0, 1]; NaN when only one class is present in ``y_true``.
    """
    y_true, scores = _binary(y_true, scores)
    if len(np.unique(y_true)) < 2:
        return float("nan")  # scikit-learn raises: the area needs positives and negatives
    return float(skm.roc_auc_score(y_true, scores))
