"""Accuracy against operations for the model zoo (Canziani, Paszke & Culurciello 2016, Fig. 2).

One blob per registered model with a published ImageNet top-1 accuracy
(`Reference`): x is the multiply-adds of one
forward pass at the published resolution, y the published top-1, the blob's
area proportional to the parameters.  Multiply-adds and parameters are the
reference's figures where the source prints them; otherwise they are counted
on the model itself, built on the ``meta`` device (shapes only, nothing is
allocated or computed), with `cnnlab.metrics.cost.count_flops`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from matplotlib.figure import Figure

from cnnlab.metrics.cost import count_flops, count_parameters
from cnnlab.models import create_model, list_models
from cnnlab.models.registry import model_info
from cnnlab.report.figures import new_figure


class ZooPoint(NamedTuple):
    """A model's published top-1 (%), its multiply-adds and parameters, and their origin."""

    name: str
    top1: float
    macs: float
    params: int
    counted: bool  # True when macs or params were counted here, not published


def zoo_points(names: list[str] | None = None) -> list[ZooPoint]:
    """Every registered ImageNet model (1000 classes) with a published top-1 accuracy,
    or those among ``names``."""
    points = []
    for name in list_models() if names is None else names:
        info = model_info(name)
        ref = info.reference
        if ref is None or ref.top1 is None or ref.num_classes != 1000:
            continue
        macs, params = ref.macs, ref.params
        if macs is None or params is None:
            kwargs = {**info.kwargs, "num_classes": 1000, "in_chans": ref.input_shape[0]}
            with torch.device("meta"):
                model = create_model(name, **kwargs)
            macs = macs if macs is not None else count_flops(model, ref.input_shape) / 2
            params = params if params is not None else count_parameters(model)
        points.append(
            ZooPoint(name, ref.top1, float(macs), int(params), None in (ref.macs, ref.params))
        )
    return points


def plot_accuracy_vs_operations(points: list[ZooPoint]) -> Figure:
    """Published top-1 against multiply-adds (log scale), blob area ∝ parameters."""
    fig = new_figure(11, 7)
    ax = fig.add_subplot()
    for point in points:
        ax.scatter(point.macs / 1e9, point.top1, s=point.params / 2e5, alpha=0.5)
        ax.annotate(point.name, (point.macs / 1e9, point.top1), fontsize=6, ha="center")
    ax.set_xscale("log")
    ax.set_xlabel("multiply-adds per image (G, log scale, at the published resolution)")
    ax.set_ylabel("published ImageNet top-1 accuracy (%)")
    ax.set_title(f"Accuracy vs operations of {len(points)} models; blob area ∝ parameters")
    ax.grid(alpha=0.3)
    return fig
