"""Inception modules: parallel branches whose outputs are concatenated along channels.

An Inception module (Szegedy et al. 2015, "Going deeper with convolutions",
Fig. 2b) runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max pooling side by side
on the same input and stacks their outputs; 1x1 "reduction" convolutions in
front of the large kernels keep the cost down.  Inception v3 (Szegedy et al.
2016, "Rethinking the Inception architecture", Figs. 5-7) factorizes the large
kernels (5x5 into two 3x3, n x n into 1 x n then n x 1) and splits some branches
once more into parallel 1x3 and 3x1 convolutions; Inception-v4 and
Inception-ResNet (Szegedy, Ioffe, Vanhoucke & Alemi 2017, Figs. 3-20) reuse the
same vocabulary, the latter adding the concatenated branches, projected by a 1x1
convolution and scaled, to a residual connection (Sec. 3.3).

Every such module is described as data: a mapping from branch name to a
sequence of layers, each a `Conv` (conv → BN → ReLU), a `Pool` or
a nested mapping (parallel sub-branches, concatenated).  `InceptionModule`
builds it; inside a branch the convolutions (and nested splits) are named
``"1"``, ``"2"``, ... in order and a pooling layer ``"pool"``, so that
``mixed_5b.branch3x3dbl.2`` is the second convolution of that branch.  A
`Residual` describes an Inception-ResNet module (`ScaledResidual`)
and `build_layer` turns any of these descriptions into a module.

Xception (Chollet 2017) takes the idea to its extreme, one spatial
convolution per channel after a 1x1 convolution (Fig. 4), and is built from
`SeparableConvBN` and `XceptionBlock` (Fig. 5).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.nn.conv import ConvNormAct, Padding, Size2, conv2d

# TensorFlow's batch-norm epsilon, used by the Inception networks (and by
# torchvision's ports of them) instead of PyTorch's 1e-5.
BN_EPS = 1e-3


@dataclass(frozen=True)
class Conv:
    """A conv → BN → ReLU layer of ``out`` maps (``kernel`` may be (1, 7) etc.)."""

    out: int
    kernel: Size2 = 1
    stride: int = 1
    padding: Padding = "same"


@dataclass(frozen=True)
class Pool:
    """A ``'max'`` or ``'avg'`` pooling layer.

    ``count_include_pad=False`` averages over the pixels inside the image only,
    as TensorFlow's 'SAME' average pooling does.
    """

    kind: str
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    ceil_mode: bool = False
    count_include_pad: bool = True

    def build(self) -> nn.Module:
        check_choice("pooling", self.kind, ("max", "avg"))
        if self.kind == "max":
            return nn.MaxPool2d(self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode)
        return nn.AvgPool2d(
            self.kernel,
            self.stride,
            self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
        )


@dataclass(frozen=True)
class Residual:
    """An Inception-ResNet module: ``branches`` added, projected and scaled, to the input."""

    branches: Mapping[str, Sequence[Layer]]
    scale: float
    act: bool = True


Layer = Conv | Pool | Residual | Mapping[str, Sequence["Layer"]]
Branches = Mapping[str, Sequence[Layer]]


def conv_bn(
    in_ch: int,
    out_ch: int,
    kernel: Size2 = 1,
    stride: int = 1,
    padding: Padding = "same",
    bn: bool = True,
) -> ConvNormAct:
    """Conv → BN (ε = 10⁻³) → ReLU, or conv (with bias) → ReLU when ``bn=False``."""
    layer = ConvNormAct(in_ch, out_ch, kernel, stride, padding, norm="batch" if bn else None)
    if bn:
        layer.bn.eps = BN_EPS
    return layer


class InceptionModule(nn.Module):
    """Parallel branches on the same input, outputs concatenated along channels.

    Parameters
    ----------
    in_ch : int
        Input channels.
    branches : mapping of str to sequence of layers
        One sequence of `Conv`, `Pool` and nested mappings per
        branch, in output order.
    bn : bool
        Batch-normalize every convolution (False: convolutions with bias, as
        in the original GoogLeNet).
    """

    def __init__(self, in_ch: int, branches: Branches, bn: bool = True):
        super().__init__()
        if not branches:
            raise ConfigError("An Inception module needs at least one branch.")
        self.out_channels = 0
        for name, layers in branches.items():
            branch, channels = _build_branch(in_ch, layers, bn)
            self.add_module(name, branch)
            self.out_channels += channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], dim=1)


def build_layer(in_ch: int, layer: Layer, bn: bool = True) -> tuple[nn.Module, int]:
    """The module of one layer description and its number of output channels.

    A `Pool` keeps the channels; a mapping becomes an
    `InceptionModule`, a `Residual` a `ScaledResidual`.
    """
    if isinstance(layer, Pool):
        return layer.build(), in_ch
    if isinstance(layer, Conv):
        return conv_bn(in_ch, layer.out, layer.kernel, layer.stride, layer.padding, bn), layer.out
    if isinstance(layer, Residual):
        module = ScaledResidual(in_ch, layer.branches, layer.scale, layer.act, bn)
    else:
        module = InceptionModule(in_ch, layer, bn)
    return module, module.out_channels


def _build_branch(in_ch: int, layers: Sequence[Layer], bn: bool) -> tuple[nn.Sequential, int]:
    """A branch as an ``nn.Sequential`` and its number of output channels."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    channels, index = in_ch, 0
    for layer in layers:
        module, channels = build_layer(channels, layer, bn)
        if isinstance(layer, Pool):
            if "pool" in modules:
                raise ConfigError("An Inception branch takes at most one pooling layer.")
            modules["pool"] = module
        else:
            index += 1
            modules[str(index)] = module
    return nn.Sequential(modules), channels


class ScaledResidual(nn.Module):
    """x + scale · proj(branches(x)), then ReLU: an Inception-ResNet module.

    Szegedy et al. (2017), Figs. 16-19: the concatenated branches are mapped
    back to the input width by a linear 1x1 convolution (with bias, no BN) and
    added to the input; Sec. 3.3 (Fig. 20) scales the residual by a factor
    between 0.1 and 0.3 before the addition so that very wide networks train
    stably.  ``act=False`` leaves out the final ReLU (the last 8x8 module).
    """

    def __init__(
        self, channels: int, branches: Branches, scale: float, act: bool = True, bn: bool = True
    ):
        super().__init__()
        if not 0.0 < scale <= 1.0:
            raise ConfigError(f"Residual scale must be in (0, 1], got {scale}.")
        self.branches = InceptionModule(channels, branches, bn)
        self.proj = conv2d(self.branches.out_channels, channels, 1)
        self.act = nn.ReLU() if act else nn.Identity()
        self.scale = scale
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.scale * self.proj(self.branches(x)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class SeparableConvBN(nn.Sequential):
    """Depthwise 3x3 → pointwise 1x1 → BN, with a ReLU ``act`` = 'before' or 'after' (or None).

    Chollet (2017), "Xception", Fig. 5: every separable convolution is followed
    by batch normalization; inside the residual modules the ReLU comes before
    it.  Children ``act``, ``depthwise``, ``pointwise``, ``bn`` (pointwise and bn
    adjacent, so `fuse_conv_bn` folds them).
    """

    def __init__(self, in_ch: int, out_ch: int, act: str | None = "before"):
        super().__init__()
        check_choice("activation position", str(act), ("before", "after", "None"))
        if act == "before":
            self.act = nn.ReLU()
        self.depthwise = conv2d(in_ch, in_ch, 3, padding="same", groups=in_ch, bias=False)
        self.pointwise = conv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        if act == "after":
            self.act = nn.ReLU()


class XceptionBlock(nn.Module):
    """Separable convolutions of the given widths plus a shortcut (Chollet 2017, Fig. 5).

    ``widths`` are the output channels of the separable convolutions; with
    ``stride`` 2 a 3x3/2 max pooling ends the main path and the shortcut is a
    1x1/2 convolution with BN (also when the width changes), otherwise the
    identity.  ``first_relu=False`` omits the ReLU before the first separable
    convolution (the first entry-flow module, whose input has just been through
    one).
    """

    def __init__(self, in_ch: int, widths: Sequence[int], stride: int = 1, first_relu: bool = True):
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"An Xception block has stride 1 or 2, got {stride}.")
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_ch
        for i, width in enumerate(widths, start=1):
            layers[f"sep{i}"] = SeparableConvBN(
                channels, width, "before" if first_relu or i > 1 else None
            )
            channels = width
        if stride == 2:
            layers["pool"] = nn.MaxPool2d(3, 2, padding=1)
        self.main = nn.Sequential(layers)
        self.shortcut = (
            ConvNormAct(in_ch, channels, 1, stride, padding=0, act=None)
            if stride != 1 or channels != in_ch
            else nn.Identity()
        )
        if isinstance(self.shortcut, ConvNormAct):
            self.shortcut.bn.eps = BN_EPS
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(x)
