"""Classification metrics from hard predictions and class scores.

Thin wrappers over `sklearn.metrics` that keep cnnlab's conventions:
inputs may be tensors, arrays or sequences and are checked first (a mistake
raises `ConfigError` naming the value, not a scikit-learn traceback),
and classes are the integers ``0 .. num_classes - 1`` -- every class in that
range counts, including those absent from both ``y_true`` and ``y_pred``
(``labels=range(num_classes)`` is passed to scikit-learn).

References
----------
Sokolova, M. and Lapalme, G. (2009). A systematic analysis of performance
measures for classification tasks. Information Processing & Management 45(4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from cnnlab.errors import ConfigError, check_choice
from cnnlab.metrics._checks import (
    check_labels,
    check_same_length,
    check_scores,
    resolve_num_classes,
)
from cnnlab.metrics.intervals import wilson_interval

_AVERAGES = ("macro", "micro", "weighted")
_NORMALIZE = ("true", "pred", "all")


def _labels_pair(y_true: Any, y_pred: Any, num_classes: int | None):
    y_true = check_labels("y_true", y_true)
    y_pred = check_labels("y_pred", y_pred)
    check_same_length(y_true=y_true, y_pred=y_pred)
    return y_true, y_pred, resolve_num_classes(num_classes, y_true, y_pred)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    num_classes: int | None = None,
    normalize: str | None = None,
) -> np.ndarray:
    """Count how often class ``i`` was predicted as class ``j``.

    ``C[i, j] = #{n : y_n = i and ŷ_n = j}``; computed by
    `sklearn.metrics.confusion_matrix`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class indices.
    num_classes : int, optional
        Number of classes; inferred as the largest label + 1 when omitted.
    normalize : {None, 'true', 'pred', 'all'}
        Divide by the row sums (recall per class on the diagonal), the column
        sums (precision on the diagonal) or the total.  Rows or columns with no
        samples become 0.

    Returns
    -------
    np.ndarray of shape (num_classes, num_classes)
        ``C[i, j]`` = samples of true class ``i`` predicted as ``j``; int64
        counts, or float64 when normalized.
    """
    if normalize is not None:
        check_choice("normalize mode", normalize, _NORMALIZE)
    y_true, y_pred, n = _labels_pair(y_true, y_pred, num_classes)
    cm = skm.confusion_matrix(y_true, y_pred, labels=np.arange(n), normalize=normalize)
    return cm.astype(np.float64 if normalize else np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose prediction equals the true class, ``(1/N) Σ_n [ŷ_n = y_n]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class indices.

    Returns
    -------
    float
        Accuracy in [0, 1] (`sklearn.metrics.accuracy_score`).
    """
    y_true = check_labels("y_true", y_true)
    y_pred = check_labels("y_pred", y_pred)
    check_same_length(y_true=y_true, y_pred=y_pred)
    return float(skm.accuracy_score(y_true, y_pred))


def precision_recall_fscore_support(
    y_true: Any,
    y_pred: Any,
    average: str | None = None,
    num_classes: int | None = None,
    zero_division: float = 0.0,
) -> tuple[Any, Any, Any, np.ndarray | None]:
    """Precision, recall, F1 score and support, per class or averaged.

    For class ``c`` with ``TP`` true positives, ``FP`` false positives and
    ``FN`` false negatives: precision ``P = TP / (TP + FP)``, recall
    ``R = TP / (TP + FN)`` and ``F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN)``
    (defined whenever the class occurs in ``y_true`` or ``y_pred``).  Computed
    by `sklearn.metrics.precision_recall_fscore_support`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class indices.
    average : {None, 'macro', 'micro', 'weighted'}
        ``None`` returns one value per class.  ``'macro'`` is the unweighted
        mean over classes, ``'weighted'`` weights each class by its support,
        ``'micro'`` pools all decisions (equal to accuracy for single-label
        classification).
    num_classes : int, optional
        Number of classes; inferred as the largest label + 1 when omitted.
    zero_division : {0.0, 1.0, nan}
        Value for a ratio whose denominator is 0 (a class never predicted has
        undefined precision).  With ``nan`` such classes are left out of the
        averages.

    Returns
    -------
    precision, recall, f1 : np.ndarray of shape (num_classes,) or float
    support : np.ndarray of shape (num_classes,), or None when averaged
        Number of true samples of each class.

    References
    ----------
    van Rijsbergen, C. J. (1979). Information Retrieval, 2nd ed., chapter 7 (F-measure).
    """
    if average is not None:
        check_choice("average", average, _AVERAGES)
    if not (zero_division in (0.0, 1.0) or np.isnan(zero_division)):
        raise ConfigError(f"zero_division must be 0.0, 1.0 or nan, got {zero_division!r}.")
    y_true, y_pred, n = _labels_pair(y_true, y_pred, num_classes)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n), average=average, zero_division=zero_division
    )
    if average is None:
        return precision, recall, f1, support.astype(np.int64)
    return float(precision), float(recall), float(f1), None


def top_k_accuracy(y_true: Any, scores: Any, k: int) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    ``(1/N) Σ_n [rank_n(y_n) < k]`` where ``rank_n(c)`` counts the classes
    scored above ``c``.  Ties follow `sklearn.metrics.top_k_accuracy_score`
    (which computes it for three classes or more), ranking classes with a
    stable sort: among equal scores, the class with the *higher* index is
    ranked first.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class indices in ``[0, n_classes)``.
    scores : array-like of shape (n_samples, n_classes)
        Class scores (logits or probabilities; only their order matters).
    k : int
        Number of top-ranked classes that count as a hit; ``k >= n_classes``
        gives 1.0.

    Returns
    -------
    float
        Top-k accuracy in [0, 1].

    References
    ----------
    Krizhevsky, A., Sutskever, I. and Hinton, G. E. (2012). ImageNet
    classification with deep convolutional neural networks. NeurIPS (top-5 error).
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}.")
    y_true = check_labels("y_true", y_true)
    scores = check_scores("scores", scores, ndim=2)
    check_same_length(y_true=y_true, scores=scores)
    n = resolve_num_classes(scores.shape[1], y_true)
    if k >= n:
        return 1.0
    if n == 2:
        # scikit-learn reads two classes as a binary problem with a 1-D score and a
        # threshold; with two score columns the top-1 class is the higher score (ties: class 1).
        return float(np.mean((scores[:, 1] >= scores[:, 0]) == y_true))
    return float(skm.top_k_accuracy_score(y_true, scores, k=k, labels=np.arange(n)))


def most_confident_errors(y_true: Any, probs: Any, n: int) -> np.ndarray:
    """Indices of the misclassified samples with the highest top-1 probability.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class indices.
    probs : array-like of shape (n_samples, n_classes)
        Class probabilities (or any scores; the argmax is the prediction).
    n : int
        Maximum number of indices to return.

    Returns
    -------
    np.ndarray of shape (min(n, n_errors),)
        Sample indices, most confident mistake first.
    """
    y_true = check_labels("y_true", y_true)
    probs = check_scores("probs", probs, ndim=2)
    check_same_length(y_true=y_true, probs=probs)
    resolve_num_classes(probs.shape[1], y_true)
    errors = np.flatnonzero(probs.argmax(axis=1) != y_true)
    confidence = probs[errors].max(axis=1)
    return errors[np.argsort(-confidence, kind="stable")[:n]]


def classification_report(
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """All classification metrics in one JSON-ready dictionary.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class indices.
    scores : array-like of shape (n_samples, n_classes), optional
        Class scores; adds ``top5_accuracy`` and ``top5_error`` when there are
        more than 5 classes.
    class_names : sequence of str, optional
        One name per class; defines the number of classes.  Defaults to
        ``"0", "1", ...`` over ``scores.shape[1]`` or the largest label + 1.

    Returns
    -------
    dict
        ``num_samples``, ``num_classes``, ``class_names``, ``accuracy``,
        ``accuracy_interval`` (its 95 % Wilson interval, ``[low, high]``),
        ``top1_error``, optionally ``top5_accuracy``/``top5_error``,
        ``per_class`` (a list of ``{"class", "precision", "recall", "f1",
        "support"}``), ``macro``/``micro``/``weighted`` (each ``{"precision",
        "recall", "f1"}``), ``confusion_matrix`` (counts, rows = true class)
        and ``confusion_matrix_normalized`` (each row divided by its sum).
        Only Python ints, floats, strings and lists, so it can go straight to
        `json.dumps`.
    """
    if scores is not None:
        scores = check_scores("scores", scores, ndim=2)
    if class_names is not None:
        num_classes = len(class_names)
    else:
        num_classes = None if scores is None else scores.shape[1]
    y_true, y_pred, n = _labels_pair(y_true, y_pred, num_classes)
    if scores is not None and scores.shape[1] != n:
        raise ConfigError(f"scores has {scores.shape[1]} columns but there are {n} classes.")
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(n)]

    acc = accuracy(y_true, y_pred)
    report: dict[str, Any] = {
        "num_samples": len(y_true),
        "num_classes": n,
        "class_names": names,
        "accuracy": acc,
        "accuracy_interval": list(wilson_interval(int((y_true == y_pred).sum()), len(y_true))),
        "top1_error": 1.0 - acc,
    }
    if scores is not None and n > 5:
        top5 = top_k_accuracy(y_true, scores, k=5)
        report["top5_accuracy"] = top5
        report["top5_error"] = 1.0 - top5

    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, num_classes=n)
    report["per_class"] = [
        {
            "class": name,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    ]
    for average in _AVERAGES:
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, num_classes=n)
        report[average] = {"precision": p, "recall": r, "f1": f}
    report["confusion_matrix"] = confusion_matrix(y_true, y_pred, n).tolist()
    report["confusion_matrix_normalized"] = confusion_matrix(
        y_true, y_pred, n, normalize="true"
    ).tolist()
    return report


def _table(header: list[str], rows: list[list[str]], first_width: int) -> list[str]:
    """Right-aligned columns after a left-aligned first column."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(1, len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0][:first_width].ljust(first_width)]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_classification_report(report: dict[str, Any], digits: int = 3) -> str:
    """Render a `classification_report` dictionary as a text table.

    Parameters
    ----------
    report : dict
        The output of `classification_report` (for example read back
        from ``metrics.json``).
    digits : int
        Decimal places for the scores.

    Returns
    -------
    str
        Per-class precision/recall/F1/support, the averages, the error rates
        and the confusion matrix (rows = true class, columns = predicted) with
        class names.
    """
    names = list(report["class_names"])
    name_width = min(max(len(n) for n in [*names, "weighted avg"]), 24)

    def fmt(x: float) -> str:
        return f"{x:.{digits}f}"

    rows = [
        [c["class"], fmt(c["precision"]), fmt(c["recall"]), fmt(c["f1"]), str(c["support"])]
        for c in report["per_class"]
    ]
    total = str(report["num_samples"])
    rows.append(["", "", "", "", ""])
    rows.append(["accuracy", "", "", fmt(report["accuracy"]), total])
    for average in _AVERAGES:
        a = report[average]
        rows.append([f"{average} avg", fmt(a["precision"]), fmt(a["recall"]), fmt(a["f1"]), total])
    lines = _table(["", "precision", "recall", "f1-score", "support"], rows, name_width)

    errors = f"top-1 error: {fmt(report['top1_error'])}"
    if "top5_error" in report:
        errors += f"   top-5 error: {fmt(report['top5_error'])}"
    lines += ["", errors, "", "Confusion matrix (rows: true class, columns: predicted class)"]
    cm = report["confusion_matrix"]
    count_width = max(len(str(v)) for row in cm for v in row)
    header = ["", *(name[: max(count_width, 6)] for name in names)]
    lines += _table(
        header, [[name, *map(str, row)] for name, row in zip(names, cm, strict=True)], name_width
    )
    return "\n".join(lines)
