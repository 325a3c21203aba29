"""Stochastic depth: dropping whole residual branches (Huang, Sun, Liu, Sedra &
Weinberger 2016, "Deep networks with stochastic depth", eq. 2).

During training each sample's residual branch is kept with probability
p = 1 − ``drop_prob`` and scaled by 1/p when kept ("inverted" scaling, so that
inference needs no change); at inference the branch always passes.  The linear
decay rule of the paper (Sec. 3, p_l = 1 − l/L · (1 − p_L)) is
:func:`drop_path_rates`.
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
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def drop_path_rates(final_rate: float, depth: int) -> list[float]:
    """Drop probabilities rising linearly from 0 (first block) to ``final_rate`` (last)."""
    if depth <= 1:
        return [final_rate] * depth
    return [final_rate * i / (depth - 1) for i in range(depth)]
