"""Dropping parts of a network during training: whole residual branches, or weights.

Stochastic depth (Huang, Sun, Liu, Sedra & Weinberger 2016, "Deep networks
with stochastic depth", eq. 2): during training each sample's residual branch
is kept with probability p = 1 − ``drop_prob`` and scaled by 1/p when kept
("inverted" scaling, so that inference needs no change); at inference the
branch always passes.  The linear decay rule of the paper (Sec. 3,
p_l = 1 − l/L · (1 − p_L)) is `drop_path_rates`.

DropConnect (Wan, Zeiler, Zhang, LeCun & Fergus 2013, "Regularization of
neural networks using DropConnect", eq. 2): each *weight* of a linear layer is
zeroed with probability ``drop_prob`` (dropout zeroes activations).  One mask
is drawn per batch and the kept weights are scaled by 1/(1 − p); at inference
the layer uses its full weights (the paper's mean-field approximation, Sec. 3).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError


class DropPath(nn.Module):
    """Zero each sample's input with probability ``drop_prob`` in training, scale the rest."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ConfigError(f"drop_prob must be in [0, 1), got {drop_prob}.")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        # scale the (N, 1, 1, 1) mask, not the activations: one full-size product
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep).div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def drop_path_rates(final_rate: float, depth: int) -> list[float]:
    """Drop probabilities rising linearly from 0 (first block) to ``final_rate`` (last)."""
    if depth <= 1:
        return [final_rate] * depth
    return [final_rate * i / (depth - 1) for i in range(depth)]


class DropConnectLinear(nn.Linear):
    """A linear layer whose weights are dropped with probability ``drop_prob`` in training."""

    def __init__(self, in_features: int, out_features: int, drop_prob: float = 0.5, bias=True):
        super().__init__(in_features, out_features, bias)
        if not 0.0 <= drop_prob < 1.0:
            raise ConfigError(f"drop_prob must be in [0, 1), got {drop_prob}.")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return super().forward(x)
        keep = 1.0 - self.drop_prob
        mask = torch.empty_like(self.weight).bernoulli_(keep)
        return nn.functional.linear(x, self.weight * mask / keep, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, drop_prob={self.drop_prob}"
