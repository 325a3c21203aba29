"""Figures of the per-layer diagnosis: will this network train? (`cnnlab.train.diagnose`).

They only draw the statistics `cnnlab.train.diagnose.diagnose` and
`cnnlab.train.diagnose.init_experiment` computed; save them with
`cnnlab.report.figures.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError, check_positive
from cnnlab.report.figures import new_figure

#: Histograms with more exact zeros than this have their zero bar cut off.
_ZERO_SPIKE = 0.1


class LayerStatistics(Protocol):
    """What the figures need of `cnnlab.train.diagnose.LayerStats` (one layer call)."""

    name: str
    is_activation: bool
    mean: float
    std: float
    zero_fraction: float
    dead_fraction: float | None
    hist_counts: torch.Tensor
    hist_edges: torch.Tensor
    grad_std: float | None
    grad_norm: float | None


def _histogram(ax, stats: LayerStatistics, title: str) -> None:
    """Fractions per bin; a spike of exact zeros (ReLU) is cut off so the rest stays visible."""
    counts = stats.hist_counts.numpy()
    edges = stats.hist_edges.numpy()
    fractions = counts / max(counts.sum(), 1.0)
    ax.stairs(fractions, edges, fill=True)
    zero_bin = np.searchsorted(edges, 0.0, side="right") - 1
    if stats.zero_fraction > _ZERO_SPIKE and 0 <= zero_bin < len(counts):
        rest = np.delete(fractions, zero_bin)
        if rest.max() > 0:
            ax.set_ylim(0, 1.2 * rest.max())
        title += f"\nzeros {stats.zero_fraction:.0%} (bar cut)"
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_yticks([])


def _values(stats: Sequence[LayerStatistics], key: str) -> np.ndarray:
    return np.array([np.nan if getattr(s, key) is None else getattr(s, key) for s in stats])


def plot_diagnostics(stats: Sequence[LayerStatistics], max_histograms: int = 12) -> Figure:
    """Per-layer activation mean and std, gradient std and parameter-gradient norm,
    zero and dead fractions (top), and activation histograms of up to
    ``max_histograms`` layers spread over the depth (bottom; activation layers
    when there are any).
    """
    if not stats:
        raise ConfigError("No layer statistics to plot: run diagnose() on a model first.")
    check_positive("max_histograms", max_histograms)
    fig = new_figure(15, 9)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.1])
    ax_act, ax_grad, ax_zero = top.subplots(1, 3)
    layer = np.arange(1, len(stats) + 1)
    ax_act.plot(layer, _values(stats, "mean"), marker="o", markersize=3, label="mean")
    ax_act.plot(layer, _values(stats, "std"), marker="o", markersize=3, label="std")
    ax_act.set(title="Activations", ylabel="value")
    for key, label in (("grad_std", "std of ∂L/∂activation"), ("grad_norm", "‖∂L/∂θ‖")):
        values = _values(stats, key)
        if np.any(values > 0):
            ax_grad.plot(layer, values, marker="o", markersize=3, label=label)
    if ax_grad.has_data():
        ax_grad.set_yscale("log")
    ax_grad.set(title="Gradients")
    ax_zero.bar(layer, _values(stats, "zero_fraction"), color="C7", label="zero outputs")
    ax_zero.plot(layer, _values(stats, "dead_fraction"), "v", color="C3", label="dead units")
    ax_zero.set(title="Zero outputs and dead units", ylim=(0, 1.05))
    for ax in (ax_act, ax_grad, ax_zero):
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
        if len(stats) <= 30:
            ax.set_xticks(layer, [s.name for s in stats], rotation=90, fontsize=7)
        else:
            ax.set_xlabel("layer (forward order)")
    candidates = [s for s in stats if s.is_activation] or list(stats)
    picks = np.unique(np.linspace(0, len(candidates) - 1, min(max_histograms, len(candidates))))
    ncols = min(len(picks), 6)
    axes = bottom.subplots(math.ceil(len(picks) / ncols), ncols, squeeze=False).ravel()
    for ax, index in zip(axes, picks.round().astype(int), strict=False):
        s = candidates[index]
        _histogram(ax, s, f"{s.name}\nmean {s.mean:.2g}  std {s.std:.2g}")
    for ax in axes[len(picks) :]:
        ax.axis("off")
    bottom.suptitle("Activation histograms")
    return fig


def plot_init_experiment(results: Mapping[str, Sequence[LayerStatistics]]) -> Figure:
    """The initialization experiment side by side: one row per initialization, with the
    activation std per layer (log scale) and the histogram of every layer."""
    if not results or not all(results.values()):
        raise ConfigError("No experiment results to plot: run init_experiment() first.")
    depth = max(len(stats) for stats in results.values())
    stds = np.concatenate([_values(stats, "std") for stats in results.values()])
    positive = stds[stds > 0]
    std_limits = (positive.min() / 3, positive.max() * 3) if positive.size else None
    fig = new_figure(2.0 * (depth + 1.5), 2.0 * len(results))
    axes = fig.subplots(len(results), depth + 1, squeeze=False, width_ratios=[2.5] + [1.0] * depth)
    for row, (label, stats) in zip(axes, results.items(), strict=True):
        row[0].semilogy(np.arange(1, len(stats) + 1), _values(stats, "std"), marker="o")
        row[0].set(title=f"{label}: std", xlabel="layer", ylim=std_limits)
        row[0].grid(alpha=0.3)
        for k, (ax, s) in enumerate(zip(row[1:], stats, strict=False), start=1):
            _histogram(ax, s, f"layer {k}\nstd {s.std:.2g}")
        for ax in row[1 + len(stats) :]:
            ax.axis("off")
    return fig
