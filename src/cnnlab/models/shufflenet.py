"""ShuffleNet v1 and v2.

* v1: Zhang, Zhou, Lin & Sun (2018), "ShuffleNet: an extremely efficient
  convolutional neural network for mobile devices", CVPR, Table 1: conv1
  24@3x3/2, max pool 3x3/2, stages 2-4 of 4, 8 and 4
  `ShuffleUnit` (the first at stride 2), global
  pooling and a linear classifier.  Stage 2 has 144, 200, 240, 272 or 384
  output channels for g = 1, 2, 3, 4, 8 groups, doubled in each later stage;
  the bottleneck is a quarter of a unit's output channels (Sec. 3.3).  The
  complexities of Table 1 (143, 140, 137, 133, 137 MFLOPs at 224x224) count
  multiply-adds.  "ShuffleNet s×" scales every channel count by s, conv1's
  included (which is what gives Table 2's 38 MFLOPs at 0.5x); widths that do
  not split into g groups are refused.
* v2: Ma, Zhang, Zheng & Sun (2018), "ShuffleNet V2: practical guidelines for
  efficient CNN architecture design", ECCV, Table 5: the same skeleton with
  `ShuffleV2Block` units and a 1x1 conv5 before
  global pooling; output channels per stage for 0.5x, 1x, 1.5x, 2x.

A variant is a row of `V1_TABLE1` (scaled by `V1_SCALED`) or `V2_TABLE5`
and a builder named after it (``shufflenet_v1_g3``, ``shufflenet_v2_x1_0``).
``stem='cifar'`` (automatic for inputs of at most 64 pixels) makes conv1
stride 1 and drops the max pool, so a 32x32 image enters stage 2 at 32x32 and
leaves stage 4 at 4x4.  Every layer keeps at least one pixel (all paddings are
"same"), so any input size works.

Names for v2 follow torchvision's ``conv1``, ``stage2``..``stage4``, ``conv5``
under ``features``, each conv-BN(-ReLU) being a `ConvNormAct`
(`TORCHVISION_KEYS` maps torchvision's numbered layers onto them), so
`fuse_conv_bn` folds every batch norm.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.models.base import Classifier, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.pool import GlobalAvgPool2d
from cnnlab.nn.shuffle import ShuffleUnit, ShuffleV2Block

REPEATS = (4, 8, 4)  # units of stages 2-4, the first at stride 2 (both papers)
STEM_WIDTH = 24

# ShuffleNet v1 1x per number of groups g: stage-2 output channels and complexity
# (multiply-adds at 224x224) of Table 1, top-1 error (%) of Table 2.
V1_TABLE1 = {
    1: (144, 143e6, 33.6),
    2: (200, 140e6, 32.7),
    3: (240, 137e6, 32.6),
    4: (272, 133e6, 32.8),
    8: (384, 137e6, 32.4),
}
# Other scales s, (g, s): complexity, top-1 error and the table they come from.  Table 2's
# 0.5x rows for g = 2, 4, 8 are left out: halved widths do not split into g groups.
V1_SCALED = {
    (1, 0.5): (38e6, 45.1, "Table 2"),
    (3, 0.5): (38e6, 43.2, "Table 2"),
    (3, 2.0): (524e6, 26.3, "Table 5"),
}

# ShuffleNet v2, Table 5: (conv1, stage2, stage3, stage4, conv5) output channels,
# FLOPs (multiply-adds) and parameters.
V2_TABLE5 = {
    "0_5": ((24, 48, 96, 192, 1024), 41e6, 1.4e6),
    "1_0": ((24, 116, 232, 464, 1024), 146e6, 2.3e6),
    "1_5": ((24, 176, 352, 704, 1024), 299e6, 3.5e6),
    "2_0": ((24, 244, 488, 976, 2048), 591e6, 7.4e6),
}


@dataclass(frozen=True)
class ShuffleNetConfig:
    """``version`` 1 or 2; ``widths``: conv1, stage 2-4 and (v2) conv5 output channels;
    ``groups``: g of the v1 units."""

    version: int
    widths: tuple[int, ...]
    groups: int = 1


def v1_config(groups: int, scale: float = 1.0) -> ShuffleNetConfig:
    """ShuffleNet s× with g groups (Table 1): every channel count scaled by s.

    Raises `ConfigError` when a scaled width does not split into g
    groups (g must divide the bottleneck and each unit's residual branch).
    """
    if groups not in V1_TABLE1:
        raise ConfigError(f"ShuffleNet v1 has g in {sorted(V1_TABLE1)}, got g={groups}.")
    if scale <= 0:
        raise ConfigError(f"scale must be > 0, got {scale}.")
    stage2 = V1_TABLE1[groups][0]
    widths = tuple(int(w * scale) for w in (STEM_WIDTH, stage2, 2 * stage2, 4 * stage2))
    # Grouped: every bottleneck and residual branch (only stage 2's first input, conv1's
    # output, feeds an ungrouped 1x1 conv).
    branches = [b for w_in, w in itertools.pairwise(widths) for b in (w // 4, w - w_in, w)]
    if any(b % groups or b < 1 for b in branches):
        raise ConfigError(
            f"ShuffleNet {scale}x with g={groups} has stage widths {widths[1:]}, whose "
            f"bottlenecks and residual branches do not split into {groups} groups; "
            "choose another scale or number of groups."
        )
    return ShuffleNetConfig(1, widths, groups)


def _torchvision_keys() -> tuple[tuple[str, str], ...]:
    """torchvision's numbered ``nn.Sequential`` layers -> the ConvNormAct children here."""
    branch_layers = {
        "branch1": {0: "dw.conv", 1: "dw.bn", 2: "pw.conv", 3: "pw.bn"},
        "branch2": {
            0: "pw1.conv",
            1: "pw1.bn",
            3: "dw.conv",
            4: "dw.bn",
            5: "pw2.conv",
            6: "pw2.bn",
        },
    }
    rules = [
        (rf"^(stage\d\.\d+)\.{branch}\.{index}\.", rf"features.\1.{branch}.{name}.")
        for branch, layers in branch_layers.items()
        for index, name in layers.items()
    ]
    rules += [
        (r"^(conv[15])\.0\.", r"features.\1.conv."),
        (r"^(conv[15])\.1\.", r"features.\1.bn."),
        (r"^fc\.", "head.fc."),
    ]
    return tuple(rules)


TORCHVISION_KEYS = _torchvision_keys()


class ShuffleNet(Classifier):
    """conv1, [max pool], stages 2-4 of shuffle units, [conv5]; head: global average pooling,
    linear."""

    def __init__(
        self,
        config: ShuffleNetConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
    ):
        check_choice("stem", stem, ("imagenet", "cifar"))
        width = config.widths[0]
        features: OrderedDict[str, nn.Module] = OrderedDict()
        if stem == "imagenet":
            features["conv1"] = ConvNormAct(in_chans, width, 3, stride=2)
            features["maxpool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            features["conv1"] = ConvNormAct(in_chans, width, 3)
        for stage, (out, repeats) in enumerate(
            zip(config.widths[1:4], REPEATS, strict=True), start=2
        ):
            units = [_unit(config, width, out, stage)]
            units += [_unit(config, out, out, stage, stride=1) for _ in range(repeats - 1)]
            features[f"stage{stage}"] = nn.Sequential(*units)
            width = out
        if config.version == 2:
            features["conv5"] = ConvNormAct(width, config.widths[4], 1)
            width = config.widths[4]
        head = nn.Sequential(OrderedDict(gap=GlobalAvgPool2d(), fc=nn.Linear(width, num_classes)))
        super().__init__(nn.Sequential(features), head)

    torchvision_keys = TORCHVISION_KEYS


def _unit(
    config: ShuffleNetConfig, in_ch: int, out_ch: int, stage: int, stride: int = 2
) -> nn.Module:
    if config.version == 2:
        return ShuffleV2Block(in_ch, out_ch, stride)
    first = stage == 2 and stride == 2
    return ShuffleUnit(in_ch, out_ch, stride, config.groups, out_ch // 4, group_first=not first)


def _shufflenet_v1(
    groups: int,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    scale: float,
    input_size: int | None,
) -> ShuffleNet:
    """ShuffleNet v1 s× with g groups: ``stem`` is ``'imagenet'`` (conv1 at stride 2, max
    pool), ``'cifar'`` (conv1 at stride 1, no max pool) or ``None``: CIFAR for
    ``input_size`` <= 64; ``scale`` multiplies every channel count (Sec. 3.3)."""
    chosen = resolve_stem(stem, input_size)
    return ShuffleNet(v1_config(groups, scale), num_classes, in_chans, chosen)


def _shufflenet_v2(
    scale: str, num_classes: int, in_chans: int, stem: str | None, input_size: int | None
) -> ShuffleNet:
    """ShuffleNet v2 of a Table 5 column; ``stem`` as for `_shufflenet_v1`."""
    config = ShuffleNetConfig(2, V2_TABLE5[scale][0])
    return ShuffleNet(config, num_classes, in_chans, resolve_stem(stem, input_size))


def _v1_reference(groups: int, scale: float = 1.0) -> Reference:
    if scale == 1:
        _, macs, error = V1_TABLE1[groups]
        tables = "Table 1 (complexity) and Table 2 (error)"
    else:
        macs, error, tables = V1_SCALED[groups, scale]
    return Reference(
        f"Zhang et al. 2018, {tables}: {macs / 1e6:g} MFLOPs (multiply-adds), "
        f"top-1 error {error} %",
        macs=macs,
        top1=round(100 - error, 2),
    )


def _v2_reference(scale: str) -> Reference:
    # Table 5 prints parameters to 0.1M: 0.5x's "1.4M" stands for 1,366,792 (2.4 % off).
    _, macs, params = V2_TABLE5[scale]
    return Reference(
        f"Ma et al. 2018, Table 5: {macs / 1e6:.0f} MFLOPs (multiply-adds), {params / 1e6}M params",
        params=round(params),
        macs=macs,
        params_rounding=1e5,
    )


@register_model(reference=_v1_reference(1), num_classes=1000, in_chans=3)
def shufflenet_v1_g1(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 1.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 1x, g=1 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 143 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture, complexity) and Table 2.
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(1, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(2), num_classes=1000, in_chans=3)
def shufflenet_v1_g2(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 1.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 1x, g=2 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 140 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture, complexity) and Table 2.
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(2, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(3), num_classes=1000, in_chans=3)
def shufflenet_v1_g3(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 1.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 1x, g=3 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 137 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture, complexity) and Table 2.
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(3, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(4), num_classes=1000, in_chans=3)
def shufflenet_v1_g4(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 1.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 1x, g=4 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 133 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture, complexity) and Table 2.
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(4, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(8), num_classes=1000, in_chans=3)
def shufflenet_v1_g8(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 1.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 1x, g=8 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 137 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture, complexity) and Table 2.
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(8, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(1, 0.5), num_classes=1000, in_chans=3)
def shufflenet_v1_g1_x0_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 0.5,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 0.5x, g=1 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 38 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture) and Table 2 (0.5x).
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(1, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(3, 0.5), num_classes=1000, in_chans=3)
def shufflenet_v1_g3_x0_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 0.5,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 0.5x, g=3 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 38 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture) and Table 2 (0.5x).
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(3, num_classes, in_chans, stem, scale, input_size)


@register_model(reference=_v1_reference(3, 2.0), num_classes=1000, in_chans=3)
def shufflenet_v1_g3_x2_0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    scale: float = 2.0,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v1 2x, g=3 (Zhang et al. 2018): group 1x1 convs, channel shuffle, 524 MFLOPs.

    Zhang et al. (2018), "ShuffleNet: an extremely efficient convolutional neural
    network for mobile devices", Table 1 (architecture) and Table 5 (2x).
    Options: ``stem`` and ``scale`` (`_shufflenet_v1`).
    """
    return _shufflenet_v1(3, num_classes, in_chans, stem, scale, input_size)


@register_model(
    torchvision="shufflenet_v2_x0_5", reference=_v2_reference("0_5"), num_classes=1000, in_chans=3
)
def shufflenet_v2_x0_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v2 0.5x (Ma et al. 2018): channel split and shuffle, 41 MFLOPs, 1.4M params.

    Ma et al. (2018), "ShuffleNet V2: practical guidelines for efficient CNN
    architecture design", Table 5.
    Options: ``stem`` (`_shufflenet_v1`).
    """
    return _shufflenet_v2("0_5", num_classes, in_chans, stem, input_size)


@register_model(
    torchvision="shufflenet_v2_x1_0", reference=_v2_reference("1_0"), num_classes=1000, in_chans=3
)
def shufflenet_v2_x1_0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v2 1.0x (Ma et al. 2018): channel split and shuffle, 146 MFLOPs, 2.3M params.

    Ma et al. (2018), "ShuffleNet V2: practical guidelines for efficient CNN
    architecture design", Table 5.
    Options: ``stem`` (`_shufflenet_v1`).
    """
    return _shufflenet_v2("1_0", num_classes, in_chans, stem, input_size)


@register_model(
    torchvision="shufflenet_v2_x1_5", reference=_v2_reference("1_5"), num_classes=1000, in_chans=3
)
def shufflenet_v2_x1_5(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v2 1.5x (Ma et al. 2018): channel split and shuffle, 299 MFLOPs, 3.5M params.

    Ma et al. (2018), "ShuffleNet V2: practical guidelines for efficient CNN
    architecture design", Table 5.
    Options: ``stem`` (`_shufflenet_v1`).
    """
    return _shufflenet_v2("1_5", num_classes, in_chans, stem, input_size)


@register_model(
    torchvision="shufflenet_v2_x2_0", reference=_v2_reference("2_0"), num_classes=1000, in_chans=3
)
def shufflenet_v2_x2_0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> ShuffleNet:
    """ShuffleNet v2 2.0x (Ma et al. 2018): channel split and shuffle, 591 MFLOPs, 7.4M params.

    Ma et al. (2018), "ShuffleNet V2: practical guidelines for efficient CNN
    architecture design", Table 5.
    Options: ``stem`` (`_shufflenet_v1`).
    """
    return _shufflenet_v2("2_0", num_classes, in_chans, stem, input_size)
