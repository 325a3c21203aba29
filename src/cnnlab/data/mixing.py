"""Label-mixing augmentations: Mixup and CutMix, with soft targets.

Mixup (Zhang, Cisse, Dauphin & Lopez-Paz 2018, eq. 1): x̃ = λ x_i + (1 − λ) x_j,
ỹ = λ y_i + (1 − λ) y_j with λ ~ Beta(α, α), j a random permutation of the batch.

CutMix (Yun et al. 2019, eqs. 1-2): paste a box of area fraction 1 − λ from
x_j into x_i at a uniformly random centre (clipped to the image); the targets
are mixed by the area actually pasted.

Both return the mixed images and targets as probabilities (rows summing to 1),
which :class:`torch.nn.CrossEntropyLoss` accepts directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cnnlab.data.erasing import box_mask


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One draw of Beta(α, α) from two Gamma(α) draws, through ``generator``."""
    gamma = torch._standard_gamma(torch.full((2,), float(alpha)), generator=generator)
    return float(gamma[0] / gamma.sum())


def mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each image with a partner from the same batch; one λ per batch as in the paper."""
    lam = _beta(alpha, generator)
    partner = torch.randperm(len(images), generator=generator).to(images.device)
    targets = F.one_hot(labels, num_classes).to(images.dtype)
    mixed = lam * images + (1 - lam) * images[partner]
    return mixed, lam * targets + (1 - lam) * targets[partner]


def cutmix(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a box from a partner image; targets mixed by the pasted area."""
    batch, _, height, width = images.shape
    lam = _beta(alpha, generator)
    cut = math.sqrt(1 - lam)
    box_h, box_w = int(height * cut), int(width * cut)
    cy = int(torch.randint(0, height, (1,), generator=generator))
    cx = int(torch.randint(0, width, (1,), generator=generator))
    top, bottom = max(cy - box_h // 2, 0), min(cy + box_h // 2, height)
    left, right = max(cx - box_w // 2, 0), min(cx + box_w // 2, width)
    mask = box_mask(
        height,
        width,
        torch.tensor([top]),
        torch.tensor([left]),
        torch.tensor([bottom - top]),
        torch.tensor([right - left]),
        images.device,
    )
    partner = torch.randperm(batch, generator=generator).to(images.device)
    mixed = torch.where(mask, images[partner], images)
    pasted = (bottom - top) * (right - left) / (height * width)
    targets = F.one_hot(labels, num_classes).to(images.dtype)
    return mixed, (1 - pasted) * targets + pasted * targets[partner]


def mix_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    mixup_alpha: float = 0.0,
    cutmix_alpha: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or CutMix (one of the two, with equal chance, when both are on)."""
    use_cutmix = cutmix_alpha > 0 and (
        mixup_alpha <= 0 or bool(torch.rand(1, generator=generator) < 0.5)
    )
    if use_cutmix:
        return cutmix(images, labels, num_classes, generator, cutmix_alpha)
    return mixup(images, labels, num_classes, generator, mixup_alpha)
