"""Network in Network: Lin, Chen & Yan (2014), "Network in network", ICLR,
Sec. 3 (mlpconv layers, global average pooling) and Sec. 4.2 (CIFAR-10 model).

An mlpconv layer (Sec. 3.1, eq. 2) is a small multilayer perceptron slid over
the input: a k x k convolution followed by 1x1 convolutions (the paper's
"cascaded cross channel parametric pooling"), each with a ReLU.  The CIFAR-10
network stacks three of them; the first two are followed by 3x3 stride-2 max
pooling and dropout 0.5 ("applied on the outputs of all but the last mlpconv
layers"), and the last one has one map per class, which global average pooling
turns into the class scores (Sec. 3.2): no fully connected layer.  Here the
last 1x1 convolution (one map per class) and the pooling form ``head``
(``head.classes``, ``head.gap``), so that ``features`` ends with 192 maps and
the head is what changes with the number of classes.

The paper gives no layer widths; `NIN_CIFAR10` takes them from the
authors' released CIFAR-10 model (Caffe Model Zoo, "NIN-CIFAR10"), which pads
the 5x5 and 3x3 convolutions to keep the size and pools with Caffe's ceil mode
(32 → 16 → 8); it uses average pooling in the second pooling layer, here it is
max pooling as the paper's text says.  As in eq. 2 and the released model, the
last 1x1 convolution is also followed by a ReLU:

    block     layers (kernel-maps)        output      parameters
    mlpconv1  5x5-192, 1x1-160, 1x1-96    32x32x96       60 928
    pool1     3x3/2 max, dropout          16x16x96
    mlpconv2  5x5-192, 1x1-192, 1x1-192   16x16x192     535 104
    pool2     3x3/2 max, dropout          8x8x192
    mlpconv3  3x3-192, 1x1-192            8x8x192       369 024
    classes   1x1-10                      8x8x10          1 930
    gap       global average pooling      10
                                                 total  966 986

Published result: 10.41 % test error on CIFAR-10 without data augmentation,
8.81 % with (Table 2).  ``bn=True`` adds batch normalization after every
convolution (not in the paper).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models.base import Classifier, check_input_size
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.pool import GlobalAvgPool2d


@dataclass(frozen=True)
class MLPConvSpec:
    """An mlpconv layer: a ``kernel`` x ``kernel`` convolution, then 1x1 ones with ``widths``."""

    kernel: int
    widths: tuple[int, ...]


NIN_CIFAR10 = (
    MLPConvSpec(5, (192, 160, 96)),
    MLPConvSpec(5, (192, 192, 192)),
    MLPConvSpec(3, (192, 192)),  # + the 1x1 convolution to one map per class (the head)
)
MIN_INPUT_SIZE = 6  # two 3x3 stride-2 poolings (ceil mode): 6 → 3 → 1


class MLPConv(nn.Sequential):
    """k x k convolution then 1x1 convolutions, each followed by (batch norm and) ReLU.

    Children ``conv``, ``cccp1``, ``cccp2``, ... (Lin et al. 2014, eq. 2).
    """

    def __init__(self, in_ch: int, widths: tuple[int, ...], kernel: int, bn: bool = False):
        super().__init__()
        norm = "batch" if bn else None
        self.conv = ConvNormAct(in_ch, widths[0], kernel, padding="same", norm=norm)
        for i, (width_in, width) in enumerate(itertools.pairwise(widths), start=1):
            self.add_module(f"cccp{i}", ConvNormAct(width_in, width, 1, norm=norm))


class NetworkInNetwork(Classifier):
    """mlpconv layers with max pooling and dropout between them; head: class maps, then GAP."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        input_size: int | None = None,
        dropout: float = 0.5,
        bn: bool = False,
        config: tuple[MLPConvSpec, ...] = NIN_CIFAR10,
    ):
        check_input_size("Network in Network", input_size, MIN_INPUT_SIZE)
        features: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_chans
        for i, spec in enumerate(config, start=1):
            features[f"mlpconv{i}"] = MLPConv(width_in, spec.widths, spec.kernel, bn)
            if i < len(config):
                features[f"pool{i}"] = nn.MaxPool2d(3, 2, ceil_mode=True)
                features[f"drop{i}"] = nn.Dropout(dropout)
            width_in = spec.widths[-1]
        head = OrderedDict(
            classes=ConvNormAct(width_in, num_classes, 1, norm="batch" if bn else None),
            gap=GlobalAvgPool2d(),
        )
        super().__init__(nn.Sequential(features), nn.Sequential(head))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size("Network in Network", min(x.shape[-2:]), MIN_INPUT_SIZE)
        return super().forward(x)


@register_model(
    reference=Reference(
        source="Lin, Chen & Yan 2014, Table 2: CIFAR-10 test error 10.41 % (no augmentation)",
        top1=89.59,
        input_shape=(3, 32, 32),
        num_classes=10,
    ),
    num_classes=10,
    in_chans=3,
)
def nin(
    num_classes: int = 10,
    in_chans: int = 3,
    input_size: int | None = None,
    dropout: float = 0.5,
    bn: bool = False,
) -> NetworkInNetwork:
    """Network in Network (Lin et al. 2014), CIFAR-10 model: 3 mlpconv layers, global avg pooling.

    Lin et al. (2014), "Network in network", Sec. 3 and Sec. 4.2.

    Any input of at least 6 pixels; ``bn=True`` adds batch norm after every convolution.
    """
    return NetworkInNetwork(num_classes, in_chans, input_size, dropout, bn)
