"""Segmentation figures: image, ground-truth mask and predicted mask side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cnnlab.errors import ConfigError
from cnnlab.report.figures import new_figure


def class_colours(count: int) -> ListedColormap:
    """Black for class 0 (background), then matplotlib's tab10/tab20 colours."""
    palette = [(0.0, 0.0, 0.0)]
    source = colormaps["tab10" if count <= 11 else "tab20"]
    palette += [source(i % source.N)[:3] for i in range(count - 1)]
    return ListedColormap(palette)


def plot_segmentation(
    images: torch.Tensor,
    truth: torch.Tensor,
    predicted: torch.Tensor,
    class_names: Sequence[str],
    iou: Sequence[float] | None = None,
) -> Figure:
    """One row per image: the image, its true mask, the predicted mask (a legend of classes).

    ``images`` are floats in [0, 1] ``(N, C, H, W)``; masks are class indices
    ``(N, H, W)``; ``iou`` (optional) is each image's mean IoU, shown in the title.
    """
    if not (len(images) == len(truth) == len(predicted)) or len(images) == 0:
        raise ConfigError("Need the same positive number of images, true and predicted masks.")
    colours = class_colours(len(class_names))
    style = {
        "cmap": colours,
        "vmin": -0.5,
        "vmax": len(class_names) - 0.5,
        "interpolation": "nearest",
    }
    fig = new_figure(7.5, 2.4 * len(images) + 0.6)
    axes = fig.subplots(len(images), 3, squeeze=False)
    for row in range(len(images)):
        image = images[row].detach().float().cpu().clamp(0, 1)
        array = image.permute(1, 2, 0).numpy()
        axes[row, 0].imshow(
            array[:, :, 0] if array.shape[2] == 1 else array, cmap="gray", vmin=0, vmax=1
        )
        axes[row, 1].imshow(np.asarray(truth[row].cpu()), **style)
        axes[row, 2].imshow(np.asarray(predicted[row].cpu()), **style)
        scored = "" if iou is None else f" (mean IoU {iou[row]:.2f})"
        for col, title in enumerate(("image", "true mask", f"prediction{scored}")):
            axes[row, col].set_title(title, fontsize=8)
            axes[row, col].axis("off")
    handles = [Patch(color=colours(i), label=name) for i, name in enumerate(class_names)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(6, len(handles)), fontsize=8)
    return fig
