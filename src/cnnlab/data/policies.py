"""Learned and random augmentation policies, from torchvision.

AutoAugment (Cubuk et al. 2019, the ImageNet/CIFAR-10/SVHN policies),
RandAugment (Cubuk et al. 2020: N random operations of magnitude M) and
TrivialAugment (Müller & Hutter 2021: one random operation of random
magnitude) are torchvision's implementations, which work on uint8 images and
draw one choice per call; here each image gets its own call, under a global
seed drawn from the batch's ``torch.Generator`` so that a run stays repeatable.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

POLICIES = {
    "autoaugment": lambda arg: v2.AutoAugment(v2.AutoAugmentPolicy(arg or "imagenet")),
    "randaugment": lambda arg: v2.RandAugment(num_ops=int(arg or 2)),
    "trivialaugment": lambda arg: v2.TrivialAugmentWide(),
}


def apply_policy(
    images: torch.Tensor, generator: torch.Generator, policy: v2.Transform
) -> torch.Tensor:
    """Apply ``policy`` to each image of a float batch in [0, 1] separately."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    as_uint8 = (images * 255).round().clamp(0, 255).to(torch.uint8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = torch.stack([policy(image) for image in as_uint8])
    return out.to(images.dtype) / 255
