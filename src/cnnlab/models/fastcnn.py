"""``fastcnn28``: airbench's network scaled down to 28x28 grey images on CPUs.

K. Jordan, "94 % on CIFAR-10 in 3.29 seconds on a single GPU" (arXiv:2404.00498,
2024), Sec. 3.1: blocks of convolution, 2x2 max-pooling, batch normalization and
GELU, a BN momentum well above PyTorch's default (the running statistics follow
the fast-moving weights of a short run) and a linear classifier on pooled
features.  For 28x28 grey images on a CPU each block has one 3x3 convolution
(airbench has two), and the widths (16-32-64) are a quarter of airbench's
(64-256-256) or less, so that a training epoch of 60,000 images takes seconds on
one core; three poolings leave 3x3 maps, which the head flattens (the spatial
layout of a garment or a digit is part of its class).  It is the model of the
``fast`` recipe (`cnnlab.train.recipes`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.base import Classifier
from cnnlab.models.registry import register_model

INPUT_SIZE = 28


def conv_block(in_ch: int, out_ch: int, bn_momentum: float) -> nn.Sequential:
    """Conv 3x3 (no bias: BN follows) -> max-pool 2 -> BN -> GELU (airbench's order)."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            pool=nn.MaxPool2d(2),
            bn=nn.BatchNorm2d(out_ch, momentum=bn_momentum),
            act=nn.GELU(),
        )
    )


class FastCNN28(Classifier):
    """Three conv blocks (28 -> 14 -> 7 -> 3 pixels), flatten, linear."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        widths: Sequence[int] = (16, 32, 64),
        bn_momentum: float = 0.4,
    ):
        if len(widths) != 3 or any(int(w) < 1 for w in widths):
            raise ConfigError(
                f"fastcnn28 widths must be three positive numbers (one per block), got "
                f"{list(widths)}; e.g. widths=16,32,64."
            )
        if not 0.0 < bn_momentum <= 1.0:
            raise ConfigError(f"fastcnn28 bn_momentum must be in (0, 1], got {bn_momentum!r}.")
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_chans
        for i, width in enumerate(widths, start=1):
            blocks[f"block{i}"] = conv_block(width_in, int(width), bn_momentum)
            width_in = int(width)
        side = INPUT_SIZE // 2**3
        head = nn.Sequential(
            OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(width_in * side * side, num_classes))
        )
        super().__init__(nn.Sequential(blocks), head, (in_chans, INPUT_SIZE, INPUT_SIZE))


@register_model(num_classes=10, in_chans=1)  # Fashion-MNIST, MNIST, KMNIST
def fastcnn28(
    num_classes: int = 10,
    in_chans: int = 1,
    widths: Sequence[int] = (16, 32, 64),
    bn_momentum: float = 0.4,
) -> FastCNN28:
    """airbench-style CNN for 28x28 images (Jordan 2024): three conv-pool-BN-GELU blocks
    of ``widths`` maps, flatten, linear; ``bn_momentum`` is PyTorch's (weight of the
    newest batch)."""
    return FastCNN28(num_classes, in_chans, widths, bn_momentum)
