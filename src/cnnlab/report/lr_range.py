"""The learning-rate range test's figure (Smith 2017; `cnnlab.train.lr_find`)."""

from __future__ import annotations

from typing import Protocol

from matplotlib.figure import Figure

from cnnlab.report.figures import new_figure


class RangeTestResult(Protocol):
    """What the figure needs of `cnnlab.train.lr_find.LRFindResult`."""

    lrs: list[float]
    losses: list[float]
    suggestion: float
    min_loss_lr: float


def plot_lr_find(result: RangeTestResult) -> Figure:
    """Smoothed loss against the learning rate (log scale), both suggestions marked.

    Save it with `cnnlab.report.figures.save_figure`.
    """
    fig = new_figure(7, 4.5)
    ax = fig.subplots()
    ax.plot(result.lrs, result.losses, color="C0", label="smoothed training loss")
    steepest = result.lrs.index(result.suggestion)
    ax.plot(
        result.suggestion,
        result.losses[steepest],
        "o",
        color="C3",
        label=f"steepest descent: {result.suggestion:.2e}",
    )
    ax.axvline(
        result.min_loss_lr,
        color="grey",
        linestyle="--",
        label=f"minimum-loss rate / 10: {result.min_loss_lr:.2e}",
    )
    ax.set_xscale("log")
    ax.set(
        title="Learning-rate range test (Smith 2017)",
        xlabel="learning rate",
        ylabel="loss",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
