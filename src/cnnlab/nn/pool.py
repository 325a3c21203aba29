"""Pooling layers.

* `get_pool`: max or average pooling by name.
* `Subsample2d`: LeNet-5's trainable subsampling (LeCun et al. 1998,
  Sec. II.B): the average of each 2x2 window times a trainable coefficient plus
  a trainable bias, one pair per feature map.  The paper *adds* the four inputs
  before multiplying; that is the same function with the coefficient scaled by
  1/4, so here the coefficient starts at 1 and the layer starts as an average.
* `GlobalAvgPool2d`: one number per feature map (Lin, Chen & Yan 2014,
  "Network in network", Sec. 3.2).
* `SpatialPyramidPool`: a fixed-length vector from maps of any size,
  pooled over 1x1, 2x2, 4x4 grids (He, Zhang, Ren & Sun 2014, "Spatial pyramid
  pooling in deep convolutional networks for visual recognition", Sec. 2.1).
* `FractionalMaxPool2d`: max pooling by a non-integer factor such as √2
  over pseudo-random windows (Graham 2014, "Fractional max-pooling"), with a
  seed so that runs repeat.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, check_choice

POOLS = ("max", "avg")


def get_pool(
    kind: str, kernel: int = 2, stride: int | None = None, padding: int = 0, ceil_mode: bool = False
) -> nn.Module:
    """``nn.MaxPool2d`` (``'max'``) or ``nn.AvgPool2d`` (``'avg'``); stride defaults to kernel.

    Output size: `pool_output_size`.
    """
    check_choice("pooling", kind, POOLS)
    layer = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
    return layer(kernel, stride, padding, ceil_mode=ceil_mode)


class Subsample2d(nn.Module):
    """y_c = w_c · mean(k x k window of x_c) + b_c: LeNet-5's S2/S4 (2 parameters per map).

    The squashing function is applied by the next module, as in the paper.
    """

    def __init__(self, channels: int, kernel: int = 2):
        super().__init__()
        self.kernel_size = self.stride = kernel
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One depthwise convolution whose k x k kernel is w_c / k² everywhere: the same sum
        # as average pooling, scaling and shifting, in one kernel instead of three (1.2x
        # faster forward and backward on channels-last CPU tensors: benchmarks/kernels.py).
        k = self.kernel_size
        kernel = (self.weight / (k * k)).view(-1, 1, 1, 1).expand(-1, 1, k, k)
        return F.conv2d(x, kernel, self.bias, stride=self.stride, groups=len(self.weight))

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kernel={self.kernel_size}"


class GlobalAvgPool2d(nn.Module):
    """Average over H and W: (N, C, H, W) -> (N, C) with ``flatten``, else (N, C, 1, 1)."""

    def __init__(self, flatten: bool = True):
        super().__init__()
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=not self.flatten)

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class SpatialPyramidPool(nn.Module):
    """Pool each map over n x n grids for n in ``levels``: (N, C, H, W) -> (N, C·Σn²).

    He et al. (2014) pool windows of size ceil(a/n) with stride floor(a/n); this
    uses PyTorch's adaptive pooling, whose bins are floor/ceil of i·a/n and
    cover the map exactly (the two agree when n divides a).
    """

    def __init__(self, levels: tuple[int, ...] = (1, 2, 4), kind: str = "max"):
        super().__init__()
        check_choice("pooling", kind, POOLS)
        self.levels, self.kind = tuple(levels), kind
        self._pool = F.adaptive_max_pool2d if kind == "max" else F.adaptive_avg_pool2d

    def output_features(self, channels: int) -> int:
        """Length of the output vector for ``channels`` input maps."""
        return channels * sum(n * n for n in self.levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._pool(x, n).flatten(1) for n in self.levels], dim=1)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, kind={self.kind!r}"


class FractionalMaxPool2d(nn.Module):
    """Max pooling that shrinks each side by ``ratio`` (default 1/√2), seedable.

    Graham (2014): pooling regions from a pseudo-random sequence of increments
    1 and 2.  ``torch.nn.FractionalMaxPool2d`` draws them from the global RNG;
    here they come from a ``torch.Generator`` seeded with ``seed``, so the same
    seed gives the same regions.
    """

    def __init__(self, kernel: int = 2, ratio: float = 1 / math.sqrt(2), seed: int = 0):
        super().__init__()
        if not 0 < ratio < 1:
            raise ConfigError(f"ratio must be in (0, 1), got {ratio}.")
        self.kernel_size, self.ratio, self.seed = kernel, ratio, seed
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        samples = torch.rand(x.shape[0], x.shape[1], 2, generator=self.generator)
        return F.fractional_max_pool2d(
            x,
            self.kernel_size,
            output_ratio=(self.ratio, self.ratio),
            _random_samples=samples.to(device=x.device, dtype=x.dtype),
        )

    def extra_repr(self) -> str:
        return f"kernel={self.kernel_size}, ratio={self.ratio:.4g}, seed={self.seed}"
