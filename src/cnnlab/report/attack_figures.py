"""Figures of attacks (`cnnlab.attack`): example grids and accuracy–perturbation curves.

They only draw (the numbers come from `cnnlab.attack.evaluate`) and are
built like `cnnlab.report.figures`: a `Figure` with an Agg canvas,
no pyplot.  Save them with `cnnlab.report.figures.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError
from cnnlab.report.figures import new_figure


def plot_adversarial_examples(
    images: torch.Tensor,
    adversarial: torch.Tensor,
    clean_predictions: Sequence[int],
    adversarial_predictions: Sequence[int],
    class_names: Sequence[str],
    eps: float | None = None,
) -> Figure:
    """One column per example: clean image, perturbation δ, adversarial image.

    δ (averaged over colour channels) is drawn with a diverging colour map that
    is symmetric about 0 and spans ±``eps`` (the attack's radius; the largest
    |δ| when not given), with a colour bar, so that a perturbation of ε = 0.1
    keeps its shades instead of collapsing to a few grey levels.  Titles give
    the clean and the adversarial prediction and the L∞/L2 size of δ.
    """
    if len(images) == 0 or images.shape != adversarial.shape:
        raise ConfigError("Need at least one image and an adversarial example of the same shape.")
    delta = (adversarial - images).detach().float().cpu()
    limit = float(eps) if eps else float(delta.abs().max()) or 1.0
    names = list(class_names)
    columns = len(images)
    fig = new_figure(2.1 * columns + 0.8, 6.6)
    axes = fig.subplots(3, columns, squeeze=False)
    shown = None
    for col in range(columns):
        for row, picture in ((0, images[col]), (2, adversarial[col])):
            array = picture.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
            grey = array.shape[2] == 1
            axes[row, col].imshow(
                array[:, :, 0] if grey else array, cmap="gray" if grey else None, vmin=0, vmax=1
            )
        shown = axes[1, col].imshow(
            delta[col].mean(0).numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit
        )
        d = delta[col]
        axes[0, col].set_title(f"clean: {names[int(clean_predictions[col])]}", fontsize=8)
        axes[1, col].set_title(f"δ: L∞ {d.abs().max():.3f}, L2 {d.norm():.2f}", fontsize=8)
        axes[2, col].set_title(
            f"adversarial: {names[int(adversarial_predictions[col])]}", fontsize=8
        )
        for row in range(3):
            axes[row, col].axis("off")
    bar = fig.colorbar(shown, ax=list(axes[1]), fraction=0.03, pad=0.02)
    bar.set_label(f"δ (pixel units, ±{limit:.3g})", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    return fig


def plot_accuracy_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str = "ε (L∞)",
) -> Figure:
    """Accuracy against perturbation size, one line per attack (or model).

    ``curves[name] = (eps values, accuracies)``.
    """
    if not curves:
        raise ConfigError("curves is empty: nothing to plot.")
    fig = new_figure(6, 4)
    ax = fig.subplots()
    for name, (eps, accuracy) in curves.items():
        ax.plot(list(eps), list(accuracy), marker="o", markersize=3, label=str(name))
    ax.set(xlabel=xlabel, ylabel="accuracy", ylim=(0, 1.02), title="Accuracy under attack")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
