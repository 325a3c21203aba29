"""Channel and spatial attention: squeeze-and-excitation and CBAM.

Squeeze-and-excitation (Hu, Shen & Sun 2018, "Squeeze-and-excitation
networks", Fig. 2, eqs. 2-4): z = global average of each channel (squeeze),
s = gate(W2 act(W1 z)) (excitation, bottleneck of ratio r), output = s · x.
W1 and W2 are 1x1 convolutions ``fc1``/``fc2`` (as in torchvision), which
equal the paper's fully connected layers on the pooled vector.

CBAM (Woo, Park, Lee & Kweon 2018, "CBAM: Convolutional block attention
module", eqs. 1-3): channel attention M_c = σ(MLP(avgpool x) + MLP(maxpool x))
with one shared MLP, then spatial attention M_s = σ(conv7x7([mean_c x; max_c x])).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.nn.act import get_act


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never down by more than 10 %.

    The channel rounding of MobileNet v2/v3, MnasNet and EfficientNet (the
    ``_make_divisible`` of their reference code), used for width multipliers
    and squeeze widths.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class SqueezeExcite(nn.Module):
    """x · gate(fc2(act(fc1(avgpool(x))))); ``squeeze_channels`` is C / r."""

    def __init__(
        self, channels: int, squeeze_channels: int, act: str = "relu", gate: str = "sigmoid"
    ):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.act = get_act(act)
        self.gate = get_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.fc2(self.act(self.fc1(self.avgpool(x)))))
        return x * scale


class ChannelAttention(nn.Module):
    """CBAM's M_c: a shared bottleneck MLP on the average- and max-pooled channels (eq. 2)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        peak = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """CBAM's M_s: a 7x7 convolution over the channel-wise mean and max maps (eq. 3)."""

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Sequential):
    """Channel attention followed by spatial attention (Woo et al. 2018, Fig. 1)."""

    def __init__(self, channels: int, reduction: int = 16, kernel: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel)
