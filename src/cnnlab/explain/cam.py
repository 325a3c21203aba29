"""Class activation maps: CAM, Grad-CAM, guided Grad-CAM, Grad-CAM++.

Each takes ``(model, x, target, layer=None)`` and returns one map per image,
shape (N, 1, H, W) upsampled bilinearly to the input size (or the layer's
(N, 1, h, w) with ``upsample=False``).  ``layer`` is a name from
``model.named_modules()``; by default the last layer with a spatial output
(`last_spatial_layer`).  A batch costs one forward
and one backward pass.

With A^k the k-th map of the layer and S the explained score:

* Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep
  networks via gradient-based localization", eqs. 1-2):
  α_k = mean_ij ∂S/∂A^k_ij,  L = relu(Σ_k α_k A^k).
* CAM (Zhou, Khosla, Lapedriza, Oliva & Torralba 2016, "Learning deep features
  for discriminative localization", eq. 2): M = Σ_k w_k A^k for a model that
  global-average-pools A and feeds it to a linear classifier with weights w.
  There ∂S/∂A^k_ij = w_k / (h·w) everywhere, so M = h·w·Σ_k α_k A^k: computed
  that way, no classifier layer has to be found.  Models without global
  average pooling after ``layer`` are refused.
* Guided Grad-CAM (Selvaraju et al. 2017, Sec. 3.1): guided backpropagation
  times the upsampled Grad-CAM map, shape of x.
* Grad-CAM++ (Chattopadhay, Sarkar, Howlader & Balasubramanian 2018, eq. 19
  with the exponential score of Sec. 3.2): α^kc_ij = g² / (2g² + Σ_ab A^k_ab g³),
  w_k = Σ_ij α^kc_ij relu(g_ij), L = relu(Σ_k w_k A^k), with g = ∂S/∂A^k_ij.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.explain.context import explaining, last_spatial_layer
from cnnlab.explain.gradients import guided_backprop
from cnnlab.explain.target import Target, differentiable, target_scores
from cnnlab.nn.hooks import capture_activations


def layer_gradient(
    model: nn.Module, x: torch.Tensor, target: Target, layer: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, ∂S/∂A): the activation of ``layer`` (default: last spatial layer) and its gradient."""
    with explaining(model):
        name = layer or last_spatial_layer(model, x)
        with capture_activations(model, [name]) as store, torch.enable_grad():
            scores = target_scores(model(differentiable(x)), target)
        activation = store.get(name)
        if activation is None or activation.dim() != 4:
            shape = None if activation is None else tuple(activation.shape)
            raise ConfigError(
                f"Layer {name!r} must output an (N, C, H, W) tensor during the forward pass, "
                f"got {shape}; choose a convolutional layer."
            )
        with torch.enable_grad():  # the sum must be part of the graph under no_grad too
            (grad,) = torch.autograd.grad(scores.sum(), activation)
    return activation.detach(), grad


def _resize(maps: torch.Tensor, x: torch.Tensor, upsample: bool) -> torch.Tensor:
    if not upsample or maps.shape[-2:] == x.shape[-2:]:
        return maps
    return F.interpolate(maps, size=x.shape[-2:], mode="bilinear", align_corners=False)


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    layer: str | None = None,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017, eqs. 1-2): relu(Σ_k mean(∂S/∂A^k)·A^k)."""
    activation, grad = layer_gradient(model, x, target, layer)
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    return _resize(F.relu((alpha * activation).sum(1, keepdim=True)), x, upsample)


def cam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    layer: str | None = None,
    upsample: bool = True,
) -> torch.Tensor:
    """CAM (Zhou et al. 2016, eq. 2): Σ_k w_k A^k for global-average-pooling models (signed)."""
    activation, grad = layer_gradient(model, x, target, layer)
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    scale = grad.abs().amax().clamp_min(torch.finfo(grad.dtype).tiny)
    if not torch.allclose(grad / scale, alpha.expand_as(grad) / scale, atol=1e-4):
        raise ConfigError(
            "CAM needs a model that global-average-pools the explained layer before a linear "
            "classifier (Zhou et al. 2016); this one does not (the score's gradient varies "
            "over the map). Use grad-cam, which works for any architecture, or pass the layer "
            "right before the global average pooling."
        )
    height, width = activation.shape[-2:]
    return _resize(height * width * (alpha * activation).sum(1, keepdim=True), x, upsample)


def guided_grad_cam(
    model: nn.Module, x: torch.Tensor, target: Target, layer: str | None = None
) -> torch.Tensor:
    """Guided Grad-CAM (Selvaraju et al. 2017, Sec. 3.1): guided backprop ⊙ Grad-CAM."""
    return guided_backprop(model, x, target) * grad_cam(model, x, target, layer)


def grad_cam_plus_plus(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    layer: str | None = None,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhay et al. 2018, eq. 19): pixel-weighted positive gradients."""
    activation, grad = layer_gradient(model, x, target, layer)
    grad2, grad3 = grad**2, grad**3
    denominator = 2 * grad2 + activation.sum(dim=(2, 3), keepdim=True) * grad3
    safe = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    alpha = torch.where(denominator != 0, grad2 / safe, torch.zeros_like(grad2))
    weights = (alpha * F.relu(grad)).sum(dim=(2, 3), keepdim=True)
    return _resize(F.relu((weights * activation).sum(1, keepdim=True)), x, upsample)
