"""Faithfulness of an attribution: deletion and insertion curves (Petsiuk, Das & Saenko 2018,
"RISE: randomized input sampling for explanation of black-box models", Sec. 4.1).

Pixels are ranked by their attribution (summed over channels), most important
first.  The *deletion* curve is the score of the image as more and more of the
top pixels are set to ``baseline`` (a faithful map makes it fall fast: low area
under the curve is good); the *insertion* curve is the score of a blurred copy
as the top pixels of the original are put back (a faithful map makes it rise
fast: high AUC is good).  The score is the softmax probability of the target
class when ``target`` names classes, else the value of the target callable.
The x axis is the fraction of pixels changed, so the AUC is in the score's
units.  `compare_methods` also scores each method with ROAD
(`cnnlab.explain.road`), which imputes the removed pixels instead of
blanking them, so that the shape of the removed region does not leak the class.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

from cnnlab.errors import ConfigError, check_positive
from cnnlab.explain.context import explaining
from cnnlab.explain.road import road
from cnnlab.explain.target import Target, check_target, target_scores, tile_target


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Deletion and insertion curves of N images at ``fractions`` of the pixels changed."""

    fractions: torch.Tensor
    deletion: torch.Tensor
    insertion: torch.Tensor

    @property
    def deletion_auc(self) -> torch.Tensor:
        """Area under each deletion curve, shape (N,): lower is more faithful."""
        return torch.trapezoid(self.deletion, self.fractions, dim=1)

    @property
    def insertion_auc(self) -> torch.Tensor:
        """Area under each insertion curve, shape (N,): higher is more faithful."""
        return torch.trapezoid(self.insertion, self.fractions, dim=1)


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """x blurred with a Gaussian of ``sigma`` pixels (kernel 2·⌈3σ⌉ + 1), the insertion start."""
    size = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(x, [size, size], [sigma, sigma])


def _faithfulness_scores(output: torch.Tensor, target: Target, n: int) -> torch.Tensor:
    """Softmax probability of the target class, or the target callable's score."""
    tiled = tile_target(target, n, len(output) // n)
    if callable(tiled):
        return target_scores(output, tiled)
    return target_scores(torch.softmax(output, dim=1), tiled)


@torch.no_grad()
def deletion_insertion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    attributions: torch.Tensor,
    steps: int = 28,
    baseline: float = 0.0,
    blur_sigma: float | None = None,
    batch_size: int = 256,
) -> FaithfulnessCurves:
    """Deletion and insertion curves of ``attributions`` (shape of x, or (N, 1, H, W)).

    Parameters
    ----------
    steps
        points of each curve after the start; step k changes ⌊k·H·W/steps⌋ pixels.
    baseline
        value of deleted pixels.
    blur_sigma
        σ in pixels of the blur the insertion starts from (default: side / 16).
    batch_size
        perturbed images per forward pass.
    """
    check_positive("steps", steps)
    check_positive("batch_size", batch_size)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if attributions.shape[0] != n or attributions.shape[-2:] != x.shape[-2:]:
        raise ConfigError(
            f"attributions of shape {tuple(attributions.shape)} do not match images of shape "
            f"{tuple(x.shape)}; give one map per image of the same height and width."
        )
    target = check_target(target, n)
    importance = attributions.reshape(n, -1, height * width).sum(1)
    order = importance.argsort(dim=1, descending=True, stable=True)
    positions = torch.arange(height * width, device=order.device).expand(n, -1)
    rank = torch.empty_like(order).scatter_(1, order, positions)
    counts = torch.arange(steps + 1, device=x.device) * (height * width) // steps
    start = blurred(x, blur_sigma or max(height, width) / 16)
    curves = {"deletion": [], "insertion": []}
    per_pass = max(1, batch_size // n)
    with explaining(model):
        for first in range(0, steps + 1, per_pass):
            k = counts[first : first + per_pass]
            changed = (rank[None] < k[:, None, None]).view(len(k), n, 1, height, width)
            changed = changed.to(x.dtype)
            for name, (before, after) in (("deletion", (x, baseline)), ("insertion", (start, x))):
                images = (before * (1 - changed) + after * changed).flatten(0, 1)
                values = _faithfulness_scores(model(images), target, n)
                curves[name].append(values.view(len(k), n))
    fractions = counts.to(x.dtype) / (height * width)
    return FaithfulnessCurves(
        fractions,
        torch.cat(curves["deletion"]).T.contiguous(),
        torch.cat(curves["insertion"]).T.contiguous(),
    )


@dataclass(frozen=True)
class MethodScore:
    """Mean deletion/insertion AUC and ROAD MoRF/LeRF scores of one method over a batch,
    and its time per image."""

    method: str
    deletion_auc: float
    insertion_auc: float
    road_morf: float
    road_lerf: float
    seconds_per_image: float


def compare_methods(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    methods: Mapping[str, Callable[..., torch.Tensor]],
    steps: int = 28,
    batch_size: int = 256,
) -> list[MethodScore]:
    """Time each method on ``x`` and score its attributions with `deletion_insertion`."""
    rows = []
    for name, method in methods.items():
        started = time.perf_counter()
        attributions = method(model, x, target)
        seconds = (time.perf_counter() - started) / len(x)
        curves = deletion_insertion(
            model, x, target, attributions, steps=steps, batch_size=batch_size
        )
        imputed = road(model, x, target, attributions)
        rows.append(
            MethodScore(
                name,
                float(curves.deletion_auc.mean()),
                float(curves.insertion_auc.mean()),
                float(imputed.morf_auc.mean()),
                float(imputed.lerf_auc.mean()),
                seconds,
            )
        )
    return rows


def format_method_scores(rows: list[MethodScore]) -> str:
    """The rows as a Markdown table (also readable as plain text)."""
    lines = [
        "| method | deletion AUC (lower is better) | insertion AUC (higher is better) | "
        "ROAD MoRF (lower is better) | ROAD LeRF (higher is better) | ms/image |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.method} | {r.deletion_auc:.4f} | {r.insertion_auc:.4f} | {r.road_morf:.4f} | "
        f"{r.road_lerf:.4f} | {1000 * r.seconds_per_image:.2f} |"
        for r in rows
    ]
    return "\n".join(lines)
