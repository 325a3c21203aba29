"""Detection figures: predicted boxes drawn on images, and precision/recall curves per class."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.errors import ConfigError
from cnnlab.metrics.detection import Detections
from cnnlab.report.figures import new_figure


def _colour(index: int):
    return colormaps["tab10"](index % 10)


def plot_detections(
    images: torch.Tensor,
    detections: Sequence[Detections],
    truths: Sequence[tuple[torch.Tensor, torch.Tensor]],
    class_names: Sequence[str],
    columns: int = 4,
) -> Figure:
    """Each image with its true boxes (dashed white) and detections (coloured by class,
    labelled with class and score).  ``images`` are floats in [0, 1] ``(N, C, H, W)``."""
    if not (len(images) == len(detections) == len(truths)) or len(images) == 0:
        raise ConfigError("Need the same positive number of images, detections and true boxes.")
    rows = -(-len(images) // columns)
    fig = new_figure(2.4 * columns, 2.5 * rows)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, det, (true_boxes, _) in zip(axes.flat, images, detections, truths, strict=False):
        picture = image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0)
        ax.imshow(picture.squeeze(-1), cmap="gray" if picture.shape[-1] == 1 else None)
        for x1, y1, x2, y2 in true_boxes.tolist():
            ax.add_patch(
                Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="white", ls="--", lw=0.8)
            )
        for box, score, label in zip(
            det.boxes.tolist(), det.scores.tolist(), det.labels.tolist(), strict=True
        ):
            x1, y1, x2, y2 = box
            colour = _colour(label)
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.2))
            ax.text(
                x1,
                y1,
                f"{class_names[label]} {score:.2f}",
                color="black",
                fontsize=6,
                va="bottom",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.5},
            )
    return fig


def plot_pr_curves(curves: Sequence[dict], title: str = "IoU 0.5") -> Figure:
    """Precision against recall for each class (``{"class", "precision", "recall"}``),
    the AP of each in the legend when given (``"ap"``)."""
    fig = new_figure(5.0, 4.0)
    ax = fig.subplots()
    for index, curve in enumerate(curves):
        if len(curve["recall"]) == 0:
            continue
        label = curve["class"] + (f" (AP {curve['ap']:.3f})" if curve.get("ap") is not None else "")
        ax.plot(curve["recall"], curve["precision"], color=_colour(index), label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no detections", ha="center", va="center", transform=ax.transAxes)
    return fig
