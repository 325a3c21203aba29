"""Reconstruction figures: rows of noisy / restored / clean images, and a latent-space plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError
from cnnlab.report.figures import new_figure

Column = tuple[str, torch.Tensor, Sequence[str] | None]


def plot_image_rows(columns: Sequence[Column]) -> Figure:
    """One row per image, one column per ``(title, images, notes)``.

    ``images`` are ``(N, C, H, W)`` (values outside [0, 1] are clipped for
    display); ``notes`` (optional) is one string per image, shown in its title
    (e.g. its PSNR).
    """
    if not columns or len({len(images) for _, images, _ in columns}) != 1:
        raise ConfigError("Need at least one column, all with the same number of images.")
    rows = len(columns[0][1])
    if rows == 0:
        raise ConfigError("Need at least one image to show.")
    fig = new_figure(2.1 * len(columns) + 0.3, 2.2 * rows + 0.3)
    axes = fig.subplots(rows, len(columns), squeeze=False)
    for col, (title, images, notes) in enumerate(columns):
        for row in range(rows):
            array = images[row].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
            axis = axes[row, col]
            if array.shape[2] == 1:
                axis.imshow(array[:, :, 0], cmap="gray", vmin=0, vmax=1)
            else:
                axis.imshow(array)
            axis.set_title(title if notes is None else f"{title} {notes[row]}", fontsize=8)
            axis.axis("off")
    return fig


def plot_latent_space(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    explained: Sequence[float] | None = None,
) -> Figure:
    """A scatter plot of 2-D ``points`` (e.g. latent codes on two principal components),
    coloured by class; ``explained`` is each axis's share of the variance."""
    points, labels = np.asarray(points), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ConfigError(
            f"Need (N, 2) points and N labels, got {points.shape} and {labels.shape}."
        )
    fig = new_figure(6.0, 5.0)
    axis = fig.subplots()
    palette = colormaps["tab10" if len(class_names) <= 10 else "tab20"]
    for index, name in enumerate(class_names):
        chosen = labels == index
        if chosen.any():
            axis.scatter(
                *points[chosen].T, s=6, alpha=0.7, color=palette(index % palette.N), label=name
            )
    for which, set_label in enumerate((axis.set_xlabel, axis.set_ylabel)):
        share = "" if explained is None else f" ({explained[which]:.0%} of the variance)"
        set_label(f"principal component {which + 1}{share}")
    axis.legend(fontsize=7, markerscale=2, loc="best")
    return fig
