"""Label-mixing augmentations: Mixup and CutMix, with soft targets, by torchvision.

Mixup (Zhang, Cisse, Dauphin & Lopez-Paz 2018, eq. 1): x̃ = λ x_i + (1 − λ) x_j,
ỹ = λ y_i + (1 − λ) y_j with λ ~ Beta(α, α), one λ per batch.

CutMix (Yun et al. 2019, eqs. 1-2): paste a box of area fraction 1 − λ from
x_j into x_i at a uniformly random centre (clipped to the image); the targets
are mixed by the area actually pasted.

Both are `torchvision.transforms.v2.MixUp` and
`torchvision.transforms.v2.CutMix`, which pair each sample with the one
before it in the batch (``x_j = x_{i-1}``, a random partner because training
batches are shuffled).  Those transforms draw from PyTorch's global random
number generator; here they run on a forked CPU generator seeded from the
caller's ``generator``, so that a seeded run mixes the same way every time and
the global stream is left as it was.

Both return the mixed images and targets as probabilities (rows summing to 1),
which `torch.nn.CrossEntropyLoss` accepts directly.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2


def _seeded(
    transform: v2.Transform,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``transform`` with the global CPU generator seeded from ``generator``."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        mixed, targets = transform(images, labels)
    return mixed, targets.to(images.dtype)


def mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each image with its batch neighbour; one λ ~ Beta(α, α) per batch as in the paper."""
    return _seeded(v2.MixUp(alpha=alpha, num_classes=num_classes), images, labels, generator)


def cutmix(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
    alpha: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a box from the batch neighbour; targets mixed by the pasted area."""
    return _seeded(v2.CutMix(alpha=alpha, num_classes=num_classes), images, labels, generator)


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
