"""Figures of attacks (:mod:`cnnlab.attack`): example grids and accuracy–perturbation curves.

They only draw (the numbers come from :mod:`cnnlab.attack.evaluate`) and are
built like :mod:`cnnlab.report.figures`: a :class:`Figure` with an Agg canvas,
no pyplot.  Save them with :func:`cnnlab.report.figures.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError
from cnnlab.report.figures import image_grid, new_figure


def plot_adversarial_examples(
    images: torch.Tensor,
    adversarial: torch.Tensor,
    clean_predictions: Sequence[int],
    adversarial_predictions: Sequence[int],
    class_names: Sequence[str],
    amplify: float = 10.0,
) -> Figure:
    """One column per example: clean image, perturbation × ``amplify`` (grey = 0), adversarial.

    Titles give the clean and the adversarial prediction and the L∞/L2 size
    of the perturbation.
    """
    if len(images) == 0 or images.shape != adversarial.shape:
        raise ConfigError("Need at least one image and an adversarial example of the same shape.")
    delta = (adversarial - images).cpu()
    shown = (0.5 + amplify * delta).clamp(0, 1)
    names = list(class_names)
    titles = [f"clean: {names[int(p)]}" for p in clean_predictions]
    titles += [f"δ ×{amplify:g}\nL∞ {d.abs().max():.3f}  L2 {d.norm():.2f}" for d in delta]
    titles += [f"adversarial: {names[int(p)]}" for p in adversarial_predictions]
    grid = torch.cat([images.cpu(), shown, adversarial.cpu()])
    return image_grid(grid, titles, ncols=len(images))


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
