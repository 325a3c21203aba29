"""Batched occlusion augmentations: Cutout and Random Erasing.

Cutout (DeVries & Taylor 2017, "Improved regularization of convolutional
neural networks with cutout", Sec. 3): zero a ``size`` x ``size`` square at a
uniformly random centre; the square may fall partly outside the image.

Random Erasing (Zhong, Zheng, Kang, Li & Yang 2020, Alg. 1): with probability
p, replace a rectangle of area U(0.02, 0.4) of the image and aspect ratio
log-uniform in (0.3, 1/0.3) by uniform random values.  A rectangle that does
not fit is shrunk to fit (the paper redraws it), so that the batch needs no loop.
"""

from __future__ import annotations

import math

import torch


def box_mask(
    height: int,
    width: int,
    top: torch.Tensor,
    left: torch.Tensor,
    box_h: torch.Tensor,
    box_w: torch.Tensor,
    device: torch.device,
) -> torch.Tensor:
    """(B, 1, H, W) boolean masks, True inside each image's box."""
    rows = torch.arange(height, device=device)[None, :, None]
    cols = torch.arange(width, device=device)[None, None, :]
    top, left = top.to(device)[:, None, None], left.to(device)[:, None, None]
    bottom, right = top + box_h.to(device)[:, None, None], left + box_w.to(device)[:, None, None]
    return ((rows >= top) & (rows < bottom) & (cols >= left) & (cols < right))[:, None]


def cutout(images: torch.Tensor, generator: torch.Generator, size: int) -> torch.Tensor:
    """Zero one ``size`` x ``size`` square per image, centred uniformly in the image."""
    batch, _, height, width = images.shape
    cy = torch.randint(0, height, (batch,), generator=generator)
    cx = torch.randint(0, width, (batch,), generator=generator)
    side = torch.full((batch,), size)
    mask = box_mask(height, width, cy - size // 2, cx - size // 2, side, side, images.device)
    return images.masked_fill(mask, 0.0)


def random_erasing(
    images: torch.Tensor,
    generator: torch.Generator,
    probability: float = 0.5,
    area: tuple[float, float] = (0.02, 0.4),
    aspect: tuple[float, float] = (0.3, 1 / 0.3),
) -> torch.Tensor:
    """Replace a random rectangle by uniform noise in a fraction ``probability`` of images."""
    batch, _, height, width = images.shape
    erase = torch.rand(batch, generator=generator) < probability
    target = (area[0] + (area[1] - area[0]) * torch.rand(batch, generator=generator)) * (
        height * width
    )
    log_low, log_high = math.log(aspect[0]), math.log(aspect[1])
    ratio = torch.exp(log_low + (log_high - log_low) * torch.rand(batch, generator=generator))
    box_h = torch.sqrt(target * ratio).round().clamp(1, height).long()
    box_w = torch.sqrt(target / ratio).round().clamp(1, width).long()
    top = (torch.rand(batch, generator=generator) * (height - box_h + 1)).long()
    left = (torch.rand(batch, generator=generator) * (width - box_w + 1)).long()
    mask = box_mask(height, width, top, left, box_h, box_w, images.device)
    mask &= erase.to(images.device)[:, None, None, None]
    noise = torch.rand(images.shape, generator=generator).to(images.device, images.dtype)
    return torch.where(mask, noise, images)
