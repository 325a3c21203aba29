"""Threshold-free metrics of a score: precision-recall and ROC curves.

A binary problem is a positive/negative label per sample and a score (higher
means "more positive").  Sweeping a threshold over the distinct scores gives
one (precision, recall) or (false positive rate, true positive rate) point per
threshold.  All curves are computed from one sort and a cumulative sum, with
the conventions of :mod:`sklearn.metrics` (and are tested against it).  ROC
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

from typing import Any, NamedTuple

import numpy as np

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


def _binary_counts(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives when thresholding at each distinct score.

    Returns ``(fps, tps, thresholds)`` with thresholds in decreasing order; a
    sample counts as positive when its score is >= the threshold.
    """
    y_true = check_binary("y_true", y_true)
    scores = check_scores("scores", scores, ndim=1)
    check_same_length(y_true=y_true, scores=scores)
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, y_true = scores[order], y_true[order]
    # The last index of each run of equal scores: thresholds are distinct values only.
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(y_true, dtype=np.float64)[last]
    fps = 1.0 + last - tps
    return fps, tps, scores[last]


def precision_recall_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold.

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
    fps, tps, thresholds = _binary_counts(y_true, scores)
    predicted = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, predicted, out=precision, where=predicted != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def _step_area(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under a precision-recall step function (recall decreasing, ends at 0)."""
    # max() clips the -0.0 that rounding can produce.
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def average_precision(y_true: Any, scores: Any) -> float:
    """Area under the precision-recall step function.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over thresholds, without interpolation
    (as :func:`sklearn.metrics.average_precision_score`).

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
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return _step_area(precision, recall)


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
    curves = []
    for c in range(n):
        precision, recall, thresholds = precision_recall_curve(y_true == c, scores[:, c])
        curves.append(PRCurve(precision, recall, thresholds, _step_area(precision, recall)))
    return curves


def roc_curve(
    y_true: Any, scores: Any, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic: true vs false positive rate per threshold.

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
    fps, tps, thresholds = _binary_counts(y_true, scores)
    if drop_intermediate and len(fps) > 2:
        # A point is a corner unless both counts change at a constant rate around it.
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[corner], tps[corner], thresholds[corner]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds]


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (AUROC), by the trapezoidal rule.

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
    fpr, tpr, _ = roc_curve(y_true, scores, drop_intermediate=True)
    if np.isnan(fpr[-1]) or np.isnan(tpr[-1]):
        return float("nan")
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)
