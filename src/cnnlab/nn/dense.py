"""Dense connectivity: dense layer, dense block and transition layer.

Huang, Liu, van der Maaten & Weinberger (2017), "Densely connected
convolutional networks", CVPR, Sec. 3:

* layer ℓ of a dense block sees the concatenation of all earlier feature
  maps, x_ℓ = H_ℓ([x_0, x_1, ..., x_{ℓ−1}]) (eq. 2), and adds k maps (the
  growth rate) to it, so a block of L layers on k_0 input maps outputs
  k_0 + L·k maps;
* H_ℓ is pre-activation BN-ReLU-conv3x3 ("composite function"); with a
  bottleneck (DenseNet-B) it is BN-ReLU-conv1x1(4k)-BN-ReLU-conv3x3(k);
* a transition layer between blocks is BN-ReLU-conv1x1-avgpool2x2, and with
  compression θ (DenseNet-C) it outputs ⌊θ·m⌋ of its m input maps.

Layers are named as in torchvision (``norm1``, ``relu1``, ``conv1``,
``norm2``, ``relu2``, ``conv2``; ``norm``, ``relu``, ``conv``, ``pool``), so
its DenseNet state dicts load unchanged.

Because the convolutions come *after* their batch norms, most BNs cannot be
folded into a convolution (`fuse_conv_bn` folds a conv
into the BN that *follows* it): ``norm1`` normalises concatenated maps that
feed many layers.  The one pair that does fold is a bottleneck's
``conv1`` → ``norm2``, adjacent children of the `DenseLayer` sequence.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.conv import conv2d


class DenseLayer(nn.Sequential):
    """H_ℓ: BN-ReLU-conv3x3(k), with ``bn_size`` > 0 preceded by BN-ReLU-conv1x1(bn_size·k).

    Huang et al. (2017), Sec. 3 ("Composite function", "Bottleneck layers",
    bn_size = 4).  ``drop_rate`` > 0 adds dropout on the k new maps (child
    ``drop``), as torchvision does; the paper uses 0.2 on CIFAR without data
    augmentation.
    """

    def __init__(self, in_ch: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__()
        if growth_rate < 1 or bn_size < 0 or not 0 <= drop_rate < 1:
            raise ConfigError(
                f"A dense layer needs growth_rate >= 1, bn_size >= 0 and 0 <= drop_rate < 1, "
                f"got growth_rate={growth_rate}, bn_size={bn_size}, drop_rate={drop_rate}."
            )
        width = in_ch
        if bn_size:
            self.norm1 = nn.BatchNorm2d(in_ch)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = conv2d(in_ch, bn_size * growth_rate, 1, bias=False)
            width = bn_size * growth_rate
        last = "2" if bn_size else "1"
        self.add_module(f"norm{last}", nn.BatchNorm2d(width))
        self.add_module(f"relu{last}", nn.ReLU(inplace=True))
        self.add_module(f"conv{last}", conv2d(width, growth_rate, 3, padding=1, bias=False))
        if drop_rate > 0:
            self.drop = nn.Dropout(drop_rate)


class DenseBlock(nn.Module):
    """``num_layers`` dense layers ``denselayer1``..., each fed all earlier maps (eq. 2).

    ``out_channels`` = in_ch + num_layers · growth_rate.
    """

    def __init__(
        self,
        num_layers: int,
        in_ch: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"A dense block needs at least one layer, got {num_layers}.")
        for i in range(num_layers):
            layer = DenseLayer(in_ch + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = in_ch + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.children():
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN-ReLU-conv1x1(out_ch)-avgpool2x2 between dense blocks (Sec. 3, "Pooling layers")."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = conv2d(in_ch, out_ch, 1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


def compressed_channels(channels: int, compression: float) -> int:
    """⌊θ·m⌋ output maps of a transition layer with compression θ ∈ (0, 1] (DenseNet-C)."""
    if not 0 < compression <= 1:
        raise ConfigError(f"compression must be in (0, 1], got {compression}.")
    return int(compression * channels)
