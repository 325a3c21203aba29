"""SegNet (Badrinarayanan, Kendall & Cipolla 2017, "SegNet: a deep convolutional
encoder-decoder architecture for image segmentation", IEEE TPAMI, Fig. 2-3).

The encoder is VGG-16's 13 convolutional layers (3x3 convolution, batch norm,
ReLU) in five stages, each ending in 2x2 max pooling that *remembers the
switches* — where each window's maximum was.  The decoder mirrors it: each
stage first *max-unpools* with the switches of its encoder stage (Sec. 3, Fig.
3: the values go back to the positions the maxima came from, zeros elsewhere;
no encoder maps are copied, unlike U-Net), then densifies the sparse map with
as many convolutions as the encoder stage had, the last of them narrowing to the
next stage's width.  A 1x1 convolution gives every pixel its class scores.

The configuration is data: ``(depth, width)`` per stage.  The input side must
be a multiple of 2^stages.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.models.registry import register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.upsample import MaxUnpool

VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))  # Fig. 2, VGG-16's 13 convs
SMALL_STAGES = ((2, 16), (2, 32), (2, 64), (2, 128))  # for 2 CPU cores


def _convs(in_ch: int, widths: Sequence[int]) -> nn.Sequential:
    """3x3 convolution + batch norm + ReLU for each width in turn."""
    inputs = (in_ch, *widths[:-1])
    return nn.Sequential(
        *(ConvNormAct(c_in, c_out, 3) for c_in, c_out in zip(inputs, widths, strict=True))
    )


class SegNet(nn.Module):
    """Encoder-decoder with max-unpooling by the encoder's switches (see the module docstring).

    ``features(x)`` is the last decoder stage's maps (the first stage's width at
    the input's size); ``head`` the 1x1 convolution to ``num_classes`` scores.
    """

    def __init__(
        self,
        num_classes: int = 2,
        in_chans: int = 1,
        stages: Sequence[tuple[int, int]] = VGG16_STAGES,
    ):
        super().__init__()
        stages = tuple(stages)
        inputs = (in_chans, *(width for _, width in stages[:-1]))
        self.encoder = nn.ModuleList(
            _convs(c_in, [width] * depth)
            for c_in, (depth, width) in zip(inputs, stages, strict=True)
        )
        # decoder stage i (deepest first) keeps stage i's width, then narrows to stage i-1's
        narrower = (*(width for _, width in stages[-2::-1]), stages[0][1])
        self.decoder = nn.ModuleList(
            _convs(width, [width] * (depth - 1) + [narrow])
            for (depth, width), narrow in zip(stages[::-1], narrower, strict=True)
        )
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = MaxUnpool()
        self.head = nn.Conv2d(stages[0][1], num_classes, kernel_size=1)
        self.multiple = 2 ** len(stages)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.multiple or width % self.multiple:
            raise GeometryError(
                f"SegNet halves the image {len(self.encoder)} times, so its sides must be "
                f"multiples of {self.multiple}; got {height}x{width}. Pad or resize to "
                f"{-(-height // self.multiple) * self.multiple}x"
                f"{-(-width // self.multiple) * self.multiple}."
            )
        remembered = []
        for stage in self.encoder:
            x = stage(x)
            size = x.shape
            x, switches = self.pool(x)
            remembered.append((switches, size))
        for stage in self.decoder:
            switches, size = remembered.pop()
            x = stage(self.unpool(x, switches, size))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model
def segnet(num_classes: int = 2, in_chans: int = 1, **options) -> SegNet:
    """SegNet, VGG-16 encoder and mirrored decoder with max-unpooling indices.

    Badrinarayanan, Kendall & Cipolla (2017), "SegNet: a deep convolutional
    encoder-decoder architecture for image segmentation", Fig. 2-3.
    """
    return SegNet(num_classes, in_chans, VGG16_STAGES, **options)


@register_model
def segnet_small(num_classes: int = 2, in_chans: int = 1, **options) -> SegNet:
    """SegNet with four stages of two convolutions, widths 16-128, for 2 CPU cores.

    Badrinarayanan, Kendall & Cipolla (2017), Fig. 2-3, scaled down.
    """
    return SegNet(num_classes, in_chans, SMALL_STAGES, **options)
