"""U-Net (Ronneberger, Fischer & Brox 2015, "U-Net: convolutional networks for
biomedical image segmentation", MICCAI, Fig. 1).

A contracting path of stages of two 3x3 convolutions + ReLU, each followed by
2x2 max pooling that halves the size and doubles the channels (64 → 1024), then
an expanding path: a 2x2 up-convolution (transposed convolution, stride 2) that
doubles the size and halves the channels, concatenated with the contracting
stage of the same size (the skip connection), and two 3x3 convolutions; a 1x1
convolution maps the last 64 maps to the class scores of every pixel.

One deliberate difference from Fig. 1: the convolutions are padded ("same"),
so the output has the input's size and the skips need no cropping (the paper's
unpadded 572x572 input gives a 388x388 output).  The input side must be a
multiple of 2^(stages - 1).  The configuration is data: a tuple of widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.models.registry import register_model
from cnnlab.nn.conv import ConvNormAct

PAPER_WIDTHS = (64, 128, 256, 512, 1024)  # Fig. 1
SMALL_WIDTHS = (16, 32, 64, 128)  # for 2 CPU cores


def double_conv(in_ch: int, out_ch: int, batch_norm: bool) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by (batch norm and) ReLU."""
    norm = "batch" if batch_norm else None
    return nn.Sequential(
        ConvNormAct(in_ch, out_ch, 3, norm=norm), ConvNormAct(out_ch, out_ch, 3, norm=norm)
    )


class UNet(nn.Module):
    """U-Net with contracting stages of ``widths`` channels (see the module docstring).

    ``features(x)`` is the last expanding stage's maps (``widths[0]`` channels at
    the input's size); ``head`` the 1x1 convolution to ``num_classes`` scores.
    """

    def __init__(
        self,
        num_classes: int = 2,
        in_chans: int = 1,
        widths: Sequence[int] = PAPER_WIDTHS,
        batch_norm: bool = False,
    ):
        super().__init__()
        widths = tuple(widths)
        self.down = nn.ModuleList(
            double_conv(c_in, c_out, batch_norm)
            for c_in, c_out in zip((in_chans, *widths[:-1]), widths, strict=True)
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(wide, narrow, kernel_size=2, stride=2)
            for wide, narrow in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.merge = nn.ModuleList(
            double_conv(2 * narrow, narrow, batch_norm) for narrow in widths[-2::-1]
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self.multiple = 2 ** (len(widths) - 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.multiple or width % self.multiple:
            raise GeometryError(
                f"U-Net halves the image {len(self.down) - 1} times, so its sides must be "
                f"multiples of {self.multiple}; got {height}x{width}. Pad or resize to "
                f"{-(-height // self.multiple) * self.multiple}x"
                f"{-(-width // self.multiple) * self.multiple}."
            )
        skips = []
        for index, stage in enumerate(self.down):
            x = stage(x if index == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model
def unet(num_classes: int = 2, in_chans: int = 1, **options) -> UNet:
    """U-Net, the paper's widths 64-1024 (padded convolutions): per-pixel class scores.

    Ronneberger, Fischer & Brox (2015), "U-Net: convolutional networks for
    biomedical image segmentation", Fig. 1 (2 classes, 1 input channel).
    """
    return UNet(num_classes, in_chans, PAPER_WIDTHS, **options)


@register_model
def unet_small(num_classes: int = 2, in_chans: int = 1, **options) -> UNet:
    """U-Net with widths 16-128 and batch norm, for 2 CPU cores: per-pixel class scores.

    Ronneberger, Fischer & Brox (2015), Fig. 1, with a sixteenth of its widths
    in four stages and batch normalization (Ioffe & Szegedy 2015) after each
    convolution.
    """
    options.setdefault("batch_norm", True)
    return UNet(num_classes, in_chans, SMALL_WIDTHS, **options)
