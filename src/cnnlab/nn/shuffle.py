"""Channel shuffle and the ShuffleNet units built on it.

* `channel_shuffle` (Zhang, Zhou, Lin & Sun 2018, "ShuffleNet: an
  extremely efficient convolutional neural network for mobile devices", CVPR,
  Sec. 3.1 and Fig. 1): reshape the C channels to (g, C/g), transpose,
  flatten, so that the next group convolution sees channels of every group.
* `ShuffleUnit` (ShuffleNet v1, Fig. 2 b and c): 1x1 group conv - BN -
  ReLU, channel shuffle, 3x3 depthwise conv - BN, 1x1 group conv - BN; added
  to the input (stride 1) or concatenated with a 3x3/2 average pool of it
  (stride 2), then ReLU.
* `ShuffleV2Block` (Ma, Zhang, Zheng & Sun 2018, "ShuffleNet V2:
  practical guidelines for efficient CNN architecture design", ECCV, Fig. 3
  c and d): split the channels in two halves, keep one and send the other
  through 1x1 conv - 3x3 depthwise conv - 1x1 conv (stride 1), or send the
  whole input through two branches (stride 2); concatenate, channel shuffle
  with g = 2.

Every convolution is a `ConvNormAct`, so
`fuse_conv_bn` folds all batch norms.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import ConvNormAct


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(N, g·n, H, W) -> channels reshaped to (g, n), transposed to (n, g), flattened."""
    batch, channels, height, width = x.shape
    if channels % groups:
        raise ConfigError(
            f"Channel shuffle with {groups} groups needs a channel count divisible by "
            f"{groups}, got {channels}."
        )
    x = x.view(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.contiguous().view(batch, channels, height, width)


class ChannelShuffle(nn.Module):
    """`channel_shuffle` as a layer (the identity for one group)."""

    def __init__(self, groups: int):
        super().__init__()
        if groups < 1:
            raise ConfigError(f"groups must be >= 1, got {groups}.")
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.groups == 1 else channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2018, Fig. 2 b/c) with ``groups`` = g.

    Children ``gconv1`` (1x1, g groups, or 1 group with ``group_first=False``:
    the first unit of stage 2, whose 24 input channels are too few to split,
    Sec. 3.3), ``shuffle``, ``dwconv`` (3x3 depthwise, ``stride``), ``gconv2``
    (1x1, g groups), ``shortcut`` and ``act``.  At stride 2 the residual branch
    outputs ``out_ch`` − ``in_ch`` maps, concatenated to the pooled input.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        groups: int,
        bottleneck: int,
        group_first: bool = True,
    ):
        super().__init__()
        if not ((stride == 1 and in_ch == out_ch) or (stride == 2 and in_ch < out_ch)):
            raise ConfigError(
                f"A ShuffleNet unit has stride 1 with in_ch == out_ch or stride 2 with "
                f"in_ch < out_ch, got stride={stride}, in_ch={in_ch}, out_ch={out_ch}."
            )
        self.stride = stride
        branch_out = out_ch - in_ch if stride == 2 else out_ch
        self.gconv1 = ConvNormAct(in_ch, bottleneck, 1, groups=groups if group_first else 1)
        self.shuffle = ChannelShuffle(groups)
        self.dwconv = ConvNormAct(bottleneck, bottleneck, 3, stride, groups=bottleneck, act=None)
        self.gconv2 = ConvNormAct(bottleneck, branch_out, 1, groups=groups, act=None)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()
        self.act = get_act("relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gconv2(self.dwconv(self.shuffle(self.gconv1(x))))
        if self.stride == 1:
            return self.act(x + out)
        return self.act(torch.cat((self.shortcut(x), out), dim=1))


class ShuffleV2Block(nn.Module):
    """ShuffleNet v2 unit (Ma et al. 2018, Fig. 3 c/d); ``out_ch`` must be even.

    ``branch2`` (children ``pw1``, ``dw``, ``pw2``) transforms half of the
    channels at stride 1 and the whole input at stride 2, where ``branch1``
    (``dw``, ``pw``) replaces the identity half.  The outputs are concatenated
    and shuffled with two groups.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        half = out_ch // 2
        if stride not in (1, 2) or out_ch % 2 or (stride == 1 and in_ch != out_ch):
            raise ConfigError(
                f"A ShuffleNet v2 unit needs an even out_ch, and in_ch == out_ch at stride 1; "
                f"got stride={stride}, in_ch={in_ch}, out_ch={out_ch}."
            )
        self.stride = stride
        if stride == 2:
            self.branch1 = nn.Sequential(
                OrderedDict(
                    dw=ConvNormAct(in_ch, in_ch, 3, stride, groups=in_ch, act=None),
                    pw=ConvNormAct(in_ch, half, 1),
                )
            )
        self.branch2 = nn.Sequential(
            OrderedDict(
                pw1=ConvNormAct(in_ch if stride == 2 else half, half, 1),
                dw=ConvNormAct(half, half, 3, stride, groups=half, act=None),
                pw2=ConvNormAct(half, half, 1),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            kept, transformed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(transformed)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)
