"""Data set statistics for input normalization, in [0, 1] pixel units.

``channel_stats`` gives the per-channel mean and (population) standard deviation
used by ``Normalize(mean, std)`` at the front of a model; ``mean_image`` gives
the per-pixel mean image that AlexNet subtracts (Krizhevsky et al., 2012, §2).
Sums are accumulated in float64 over batches, so memory stays bounded.

A channel that barely varies (all-black images, a grey scan saved as RGB with a
constant channel) has a standard deviation of 0; ``Normalize`` would divide by
it.  The standard deviation is floored at `STD_FLOOR`, one grey level of
8-bit data: such a channel is centred, and its sub-grey-level noise is not
amplified.
"""

from __future__ import annotations

import torch

from cnnlab.data.datasets import ImageDataset
from cnnlab.data.loader import make_loader
from cnnlab.errors import DataError

_BATCH = 1024
STD_FLOOR = 1 / 255


def _sums(dataset: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel sum and sum of squares, float64 ``(C, H, W)``."""
    if len(dataset) == 0:
        raise DataError("Cannot compute statistics of an empty data set.")
    total = torch.zeros(dataset.image_shape, dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    for x, _ in make_loader(dataset, _BATCH, shuffle=False):
        x = x.double()
        total += x.sum(0)
        total_sq += x.square().sum(0)
    return total, total_sq


def channel_stats(dataset: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(mean, std)`` over all pixels of all images, each float32 ``(C,)``.

    ``std`` is at least `STD_FLOOR` (a constant channel would make it 0).
    """
    total, total_sq = _sums(dataset)
    count = len(dataset) * total[0].numel()
    mean = total.sum((1, 2)) / count
    var = (total_sq.sum((1, 2)) / count - mean.square()).clamp_min(0)
    return mean.float(), var.sqrt().clamp_min(STD_FLOOR).float()


def mean_image(dataset: ImageDataset) -> torch.Tensor:
    """The mean image, float32 ``(C, H, W)`` in [0, 1]."""
    return (_sums(dataset)[0] / len(dataset)).float()
