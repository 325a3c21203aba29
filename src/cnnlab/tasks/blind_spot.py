"""Noise2Void's blind-spot masking (Krull, Buchholz & Jug 2019, "Noise2Void —
learning denoising from single noisy images", CVPR, Sec. 3, Fig. 2).

A network that sees a pixel's own noisy value learns the identity.  Noise2Void
hides it: in every training image a few pixels are chosen by stratified
sampling (the image is cut into strata of s x s pixels and one pixel is drawn
uniformly in each, about 1/s² of the pixels; the paper masks 64 of a 64 x 64
patch, 1.6 %), each chosen pixel is replaced by the value of a pixel drawn
uniformly from its window (``window`` x ``window``, 5 x 5 in the paper) other
than itself, and the loss is measured only at the chosen pixels, against their
original noisy values.  With noise that is zero-mean and independent between
pixels given the signal, the expected loss is minimised by the clean signal.

A replacement offset that would leave the image is mirrored (−dy for dy,
−dx for dx): the neighbour stays inside the image and is never the pixel itself.
"""

from __future__ import annotations

import math

import torch

from cnnlab.errors import ConfigError


def stratum_side(fraction: float) -> int:
    """The side s of the strata that mask about ``fraction`` of the pixels (1/s²)."""
    return max(1, round(1 / math.sqrt(fraction)))


def blind_spot(
    noisy: torch.Tensor, fraction: float, window: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(masked, mask)`` of a noisy batch ``(B, C, H, W)``: see the module docstring.

    ``masked`` is ``noisy`` with the chosen pixels (all channels) replaced by their
    neighbours' values; ``mask`` is ``(B, 1, H, W)``, 1 at the chosen pixels.
    Random draws come from the CPU ``generator``.
    """
    batch, _, height, width = noisy.shape
    radius = window // 2
    if window % 2 == 0 or min(height, width) < window:
        raise ConfigError(
            f"the Noise2Void window must be odd and fit the {height}x{width} images, got "
            f"{window}; pass --n2v-window 3 or 5."
        )
    side = stratum_side(fraction)
    starts_y = torch.arange(0, height, side)
    starts_x = torch.arange(0, width, side)
    shape = (batch, len(starts_y), len(starts_x))
    extent_y = (height - starts_y).clamp(max=side)[:, None]  # strata at the edge are smaller
    extent_x = (width - starts_x).clamp(max=side)[None, :]
    y = starts_y[:, None] + (torch.rand(shape, generator=generator) * extent_y).long()
    x = starts_x[None, :] + (torch.rand(shape, generator=generator) * extent_x).long()
    centre = window * window // 2
    pick = torch.randint(0, window * window - 1, shape, generator=generator)
    pick += pick >= centre  # every position of the window but the centre
    dy, dx = pick // window - radius, pick % window - radius
    source_y = torch.where((y + dy < 0) | (y + dy >= height), y - dy, y + dy)
    source_x = torch.where((x + dx < 0) | (x + dx >= width), x - dx, x + dx)
    b = torch.arange(batch)[:, None, None].expand(shape)
    b, y, x, source_y, source_x = (t.to(noisy.device) for t in (b, y, x, source_y, source_x))
    masked = noisy.clone()
    masked[b, :, y, x] = noisy[b, :, source_y, source_x]
    mask = torch.zeros(batch, 1, height, width, device=noisy.device, dtype=noisy.dtype)
    mask[b, 0, y, x] = 1
    return masked, mask


def blind_spot_loss(output: torch.Tensor, noisy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error between ``output`` and ``noisy`` over the masked pixels only."""
    squared = (output - noisy).square() * mask
    return squared.sum() / (mask.sum() * output.shape[1]).clamp(min=1)
