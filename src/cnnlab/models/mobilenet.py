"""MobileNets v1, v2 and v3: networks of depthwise convolutions for mobile devices.

* v1: Howard et al. (2017), "MobileNets: Efficient convolutional neural
  networks for mobile vision applications", Table 1 (body), Fig. 3
  (depthwise-separable layer), Sec. 3.3-3.4 (width multiplier α, resolution
  multiplier ρ), Tables 6-7 (their cost).  Every channel count is scaled by α
  (to ``max(int(α·c), 8)``, as in the TF-slim reference code); ρ only scales the
  input, 224·ρ, since the network ends in global pooling.  Table 1 prints the
  second-to-last depthwise layer as stride 2, but its output is 7x7 like its
  input: it has stride 1, as in the reference code.
* v2: Sandler et al. (2018), "MobileNetV2: Inverted residuals and linear
  bottlenecks", Table 2 (rows t, c, n, s: expansion, width, repeats, stride
  of the first repeat), Table 1 (the block); width multiplier on every layer
  but the last, whose 1280 maps only grow (Sec. 5.1).
* v3: Howard et al. (2019), "Searching for MobileNetV3", Table 1 (Large) and
  Table 2 (Small): one row per bneck (kernel, expanded width, output width,
  SE, activation, stride); hard-swish h-swish(x) = x·ReLU6(x + 3)/6 and SE
  gated by a hard sigmoid (Sec. 5.2-5.3); the 1x1 "NBN" convolution after
  pooling is the linear layer ``head.fc1``.  As in torchvision (and the
  released TF models), the last 1x1 convolution of Small has no SE block
  although Table 2 marks one.

The layer names follow the papers (``features.stem``, ``features.stage{i}``,
``features.last_conv``, ``head.fc``); v1 and v3, whose tables list single
layers, are grouped into stages that start at each stride-2 layer (stage i
works at 1/2^i of the input resolution).  ``torchvision_keys`` maps
torchvision's flat ``features.{k}`` names onto them, so
``create_model("mobilenet_v2", weights="mobilenet_v2.pth")`` gives
torchvision's logits.

CIFAR form: ``stem='cifar'`` (or automatic for inputs up to 64 pixels) makes
the stem convolution stride 1, so that a 32x32 image ends in 2x2 maps
instead of 1x1.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, TypeVar

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_positive
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.act import get_act
from cnnlab.nn.attention import SqueezeExcite, make_divisible
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.mbconv import (
    DepthwiseSeparable,
    InvertedResidual,
    init_mobile_weights,
    prefix_rules,
    set_batch_norm,
)
from cnnlab.nn.pool import GlobalAvgPool2d

Row = TypeVar("Row")


class MobileClassifier(Classifier):
    """``head(features(x))`` for inputs of at least ``min_input_size`` pixels per side.

    The minimum is the network's total stride (32 with the ImageNet stem, 16
    with the CIFAR one): a smaller image would reach the last stage as a
    single padded pixel.  ``torchvision_keys`` (set per instance, generated
    from the configuration table) renames torchvision's layers to ours.
    """

    def __init__(
        self,
        name: str,
        features: nn.Sequential,
        head: nn.Sequential,
        min_input_size: int,
        torchvision_keys: tuple[tuple[str, str], ...] = (),
    ):
        super().__init__(features, head)
        self.name = name
        self.min_input_size = min_input_size
        self.torchvision_keys = torchvision_keys

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(self.name, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def stem_stride(name: str, stem: str | None, input_size: int | None) -> int:
    """Stride of the stem convolution (2 ImageNet, 1 CIFAR), checking ``input_size``."""
    stride = 1 if resolve_stem(stem, input_size) == "cifar" else 2
    check_input_size(name, input_size, 16 * stride)
    return stride


def split_at_strides(rows: Iterable[Row], stride: Callable[[Row], int]) -> list[list[Row]]:
    """Consecutive rows grouped into stages, a new stage at every row of stride > 1."""
    stages: list[list[Row]] = []
    for row in rows:
        if not stages or stride(row) > 1:
            stages.append([])
        stages[-1].append(row)
    return stages


def classifier_head(
    in_features: int, num_classes: int, dropout: float, hidden: tuple[int, str] | None = None
) -> nn.Sequential:
    """Global average pooling, [linear ``fc1`` + activation], dropout, linear ``fc``."""
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}.")
    layers: OrderedDict[str, nn.Module] = OrderedDict(pool=GlobalAvgPool2d())
    if hidden is not None:
        width, act = hidden
        layers["fc1"] = nn.Linear(in_features, width)
        layers["act"] = get_act(act)
        in_features = width
    layers["drop"] = nn.Dropout(dropout)
    layers["fc"] = nn.Linear(in_features, num_classes)
    return nn.Sequential(layers)


# ---------------------------------------------------------------------------- v1

# Howard et al. (2017), Table 1: (output channels, stride) of each depthwise-separable layer.
V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *[(512, 1)] * 5,
    (1024, 2),
    (1024, 1),
)
V1_STEM = 32


def v1_channels(channels: int, width_mult: float) -> int:
    """α·c as the reference code rounds it: ``max(int(α·c), 8)``."""
    return max(int(channels * width_mult), 8)


class MobileNetV1(MobileClassifier):
    """MobileNet v1: a 3x3 conv, 13 depthwise-separable layers, pooling, linear."""

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.0,
    ):
        check_positive("width_mult", width_mult)
        name = f"MobileNet v1 ({width_mult}x)"
        stride = stem_stride(name, stem, input_size)
        width = v1_channels(V1_STEM, width_mult)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, width, 3, stride)
        )
        for i, stage in enumerate(split_at_strides(V1_LAYERS, lambda row: row[1]), start=1):
            blocks = []
            for channels, block_stride in stage:
                out = v1_channels(channels, width_mult)
                blocks.append(DepthwiseSeparable(width, out, 3, block_stride))
                width = out
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        head = classifier_head(width, num_classes, dropout)
        super().__init__(name, nn.Sequential(layers), head, 16 * stride)
        init_mobile_weights(self)


def _mobilenet_v1_reference(width: str, params: int, macs: float, top1: float) -> Reference:
    """Table 6's figures.  Its parameter counts are printed to 0.1M (``params_rounding``):
    "1.3M" and "0.5M" stand for the 1.33M and 0.47M of α = 0.5 and 0.25."""
    return Reference(
        source=f"Howard et al. 2017, MobileNets, Table 6 ({width} MobileNet-224)",
        params=params,
        macs=macs,
        top1=top1,
        params_rounding=1e5,
    )


@register_model(
    reference=_mobilenet_v1_reference("1.0", 4_200_000, 569e6, 70.6), num_classes=1000, in_chans=3
)
def mobilenet_v1(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV1:
    """MobileNet v1 1.0 (Howard et al. 2017): depthwise-separable convs, 4.2M params, 569M MACs.

    Howard et al. (2017), "MobileNets: Efficient convolutional neural networks for mobile vision
    applications", Table 1 (body) and Table 6 (width multiplier α).

    Options: ``width_mult`` (α), ``stem`` ('imagenet'/'cifar'), ``dropout``.
    The resolution multiplier ρ is the input size 224·ρ.
    """
    return MobileNetV1(num_classes, in_chans, input_size=input_size, **options)


@register_model(
    reference=_mobilenet_v1_reference("0.75", 2_600_000, 325e6, 68.4), num_classes=1000, in_chans=3
)
def mobilenet_v1_075(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV1:
    """MobileNet v1 with width multiplier α = 0.75: 2.6M params, 325M MACs.

    Howard et al. (2017), "MobileNets: Efficient convolutional neural networks for mobile vision
    applications", Table 1 (body) and Table 6 (width multiplier α).
    """
    return MobileNetV1(num_classes, in_chans, 0.75, input_size=input_size, **options)


@register_model(
    reference=_mobilenet_v1_reference("0.5", 1_300_000, 149e6, 63.7), num_classes=1000, in_chans=3
)
def mobilenet_v1_050(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV1:
    """MobileNet v1 with width multiplier α = 0.5: 1.3M params, 149M MACs.

    Howard et al. (2017), "MobileNets: Efficient convolutional neural networks for mobile vision
    applications", Table 1 (body) and Table 6 (width multiplier α).
    """
    return MobileNetV1(num_classes, in_chans, 0.5, input_size=input_size, **options)


@register_model(
    reference=_mobilenet_v1_reference("0.25", 500_000, 41e6, 50.6), num_classes=1000, in_chans=3
)
def mobilenet_v1_025(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV1:
    """MobileNet v1 with width multiplier α = 0.25: 0.5M params, 41M MACs.

    Howard et al. (2017), "MobileNets: Efficient convolutional neural networks for mobile vision
    applications", Table 1 (body) and Table 6 (width multiplier α).
    """
    return MobileNetV1(num_classes, in_chans, 0.25, input_size=input_size, **options)


# ---------------------------------------------------------------------------- v2


class V2Row(NamedTuple):
    """A row of Sandler et al. (2018), Table 2: n blocks of expansion t, width c."""

    t: int
    c: int
    n: int
    s: int


V2_ROWS: tuple[V2Row, ...] = (
    V2Row(1, 16, 1, 1),
    V2Row(6, 24, 2, 2),
    V2Row(6, 32, 3, 2),
    V2Row(6, 64, 4, 2),
    V2Row(6, 96, 3, 1),
    V2Row(6, 160, 3, 2),
    V2Row(6, 320, 1, 1),
)
V2_STEM, V2_LAST = 32, 1280


class MobileNetV2(MobileClassifier):
    """MobileNetV2: a 3x3 conv, 17 inverted residual blocks (ReLU6), a 1x1 conv, linear."""

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.2,
    ):
        check_positive("width_mult", width_mult)
        name = f"MobileNetV2 ({width_mult}x)"
        stride = stem_stride(name, stem, input_size)
        width = make_divisible(V2_STEM * width_mult)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, width, 3, stride, act="relu6")
        )
        renames = [("features.0.0", "features.stem.conv"), ("features.0.1", "features.stem.bn")]
        index = 1
        for i, row in enumerate(V2_ROWS, start=1):
            out = make_divisible(row.c * width_mult)
            blocks = []
            for j in range(row.n):
                block = InvertedResidual(
                    width, out, round(width * row.t), 3, row.s if j == 0 else 1, "relu6"
                )
                renames += _block_renames(block, "mobilenet_v2", index, f"stage{i}.{j}")
                blocks.append(block)
                width, index = out, index + 1
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        last = make_divisible(V2_LAST * max(1.0, width_mult))
        layers["last_conv"] = ConvNormAct(width, last, 1, act="relu6")
        renames += [(f"features.{index}.0", "features.last_conv.conv")]
        renames += [(f"features.{index}.1", "features.last_conv.bn")]
        renames += [("classifier.1", "head.fc")]
        head = classifier_head(last, num_classes, dropout)
        super().__init__(name, nn.Sequential(layers), head, 16 * stride, prefix_rules(renames))
        init_mobile_weights(self)


def _block_renames(
    block: InvertedResidual, layout: str, index: int, target: str
) -> list[tuple[str, str]]:
    """Prefix pairs from torchvision's ``features.{index}`` block to ``features.{target}``."""
    return [
        (f"features.{index}.{source}", f"features.{target}.{ours}")
        for source, ours in block.torchvision_names(layout).items()
    ]


@register_model(
    torchvision="mobilenet_v2",
    reference=Reference(
        source="Sandler et al. 2018, MobileNetV2, Table 4 (MACs; its 3.4M parameters "
        "are 3.5M in the released model, checked exactly against torchvision)",
        macs=300e6,
        top1=72.0,
    ),
    num_classes=1000,
    in_chans=3,
)
def mobilenet_v2(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV2:
    """MobileNetV2 (Sandler et al. 2018): inverted residuals, linear bottlenecks, 300M MACs.

    Sandler et al. (2018), "MobileNetV2: Inverted residuals and linear bottlenecks",
    Tables 1, 2 and 4.

    Options: ``width_mult``, ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return MobileNetV2(num_classes, in_chans, input_size=input_size, **options)


# ---------------------------------------------------------------------------- v3


class V3Row(NamedTuple):
    """A bneck row of Howard et al. (2019), Tables 1-2."""

    kernel: int
    expanded: int
    out: int
    se: bool
    act: str
    stride: int


_RE, _HS = "relu", "hard_swish"

V3_LARGE: tuple[V3Row, ...] = (
    V3Row(3, 16, 16, False, _RE, 1),
    V3Row(3, 64, 24, False, _RE, 2),
    V3Row(3, 72, 24, False, _RE, 1),
    V3Row(5, 72, 40, True, _RE, 2),
    V3Row(5, 120, 40, True, _RE, 1),
    V3Row(5, 120, 40, True, _RE, 1),
    V3Row(3, 240, 80, False, _HS, 2),
    V3Row(3, 200, 80, False, _HS, 1),
    V3Row(3, 184, 80, False, _HS, 1),
    V3Row(3, 184, 80, False, _HS, 1),
    V3Row(3, 480, 112, True, _HS, 1),
    V3Row(3, 672, 112, True, _HS, 1),
    V3Row(5, 672, 160, True, _HS, 2),
    V3Row(5, 960, 160, True, _HS, 1),
    V3Row(5, 960, 160, True, _HS, 1),
)

V3_SMALL: tuple[V3Row, ...] = (
    V3Row(3, 16, 16, True, _RE, 2),
    V3Row(3, 72, 24, False, _RE, 2),
    V3Row(3, 88, 24, False, _RE, 1),
    V3Row(5, 96, 40, True, _HS, 2),
    V3Row(5, 240, 40, True, _HS, 1),
    V3Row(5, 240, 40, True, _HS, 1),
    V3Row(5, 120, 48, True, _HS, 1),
    V3Row(5, 144, 48, True, _HS, 1),
    V3Row(5, 288, 96, True, _HS, 2),
    V3Row(5, 576, 96, True, _HS, 1),
    V3Row(5, 576, 96, True, _HS, 1),
)

V3_STEM = 16
V3_LAST = {"large": 1280, "small": 1024}  # width of the 1x1 NBN layer after pooling
V3_BN_EPS, V3_BN_MOMENTUM = 1e-3, 0.01


class MobileNetV3(MobileClassifier):
    """MobileNetV3 Large or Small: bnecks with SE and hard-swish, then a 2-layer head."""

    def __init__(
        self,
        rows: Sequence[V3Row],
        last_width: int,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.2,
        name: str = "MobileNetV3",
    ):
        check_positive("width_mult", width_mult)
        stride = stem_stride(name, stem, input_size)
        width = make_divisible(V3_STEM * width_mult)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, width, 3, stride, act=_HS)
        )
        renames = [("features.0.0", "features.stem.conv"), ("features.0.1", "features.stem.bn")]
        index = 1
        for i, stage in enumerate(split_at_strides(rows, lambda row: row.stride), start=1):
            blocks = []
            for j, row in enumerate(stage):
                expanded = make_divisible(row.expanded * width_mult)
                out = make_divisible(row.out * width_mult)
                se = (
                    SqueezeExcite(expanded, make_divisible(expanded // 4), "relu", "hard_sigmoid")
                    if row.se
                    else None
                )
                block = InvertedResidual(width, out, expanded, row.kernel, row.stride, row.act, se)
                renames += _block_renames(block, "sequential", index, f"stage{i}.{j}")
                blocks.append(block)
                width, index = out, index + 1
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        layers["last_conv"] = ConvNormAct(width, 6 * width, 1, act=_HS)
        renames += [(f"features.{index}.0", "features.last_conv.conv")]
        renames += [(f"features.{index}.1", "features.last_conv.bn")]
        renames += [("classifier.0", "head.fc1"), ("classifier.3", "head.fc")]
        hidden = (make_divisible(last_width * width_mult), _HS)
        head = classifier_head(6 * width, num_classes, dropout, hidden)
        super().__init__(name, nn.Sequential(layers), head, 16 * stride, prefix_rules(renames))
        set_batch_norm(self, V3_BN_EPS, V3_BN_MOMENTUM)
        init_mobile_weights(self)


@register_model(
    torchvision="mobilenet_v3_large",
    reference=Reference(
        source="Howard et al. 2019, Searching for MobileNetV3, Table 3 (Large 1.0: 219M MACs; "
        "its 5.4M parameters are checked exactly against torchvision's 5.48M)",
        macs=219e6,
        top1=75.2,
    ),
    num_classes=1000,
    in_chans=3,
)
def mobilenet_v3_large(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV3:
    """MobileNetV3-Large (Howard et al. 2019): SE, hard-swish, 5.5M params, 219M MACs.

    Howard et al. (2019), "Searching for MobileNetV3", Tables 1 and 3.

    Options: ``width_mult``, ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return MobileNetV3(
        V3_LARGE,
        V3_LAST["large"],
        num_classes,
        in_chans,
        input_size=input_size,
        name="MobileNetV3-Large",
        **options,
    )


@register_model(
    torchvision="mobilenet_v3_small",
    reference=Reference(
        source="Howard et al. 2019, Searching for MobileNetV3, Table 3 (Small 1.0: 56M MACs; "
        "its 2.5M parameters are checked exactly against torchvision's 2.54M)",
        macs=56e6,
        top1=67.4,
    ),
    num_classes=1000,
    in_chans=3,
)
def mobilenet_v3_small(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MobileNetV3:
    """MobileNetV3-Small (Howard et al. 2019): SE, hard-swish, 2.5M params, 56M MACs.

    Howard et al. (2019), "Searching for MobileNetV3", Tables 2 and 3.

    Options: ``width_mult``, ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return MobileNetV3(
        V3_SMALL,
        V3_LAST["small"],
        num_classes,
        in_chans,
        input_size=input_size,
        name="MobileNetV3-Small",
        **options,
    )
