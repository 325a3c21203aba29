"""Universal adversarial perturbations: one image-agnostic v that fools most images.

Moosavi-Dezfooli, Fawzi, Fawzi & Frossard (2017). Universal adversarial
perturbations. CVPR, Algorithm 1 and Table 2 (transfer across architectures).

Algorithm 1: start from v = 0 and pass over the data in random order; for each
image x_i that x_i + v does not fool yet, find with DeepFool the minimal Δv_i
that sends x_i + v + Δv_i across the boundary, then project v + Δv_i back onto
the ℓp ball of radius ξ (P_{p,ξ}).  Stop when the fooling rate on the data,
the fraction of images whose predicted class changes under v, reaches 1 − δ
(or after ``max_passes``).  Images stay in [0, 1]: x + v is clipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.attack.base import check_eps, frozen, make_generator, project
from cnnlab.attack.minimal import DeepFool
from cnnlab.errors import ConfigError


@dataclass
class UniversalPerturbation:
    """The perturbation v (C, H, W), its fooling rate on the fitting images, passes used."""

    perturbation: torch.Tensor
    fooling_rate: float
    passes: int

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """``images + v``, clipped to [0, 1]."""
        return (images + self.perturbation.to(images.device)).clamp(0, 1)


@torch.no_grad()
def _predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    return torch.cat(
        [model(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)]
    )


def fooling_rate(
    model: nn.Module, images: torch.Tensor, perturbation: torch.Tensor, batch_size: int = 512
) -> float:
    """Fraction of ``images`` whose predicted class changes when ``perturbation`` is added."""
    with frozen(model):
        clean = _predict(model, images, batch_size)
        fooled = _predict(model, (images + perturbation.to(images.device)).clamp(0, 1), batch_size)
    return (clean != fooled).float().mean().item()


def universal_perturbation(
    model: nn.Module,
    images: torch.Tensor,
    *,
    xi: float = 0.2,
    norm: str = "linf",
    delta: float = 0.2,
    max_passes: int = 10,
    overshoot: float = 0.02,
    deepfool_steps: int = 10,
    seed: int | torch.Generator = 0,
) -> UniversalPerturbation:
    """Algorithm 1 of Moosavi-Dezfooli et al. (2017).

    Parameters
    ----------
    model
        classifier taking images in [0, 1].
    images
        the data X (N, C, H, W) the perturbation is fitted on.
    xi
        ξ, the radius of the ℓp ball v must stay in (pixel units).
    norm
        p, ``'linf'`` or ``'l2'``.
    delta
        δ; stop once the fooling rate on ``images`` reaches 1 − δ.
    max_passes
        at most this many passes over ``images``.
    overshoot, deepfool_steps
        of the inner DeepFool.
    seed
        seed or generator of the image order.

    Returns
    -------
    UniversalPerturbation
    """
    check_eps(xi, norm)
    if not 0 <= delta < 1:
        raise ConfigError(f"delta must be in [0, 1), got {delta!r}.")
    if len(images) == 0:
        raise ConfigError("universal_perturbation needs at least one image.")
    generator = make_generator(seed)
    deepfool = DeepFool(steps=deepfool_steps, overshoot=overshoot)
    v = torch.zeros_like(images[:1])
    rate, passes = 0.0, 0
    with frozen(model):
        clean = _predict(model, images)
        while passes < max_passes and rate < 1 - delta:
            passes += 1
            for i in torch.randperm(len(images), generator=generator).tolist():
                x = (images[i : i + 1] + v).clamp(0, 1)
                label = clean[i : i + 1]
                with torch.no_grad():
                    if model(x).argmax(1) != label:
                        continue
                step, reached = deepfool.boundary(model, x, label)
                if reached.item() != label.item():
                    v = project(v + (1 + overshoot) * step, xi, norm)
            rate = fooling_rate(model, images, v[0])
    return UniversalPerturbation(v[0].detach(), rate, passes)


def transfer_matrix(
    models: Mapping[str, nn.Module],
    perturbations: Mapping[str, torch.Tensor],
    images: torch.Tensor,
) -> dict[str, dict[str, float]]:
    """Fooling rate of each perturbation (rows) on each model (columns), as in Table 2.

    ``perturbations[name]`` is usually the universal perturbation fitted on
    ``models[name]``; the diagonal is then the white-box fooling rate and the
    rest measures how it transfers.  Use held-out ``images``.
    """
    return {
        source: {target: fooling_rate(model, images, v) for target, model in models.items()}
        for source, v in perturbations.items()
    }
