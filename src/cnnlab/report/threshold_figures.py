"""Precision and recall against the decision threshold (one vs rest, per class).

A sample counts as predicted class c when its probability of c is at least
the threshold t.  Precision P(t) = TP(t)/(TP(t) + FP(t)) rises and recall
R(t) = TP(t)/(TP + FN) falls as t grows (Davis & Goadrich 2006): the figure
shows the trade-off that a single accuracy hides, and where an operating
point would lie.  The curves are scikit-learn's
(`cnnlab.metrics.one_vs_rest_pr_curves`), read at every threshold of a
grid on [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError
from cnnlab.metrics.thresholds import PRCurve
from cnnlab.report.figures import MAX_LEGEND_ENTRIES, new_figure

GRID = np.linspace(0.0, 1.0, 101)


def at_thresholds(curve: PRCurve, grid: np.ndarray = GRID) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of ``curve`` when predicting positive at score >= t, for t in ``grid``.

    No score lies between ``t`` and the first curve threshold at or above it, so
    the two predict the same samples; beyond the largest score nothing is
    predicted (precision 1, recall 0, scikit-learn's convention).
    """
    index = np.searchsorted(curve.thresholds, grid, side="left")
    return curve.precision[index], curve.recall[index]


def plot_precision_recall_vs_threshold(
    curves: Sequence[PRCurve], class_names: Sequence[str]
) -> Figure:
    """Left: precision, right: recall against the threshold, a line per class and their mean."""
    if not curves or len(curves) != len(class_names):
        raise ConfigError(f"Got {len(class_names)} class names for {len(curves)} curves.")
    fig = new_figure(10, 4)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    points = [at_thresholds(curve) for curve in curves]
    many = len(curves) > MAX_LEGEND_ENTRIES
    for index, (ax, label) in enumerate(zip(axes, ("precision", "recall"), strict=True)):
        for name, values in zip(class_names, points, strict=True):
            ax.plot(GRID, values[index], linewidth=0.6 if many else 1.0, alpha=0.6, label=name)
        ax.plot(GRID, np.mean([v[index] for v in points], axis=0), "k", linewidth=2, label="mean")
        ax.set(xlabel="threshold on the class probability", ylabel=label, ylim=(0, 1.02))
        ax.set_title(f"{label.capitalize()} vs threshold (one vs rest)")
        ax.grid(alpha=0.3)
    if not many:
        axes[1].legend(fontsize=7, loc="lower left")
    return fig
