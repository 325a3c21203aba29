"""Seg-Grad-CAM: Grad-CAM for one class over a region of a segmentation map.

Vinogradova, Dibrov & Myers (2020), "Towards interpretable semantic
segmentation via gradient-weighted class activation mapping", AAAI student
abstract, eq. 1: a segmentation network's output y has one logit map y^c per
class, so Grad-CAM's class score becomes the sum of class c's logits over a
set M of pixels,

    y^c = Σ_{(i,j) ∈ M} y^c_ij,

and the map is Grad-CAM's: α^c_k = mean_ij ∂y^c/∂A^k_ij, L = relu(Σ_k α^c_k A^k)
(Selvaraju et al. 2017, eqs. 1-2).  M is a rectangle of the image or, without
one, every pixel the network assigns to class c.  The score is a target
callable (`cnnlab.explain.target`), so `cnnlab.explain.cam.grad_cam`
computes the map unchanged, and every other attribution method accepts the same
score (``saliency(model, x, RegionScore(...))``).

The default layer is the network's bottleneck (`bottleneck_layer`), the
layer the paper explains; the last spatial layer of a segmentation network is
its score map itself, whose Grad-CAM only repeats the logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.explain.cam import grad_cam
from cnnlab.nn.hooks import trace_outputs

REDUCTIONS = ("sum", "mean")


def region_mask(region: Sequence[int], size: tuple[int, int]) -> torch.Tensor:
    """The (H, W) boolean mask of the rectangle ``(x0, y0, x1, y1)``: columns x0..x1-1, rows
    y0..y1-1, in pixels of an image of ``size`` (H, W)."""
    if len(region) != 4:
        raise ConfigError(f"A region is four integers x0,y0,x1,y1, got {list(region)}.")
    x0, y0, x1, y1 = (int(v) for v in region)
    height, width = size
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ConfigError(
            f"Region x0,y0,x1,y1 = {x0},{y0},{x1},{y1} is not a non-empty rectangle inside the "
            f"{width}x{height} model input: need 0 <= x0 < x1 <= {width} and "
            f"0 <= y0 < y1 <= {height} (x1, y1 exclusive)."
        )
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[y0:y1, x0:x1] = True
    return mask


class RegionScore:
    """Target callable: class ``index``'s logits summed (or averaged) over ``mask``'s pixels.

    ``mask`` is (H, W), the same pixels in every image, or (N, H, W), one set per
    image.  Methods that evaluate copies of a batch stack them copy-major, so an
    output of k·N images gets the per-image masks repeated k times.
    """

    def __init__(self, index: int, mask: torch.Tensor, reduction: str = "sum"):
        self.index = int(index)
        self.mask = mask.bool()
        self.reduction = check_choice("region score reduction", reduction, REDUCTIONS)

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if output.dim() != 4:
            raise ConfigError(
                f"A region score needs a segmentation output (N, classes, H, W), got shape "
                f"{tuple(output.shape)}."
            )
        if not 0 <= self.index < output.shape[1]:
            raise ConfigError(
                f"Class {self.index} is out of range: the model scores {output.shape[1]} classes "
                f"(0..{output.shape[1] - 1})."
            )
        mask = self.mask.to(output.device)
        if mask.shape[-2:] != output.shape[-2:]:
            raise ConfigError(
                f"The region mask is {tuple(mask.shape[-2:])} but the output maps are "
                f"{tuple(output.shape[-2:])}."
            )
        if mask.dim() == 3 and len(output) != len(mask):
            mask = mask.repeat(len(output) // len(mask), 1, 1)
        weights = mask.to(output.dtype).expand(len(output), *output.shape[-2:])
        score = (output[:, self.index] * weights).sum((1, 2))
        if self.reduction == "mean":
            score = score / weights.sum((1, 2)).clamp_min(1)
        return score


@torch.no_grad()
def predicted_mask(model: nn.Module, x: torch.Tensor, index: int) -> torch.Tensor:
    """(N, H, W): the pixels ``model`` assigns to class ``index`` (its arg-max)."""
    return model(x).argmax(1) == index


def bottleneck_layer(model: nn.Module, x: torch.Tensor) -> str:
    """Name of the deepest layer (in execution order) with the smallest spatial output that is
    not a class-score map (its channels differ from the model's number of classes) nor a
    dropout layer.

    An encoder-decoder's bottleneck (SegNet: the first decoder stage, at the deepest
    resolution), an FCN's features before its coarse score layer.
    """
    with torch.no_grad():
        classes = model(x[:1]).shape[1]

    def features(module: nn.Module, output: torch.Tensor) -> bool:
        dropout = isinstance(module, nn.modules.dropout._DropoutNd)  # the identity in eval mode
        return output.dim() == 4 and output.shape[1] != classes and not dropout

    calls = trace_outputs(model, x[:1], features)
    if not calls:
        raise ConfigError("No layer of this model outputs an (N, C, H, W) map; pass a layer.")
    smallest = min(out.shape[-2] * out.shape[-1] for _, out in calls)
    return [name for name, out in calls if out.shape[-2] * out.shape[-1] == smallest][-1]


def seg_grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    index: int,
    region: Sequence[int] | None = None,
    layer: str | None = None,
    reduction: str = "sum",
    upsample: bool = True,
) -> torch.Tensor:
    """Seg-Grad-CAM (Vinogradova et al. 2020, eq. 1) of class ``index`` over ``region``.

    ``region`` is ``(x0, y0, x1, y1)`` in input pixels (x1, y1 exclusive); without
    it, the pixels predicted as ``index``.  ``layer`` defaults to
    `bottleneck_layer`.  Returns (N, 1, H, W) maps, or the layer's size with
    ``upsample=False``.  An image with no pixel in the set gets a zero map.
    """
    if region is None:
        mask = predicted_mask(model, x, index)
    else:
        mask = region_mask(region, tuple(x.shape[-2:]))
    layer = layer or bottleneck_layer(model, x)
    return grad_cam(model, x, RegionScore(index, mask, reduction), layer, upsample)
