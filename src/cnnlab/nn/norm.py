"""Normalization layers.

:class:`Normalize` puts the data set's preprocessing at the front of a model,
so that every model takes images in [0, 1] and a saved run carries its own
preprocessing (per-channel mean/std, or the AlexNet "mean image").

:func:`get_norm` builds the normalization layer of a conv block by name:
batch (Ioffe & Szegedy 2015), group (Wu & He 2018) or layer norm (Ba, Kiros &
Hinton 2016; for feature maps: one group over C, H and W).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice

NORMS = ("batch", "group", "layer")


class Normalize(nn.Module):
    """``(x - mean) / std`` with ``mean``/``std`` of shape (C, 1, 1) or (C, H, W).

    A (C, H, W) mean is the "mean image" of Krizhevsky et al. (2012), Sec. 2;
    a (C, 1, 1) mean/std is per-channel standardization.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        if mean.dim() == 1:
            mean = mean[:, None, None]
        if std.dim() == 1:
            std = std[:, None, None]
        if (std <= 0).any():
            raise ValueError("Normalize: every std must be > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean_shape={tuple(self.mean.shape)}, std_shape={tuple(self.std.shape)}"


def get_norm(name: str, channels: int, groups: int = 32) -> nn.Module:
    """Normalization layer ``name`` (one of :data:`NORMS`) for ``channels`` feature maps.

    ``groups`` is the number of groups of group norm (Wu & He 2018 use 32),
    capped at ``channels``; it must divide ``channels``.
    """
    check_choice("normalization", name, NORMS)
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    groups = min(groups, channels)
    if channels % groups:
        raise ConfigError(
            f"Group norm with {groups} groups needs a channel count divisible by {groups}, "
            f"got {channels}; pick groups among the divisors of {channels}."
        )
    return nn.GroupNorm(groups, channels)
