"""Figures of explanations (`cnnlab.explain`): attributions, filters, features, synthesis.

Each function takes the tensors an explanation method computed and returns a
`Figure`; the maths stays in `cnnlab.explain`.
Save a figure with `cnnlab.report.figures.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from cnnlab.errors import ConfigError
from cnnlab.report.figures import image_grid, new_figure


class Patches(Protocol):
    """The top patches of one unit, as `cnnlab.explain.features.max_activating_patches`
    returns them."""

    images: torch.Tensor
    activations: torch.Tensor


class FaithfulnessCurves(Protocol):
    """Deletion and insertion curves, as `cnnlab.explain.metrics.deletion_insertion`
    returns them."""

    fractions: torch.Tensor
    deletion: torch.Tensor
    insertion: torch.Tensor

    @property
    def deletion_auc(self) -> torch.Tensor: ...

    @property
    def insertion_auc(self) -> torch.Tensor: ...


def _hwc(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] as an array imshow takes: (H, W) grey or (H, W, 3)."""
    array = image.detach().float().cpu().clamp(0, 1).numpy()
    return array[0] if array.shape[0] == 1 else array[:3].transpose(1, 2, 0)


def _show(ax, image: torch.Tensor) -> None:
    array = _hwc(image)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=1)
    ax.axis("off")


def heatmap(attributions: torch.Tensor) -> torch.Tensor:
    """One (H, W) map per image: the maximum over channels of non-negative attributions
    (Simonyan et al. 2014, Sec. 3.1), the sum over channels of signed ones."""
    values = attributions.detach().float().cpu()
    if values.dim() != 4:
        raise ConfigError(f"attributions must be (N, C, H, W), got {tuple(values.shape)}.")
    return values.amax(1) if bool((values >= 0).all()) else values.sum(1)


def plot_attributions(
    images: torch.Tensor, attributions: torch.Tensor, titles: Sequence[str] | None = None
) -> Figure:
    """Per image a row: the image, the attribution map, and the map over the image.

    Signed maps use a diverging colour map centred on 0 (red positive, blue
    negative); non-negative maps run from black to yellow; the map has a colour bar.
    """
    maps = heatmap(attributions)
    if len(maps) != len(images):
        raise ConfigError(f"Got {len(maps)} attribution maps for {len(images)} images.")
    fig = new_figure(7.5, 2.5 * len(images))
    axes = fig.subplots(len(images), 3, squeeze=False)
    for row, (image, values) in enumerate(zip(images, maps, strict=True)):
        signed = bool((values < 0).any())
        limit = float(values.abs().max()) or 1.0
        style = (
            {"cmap": "bwr", "vmin": -limit, "vmax": limit}
            if signed
            else {"cmap": "inferno", "vmin": 0, "vmax": limit}
        )
        _show(axes[row, 0], image)
        shown = axes[row, 1].imshow(values.numpy(), **style)
        axes[row, 1].axis("off")
        label = "attribution (red: for the class, blue: against)" if signed else "attribution"
        bar = fig.colorbar(shown, ax=axes[row, 1], fraction=0.046, pad=0.04)
        bar.set_label(label, fontsize=7)
        bar.ax.tick_params(labelsize=6)
        grey = image.detach().float().cpu().mean(0).clamp(0, 1).numpy()
        axes[row, 2].imshow(grey, cmap="gray", vmin=0, vmax=1)
        axes[row, 2].imshow(values.numpy(), alpha=0.55, **style)
        axes[row, 2].axis("off")
        if titles is not None:
            axes[row, 0].set_title(str(titles[row]).replace("$", r"\$"), fontsize=8, loc="left")
    return fig


def plot_filters(weights: torch.Tensor, ncols: int = 8) -> Figure:
    """First-layer filters (K, C, kh, kw), each scaled to [0, 1] on its own.

    RGB filters are shown in colour; other channel counts as their channel mean.
    """
    weights = weights.detach().float().cpu()
    if weights.shape[1] not in (1, 3):
        weights = weights.mean(1, keepdim=True)
    low = weights.flatten(1).amin(1).view(-1, 1, 1, 1)
    high = weights.flatten(1).amax(1).view(-1, 1, 1, 1)
    scaled = (weights - low) / (high - low).clamp_min(1e-12)
    return image_grid(scaled, [f"filter {k}" for k in range(len(scaled))], ncols=ncols)


def _mosaic(maps: torch.Tensor) -> np.ndarray:
    """(C, h, w) maps side by side, each scaled to [0, 1], separated by a blank column."""
    low = maps.flatten(1).amin(1).view(-1, 1, 1)
    high = maps.flatten(1).amax(1).view(-1, 1, 1)
    scaled = (maps - low) / (high - low).clamp_min(1e-12)
    gap = torch.full((len(maps), maps.shape[1], 1), float("nan"))
    return torch.cat([scaled, gap], 2).permute(1, 0, 2).flatten(1)[:, :-1].numpy()


def plot_activations(activations: Mapping[str, torch.Tensor], maps: int = 12) -> Figure:
    """One row per layer: its first ``maps`` feature maps of image 0 (vectors as a strip)."""
    if not activations:
        raise ConfigError("No activations to plot.")
    fig = new_figure(1.0 * maps, 0.9 * len(activations))
    axes = fig.subplots(len(activations), 1, squeeze=False)[:, 0]
    for ax, (name, output) in zip(axes, activations.items(), strict=True):
        first = output[0].detach().float().cpu()
        panel = _mosaic(first[:maps]) if first.dim() == 3 else first.flatten()[None].numpy()
        ax.imshow(panel, cmap="viridis", aspect="auto" if first.dim() != 3 else "equal")
        ax.set_title(f"{name} {tuple(first.shape)}", fontsize=7, loc="left")
        ax.axis("off")
    return fig


def plot_patches(patches: Mapping[int, Patches]) -> Figure:
    """One row per unit: its maximally activating patches, strongest first."""
    if not patches:
        raise ConfigError("No patches to plot.")
    ncols = max(len(p.images) for p in patches.values())
    fig = new_figure(1.2 * ncols, 1.3 * len(patches))
    axes = fig.subplots(len(patches), ncols, squeeze=False)
    for row, (unit, found) in enumerate(patches.items()):
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if col < len(found.images):
                _show(ax, found.images[col])
                ax.set_title(f"{float(found.activations[col]):.2f}", fontsize=7)
        axes[row, 0].set_title(f"unit {unit}: {float(found.activations[0]):.2f}", fontsize=7)
    return fig


def plot_neighbours(queries: torch.Tensor, database: torch.Tensor, indices: torch.Tensor) -> Figure:
    """Per query a row: the query, then its nearest images by code (nearest first)."""
    rows = [torch.cat([queries[i : i + 1], database[indices[i]]]) for i in range(len(queries))]
    grid = torch.cat(rows)
    titles = [
        "query" if col == 0 else f"#{col}"
        for _ in range(len(queries))
        for col in range(len(rows[0]))
    ]
    return image_grid(grid, titles, ncols=len(rows[0]))


def plot_tsne(
    points: np.ndarray,
    images: torch.Tensor,
    zoom: float = 0.6,
) -> Figure:
    """The t-SNE map with each image drawn as a thumbnail at its point."""
    fig = new_figure(9, 9)
    ax = fig.add_subplot()
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0)
    for i, (x, y) in enumerate(points):
        array = _hwc(images[i])
        thumb = OffsetImage(array, zoom=zoom, cmap="gray" if array.ndim == 2 else None)
        ax.add_artist(AnnotationBbox(thumb, (x, y), frameon=False))
    ax.set_title("t-SNE of last-layer codes")
    ax.axis("off")
    return fig


def plot_style_transfer(content: torch.Tensor, style: torch.Tensor, result: torch.Tensor) -> Figure:
    """Content, style and result images (C, H, W) side by side; their sizes may differ."""
    fig = new_figure(9, 3.2)
    titles = ("content", "style", "result")
    panels = zip(fig.subplots(1, 3), (content, style, result), titles, strict=True)
    for ax, image, title in panels:
        _show(ax, image)
        ax.set_title(title, fontsize=9)
    return fig


def plot_faithfulness(curves: Mapping[str, FaithfulnessCurves]) -> Figure:
    """Mean deletion (left) and insertion (right) curves per method, AUC in the legend."""
    fig = new_figure(10, 4)
    for ax, kind in zip(fig.subplots(1, 2), ("deletion", "insertion"), strict=True):
        for method, found in curves.items():
            values = getattr(found, kind).mean(0).cpu().numpy()
            auc = float(getattr(found, f"{kind}_auc").mean())
            ax.plot(found.fractions.cpu().numpy(), values, label=f"{method} ({auc:.3f})")
        ax.set(title=f"{kind.capitalize()} (AUC)", xlabel="fraction of pixels", ylabel="score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
