"""The operations of the NASNet search space: Zoph, Vasudevan, Shlens & Le (2018),
"Learning transferable architectures for scalable image recognition", CVPR, Sec. 3
(the list of 13 operations); how each is built follows the paper's appendix and
its TF-slim reference implementation (``nasnet_utils``).

Every operation maps ``in_ch`` maps to ``out_ch`` maps at a ``stride`` of 1 or 2,
so that a cell can put any of them on any of its inputs:

* convolutions are ReLU → conv → batch norm;
* a depthwise-separable convolution is applied twice, ReLU → depthwise →
  pointwise → BN each time, the stride on the first;
* pooling keeps the width ('same' padding; average pooling divides by the
  number of pixels inside the image); a 1x1 conv-BN follows when the widths
  differ;
* the identity is a ReLU → 1x1 conv → BN when the stride or the widths differ.

The names are `OPERATIONS`; `make_operation` builds one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from cnnlab.errors import check_choice
from cnnlab.nn.conv import SeparableConv2d, conv2d


def relu_conv_bn(
    in_ch: int,
    out_ch: int,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    dilation: int = 1,
) -> nn.Sequential:
    """ReLU → convolution ('same' padding, no bias) → batch norm (children act, conv, bn)."""
    return nn.Sequential(
        OrderedDict(
            act=nn.ReLU(),
            conv=conv2d(in_ch, out_ch, kernel, stride, "same", dilation, bias=False),
            bn=nn.BatchNorm2d(out_ch),
        )
    )


class FactorizedConv(nn.Sequential):
    """ReLU → 1xk conv → kx1 conv → BN: a k x k receptive field with 2k weights per pair."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1):
        super().__init__(
            OrderedDict(
                act=nn.ReLU(),
                row=conv2d(in_ch, out_ch, (1, kernel), (1, stride), "same", bias=False),
                col=conv2d(out_ch, out_ch, (kernel, 1), (stride, 1), "same", bias=False),
                bn=nn.BatchNorm2d(out_ch),
            )
        )


class StackedSeparableConv(nn.Sequential):
    """(ReLU → separable k x k → BN) twice; the first has the stride."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (c_in, s) in enumerate(((in_ch, stride), (out_ch, 1)), start=1):
            layers[f"act{i}"] = nn.ReLU()
            layers[f"sep{i}"] = SeparableConv2d(c_in, out_ch, kernel, s, bias=False)
            layers[f"bn{i}"] = nn.BatchNorm2d(out_ch)
        super().__init__(layers)


class PoolOperation(nn.Sequential):
    """k x k max or average pooling with 'same' padding; a 1x1 conv-BN if widths differ."""

    def __init__(self, kind: str, in_ch: int, out_ch: int, kernel: int, stride: int = 1):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if kind == "max":
            layers["pool"] = nn.MaxPool2d(kernel, stride, padding=kernel // 2)
        else:
            layers["pool"] = nn.AvgPool2d(
                kernel, stride, padding=kernel // 2, count_include_pad=False
            )
        if in_ch != out_ch:
            layers["conv"] = conv2d(in_ch, out_ch, 1, bias=False)
            layers["bn"] = nn.BatchNorm2d(out_ch)
        super().__init__(layers)


class FactorizedReduce(nn.Module):
    """Halve the resolution without discarding pixels: two 1x1 stride-2 convolutions,
    one on the image shifted by one pixel, concatenated, then BN.

    NASNet's reference implementation (``factorized_reduction``) uses it to
    bring a cell's earlier input to the resolution of its current one.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.path1 = conv2d(in_ch, out_ch // 2, 1, stride=2, bias=False)
        self.path2 = conv2d(in_ch, out_ch - out_ch // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.path1(x), self.path2(shifted)], dim=1))


def identity(in_ch: int, out_ch: int, stride: int = 1) -> nn.Module:
    """x itself, or ReLU → 1x1 conv (stride) → BN when the stride or the widths differ."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return relu_conv_bn(in_ch, out_ch, 1, stride)


OperationBuilder = Callable[[int, int, int], nn.Module]

# Zoph et al. (2018), Sec. 3: the 13 operations, in the order of the paper's list.
OPERATIONS: dict[str, OperationBuilder] = {
    "identity": identity,
    "conv_1x3_3x1": lambda i, o, s: FactorizedConv(i, o, 3, s),
    "conv_1x7_7x1": lambda i, o, s: FactorizedConv(i, o, 7, s),
    "dil_conv_3x3": lambda i, o, s: relu_conv_bn(i, o, 3, s, dilation=2),
    "avg_pool_3x3": lambda i, o, s: PoolOperation("avg", i, o, 3, s),
    "max_pool_3x3": lambda i, o, s: PoolOperation("max", i, o, 3, s),
    "max_pool_5x5": lambda i, o, s: PoolOperation("max", i, o, 5, s),
    "max_pool_7x7": lambda i, o, s: PoolOperation("max", i, o, 7, s),
    "conv_1x1": lambda i, o, s: relu_conv_bn(i, o, 1, s),
    "conv_3x3": lambda i, o, s: relu_conv_bn(i, o, 3, s),
    "sep_conv_3x3": lambda i, o, s: StackedSeparableConv(i, o, 3, s),
    "sep_conv_5x5": lambda i, o, s: StackedSeparableConv(i, o, 5, s),
    "sep_conv_7x7": lambda i, o, s: StackedSeparableConv(i, o, 7, s),
}


def make_operation(name: str, in_ch: int, out_ch: int, stride: int = 1) -> nn.Module:
    """The operation ``name`` (one of `OPERATIONS`) from ``in_ch`` to ``out_ch`` maps."""
    check_choice("operation", name, OPERATIONS)
    return OPERATIONS[name](in_ch, out_ch, stride)
