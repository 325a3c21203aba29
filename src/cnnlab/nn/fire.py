"""The fire module of SqueezeNet.

Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer (2016), "SqueezeNet:
AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size",
Sec. 3.2 and Fig. 1: a *squeeze* layer of s₁ₓ₁ 1x1 filters feeds an *expand*
layer of e₁ₓ₁ 1x1 and e₃ₓ₃ 3x3 filters whose outputs are concatenated
(e₁ₓ₁ + e₃ₓ₃ maps), every convolution followed by a ReLU.  Keeping
s₁ₓ₁ < e₁ₓ₁ + e₃ₓ₃ limits the input channels of the 3x3 filters (strategy 2
of Sec. 3.1).  Children are named as in torchvision.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import conv2d


class Fire(nn.Module):
    """squeeze 1x1 (s) - ReLU, then [expand 1x1 (e1) - ReLU ; expand 3x3 (e3) - ReLU].

    ``out_channels`` = e1 + e3.
    """

    def __init__(self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        if min(squeeze, expand1x1, expand3x3) < 1:
            raise ConfigError(
                f"A fire module needs squeeze, expand1x1 and expand3x3 >= 1, got "
                f"{squeeze}, {expand1x1}, {expand3x3}."
            )
        self.squeeze = conv2d(in_ch, squeeze, 1)
        self.squeeze_activation = get_act("relu")
        self.expand1x1 = conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = get_act("relu")
        self.expand3x3 = conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = get_act("relu")
        self.out_channels = expand1x1 + expand3x3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            dim=1,
        )
