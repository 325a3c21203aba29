"""Matplotlib figures of training runs and evaluations.

Figures are built as `matplotlib.figure.Figure` objects with an Agg
canvas, without pyplot: nothing depends on (or changes) the global backend, so
the functions work headless, in threads and in notebooks alike.  They only
draw; the numbers come from `cnnlab.metrics` or the run directory.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab import runs
from cnnlab.errors import ConfigError
from cnnlab.fileio import atomic_path
from cnnlab.metrics._checks import to_numpy
from cnnlab.metrics.thresholds import PRCurve

#: Confusion matrices with more classes than this get no numbers in the cells.
MAX_ANNOTATED_CLASSES = 20
#: ... and no class names on the axes beyond this.
MAX_LABELLED_CLASSES = 40
#: PR-curve plots with more classes than this get no legend.
MAX_LEGEND_ENTRIES = 10
DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches with an Agg canvas (no pyplot)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plain(text: Any) -> str:
    """``text`` as a literal label: ``$`` would otherwise start mathtext."""
    return str(text).replace("$", r"\$")


def figure_to_png(fig: Figure) -> bytes:
    """Render ``fig`` as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` as a PNG (atomically) and close it.

    Parameters
    ----------
    fig : Figure
    path : path-like
        Destination; parent directories are created.
    """
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    # Only a figure made through pyplot is registered with it (and must be closed to
    # free it); such a figure implies pyplot was imported already.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def _column(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    values = [row.get(key) for row in history]
    return np.array([np.nan if v is None else float(v) for v in values])


def plot_learning_curves(history: Sequence[Mapping[str, Any]], monitor: str = "val_acc") -> Figure:
    """Training and validation loss (left) and accuracy (right) per epoch.

    Parameters
    ----------
    history : sequence of dict
        One row per epoch, as in ``history.jsonl``: ``epoch`` (defaults to
        1, 2, ...), ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``.
        Missing keys or values are left out of the plot.

    Returns
    -------
    Figure
        The best epoch by ``monitor`` is marked by a dotted line, chosen by the
        rule the Trainer saved the weights by (`cnnlab.runs.best_epoch`).
    """
    if not history:
        raise ConfigError("history is empty: there are no epochs to plot.")
    epochs = _column(history, "epoch")
    if np.any(np.isnan(epochs)):
        epochs = np.arange(1, len(history) + 1, dtype=float)
    best_epoch = runs.best_epoch(history, monitor)
    best = None if best_epoch is None else int(np.flatnonzero(epochs == best_epoch)[0])
    fig = new_figure(10, 4)
    for ax, quantity, title in zip(
        fig.subplots(1, 2), ("loss", "acc"), ("Loss", "Accuracy"), strict=True
    ):
        for split, style in (("train", "-"), ("val", "--")):
            values = _column(history, f"{split}_{quantity}")
            if not np.all(np.isnan(values)):
                label = "training" if split == "train" else "validation"
                ax.plot(epochs, values, style, marker="o", markersize=3, label=label)
        if best is not None:
            ax.axvline(
                epochs[best], color="grey", linestyle=":", label=f"best (epoch {epochs[best]:g})"
            )
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.2
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend()
    return fig


def plot_confusion_matrix(
    cm: Any, class_names: Sequence[str] | None = None, normalize: bool = False
) -> Figure:
    """Heat map of a confusion matrix (rows: true class, columns: predicted class).

    Parameters
    ----------
    cm : array-like of shape (n_classes, n_classes)
        Counts, as from `cnnlab.metrics.confusion_matrix`.
    class_names : sequence of str, optional
        Axis labels; class indices when omitted.
    normalize : bool
        Show each row divided by its sum (the diagonal is per-class recall).

    Returns
    -------
    Figure
        Cells are annotated up to `MAX_ANNOTATED_CLASSES` classes; axes
        are labelled up to `MAX_LABELLED_CLASSES`.
    """
    cm = to_numpy(cm).astype(np.float64)
    n = cm.shape[0]
    if cm.shape != (n, n) or n == 0:
        raise ConfigError(f"A confusion matrix must be square and non-empty, got shape {cm.shape}.")
    names = [str(i) for i in range(n)] if class_names is None else list(class_names)
    if len(names) != n:
        raise ConfigError(f"Got {len(names)} class names for a {n}x{n} confusion matrix.")
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows != 0)

    side = float(np.clip(0.45 * n + 2.5, 4.5, 14))
    fig = new_figure(side + 1, side)
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else max(cm.max(), 1))
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title="Confusion matrix (row-normalized)" if normalize else "Confusion matrix",
    )
    if n <= MAX_LABELLED_CLASSES:
        labels = [_plain(name) for name in names]
        ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels)
    if n <= MAX_ANNOTATED_CLASSES:
        threshold = image.norm.vmax / 2
        fontsize = 9 if n <= 10 else 7
        for (i, j), value in np.ndenumerate(cm):
            text = f"{value:.2f}" if normalize else f"{value:.0f}"
            color = "white" if value > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize)
    return fig


def plot_pr_curves(curves: Sequence[PRCurve], class_names: Sequence[str] | None = None) -> Figure:
    """Precision-recall curves, one per class, with average precision in the legend.

    Parameters
    ----------
    curves : sequence of PRCurve
        As from `cnnlab.metrics.one_vs_rest_pr_curves`.
    class_names : sequence of str, optional
        One per curve; class indices when omitted.

    Returns
    -------
    Figure
        The title gives the mean average precision over the curves.
    """
    if not curves:
        raise ConfigError("No precision-recall curves to plot.")
    names = [str(i) for i in range(len(curves))] if class_names is None else list(class_names)
    if len(names) != len(curves):
        raise ConfigError(f"Got {len(names)} class names for {len(curves)} curves.")
    fig = new_figure(6, 5)
    ax = fig.add_subplot()
    many = len(curves) > MAX_LEGEND_ENTRIES
    for name, curve in zip(names, curves, strict=True):
        label = f"{_plain(name)} (AP {curve.average_precision:.3f})"
        ax.step(
            curve.recall, curve.precision, where="post", linewidth=0.8 if many else 1.5, label=label
        )
    mean_ap = float(np.mean([c.average_precision for c in curves]))
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"Precision-recall, one vs rest (mAP {mean_ap:.3f})")
    ax.grid(alpha=0.3)
    if not many:
        ax.legend(fontsize=8, loc="lower left")
    return fig


def image_grid(
    images: Any, titles: Sequence[str] | None = None, ncols: int = 8, fontsize: float = 7
) -> Figure:
    """Show images in a grid, optionally with a title above each.

    Parameters
    ----------
    images : array-like of shape (N, C, H, W)
        Floats in [0, 1] (values outside are clipped); C is 1 (grey) or 3 (RGB).
    titles : sequence of str, optional
        One per image; may contain newlines.
    ncols : int
        Images per row.
    fontsize : float
        Of the titles, in points.

    Returns
    -------
    Figure
    """
    images = to_numpy(images).astype(np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise ConfigError(
            f"images must have shape (N, C, H, W) with N >= 1 and C in (1, 3), got {images.shape}."
        )
    if titles is not None and len(titles) != len(images):
        raise ConfigError(f"Got {len(titles)} titles for {len(images)} images.")
    if ncols < 1:
        raise ConfigError(f"ncols must be >= 1, got {ncols}.")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles else 0
    line = fontsize / 72 * 1.3  # inches per title line
    fig = new_figure(max(1.9, fontsize / 3.6) * ncols, (1.8 + line * title_lines) * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= len(images):
            continue
        image = np.clip(images[i].transpose(1, 2, 0), 0, 1)
        if image.shape[2] == 1:
            ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(image)
        if titles is not None:
            ax.set_title(_plain(titles[i]), fontsize=fontsize)
    return fig


def plot_misclassified(
    images: Any,
    true_labels: Any,
    top3_indices: Any,
    top3_probs: Any,
    class_names: Sequence[str],
    ncols: int = 4,
) -> Figure:
    """Gallery of misclassified images with their true class and top-3 predictions.

    Parameters
    ----------
    images : array-like of shape (N, C, H, W)
        Floats in [0, 1]; typically the most confident mistakes
        (`cnnlab.metrics.most_confident_errors`).
    true_labels : array-like of shape (N,)
        True class indices.
    top3_indices, top3_probs : array-like of shape (N, k)
        Predicted classes and their probabilities, most probable first (as from
        `torch.topk`); usually k = 3.
    class_names : sequence of str
        Names indexed by class.
    ncols : int
        Images per row.

    Returns
    -------
    Figure
        Each image is titled with its true class, then one predicted class and
        probability per line (``"true: cat\\ndog 0.91\\nfox 0.05\\ncat 0.02"``), in a
        9-point font, so that long class names neither collide nor get clipped.
    """
    true_labels = to_numpy(true_labels).astype(int)
    top_indices = to_numpy(top3_indices).astype(int).reshape(len(true_labels), -1)
    top_probs = to_numpy(top3_probs).astype(float).reshape(len(true_labels), -1)
    names = list(class_names)
    titles = [
        f"true: {names[t]}\n"
        + "\n".join(f"{names[c]} {p:.2f}" for c, p in zip(cs, ps, strict=True))
        for t, cs, ps in zip(true_labels, top_indices, top_probs, strict=True)
    ]
    return image_grid(images, titles, ncols=ncols, fontsize=9)
