"""Darknet backbones of the YOLO detectors, as ImageNet classifiers.

* Darknet-19: Redmon & Farhadi (2017), "YOLO9000: Better, Faster, Stronger",
  Sec. 3 and Table 6: 19 convolutional layers (3x3, with 1x1 layers halving the
  width between them, as in Network-in-Network) and 5 max-pooling layers; the
  classifier is a 1x1 convolution to the classes and global average pooling.
  "Darknet-19 only requires 5.58 billion operations to process an image"
  (224x224); Darknet counts 2 operations per multiply-add, so 2.79G MACs.
* Darknet-53: Redmon & Farhadi (2018), "YOLOv3: An Incremental Improvement",
  Table 1: a 3x3 stem, then five stages of a 3x3 stride-2 convolution followed
  by 1, 2, 8, 8, 4 residual blocks (1x1 conv halving the width, 3x3 conv back,
  identity shortcut); global average pooling and a fully connected classifier.
  Table 2: 18.7 billion operations at 256x256, i.e. 9.35G MACs.
* CSPDarknet53: Wang, Liao, Wu, Chen, Hsieh & Yeh (2020), "CSPNet: A new
  backbone that can enhance learning capability of CNN", CVPRW, Sec. 3.1
  (cross stage partial stages), as used by Bochkovskiy, Wang & Liao (2020),
  "YOLOv4", Table 1 (27.6M parameters, 52 BFLOPs = 26.0G FMA at 512x512).  Each
  stage's input (after the stride-2 convolution) goes through two 1x1
  convolutions: one part bypasses the stage, the other goes through the
  residual blocks and a 1x1 "transition"; the two are concatenated and merged
  by a last 1x1 convolution.  The first stage keeps the full width in both
  parts and halves it inside its residual block (YOLOv4's ``csdarknet53``).

Every convolution is conv → batch norm → leaky ReLU with slope 0.1 (the
activation of YOLO, Redmon, Divvala, Girshick & Farhadi 2016, Sec. 2.2; YOLOv4
uses ``act='mish'`` for CSPDarknet53).  Configurations are the
tables below.  Neither network is in torchvision, and neither paper gives a
parameter count for Darknet-19 or Darknet-53.

CIFAR form (``stem='cifar'``, automatic for inputs of at most 64 pixels): the
first two downsamplings (Darknet-19's first two max pools, the stride-2
convolutions of the first two stages of the others) are removed, so a 32x32
image reaches the last stage at 4x4 (cnnlab's choice, as for the CIFAR ResNets
of He et al. 2016, Sec. 4.2).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import ConvNormAct

LEAKY_SLOPE = 0.1
CIFAR_SKIPPED_DOWNSAMPLINGS = 2

# YOLO9000, Table 6: (filters, kernel) per convolution, "M" = 2x2 stride-2 max pool.
DARKNET19 = (
    (32, 3), "M",
    (64, 3), "M",
    (128, 3), (64, 1), (128, 3), "M",
    (256, 3), (128, 1), (256, 3), "M",
    (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M",
    (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3),
)  # fmt: skip


@dataclass(frozen=True)
class Stage:
    """A stride-2 3x3 conv to ``width`` maps, then ``blocks`` residual blocks.

    For CSP stages, ``part`` is the width of each of the two parts and ``hidden``
    the width inside the residual blocks; plain Darknet-53 stages use width/2.
    """

    width: int
    blocks: int
    part: int = 0
    hidden: int = 0


DARKNET53 = tuple(Stage(w, n) for w, n in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)))
CSPDARKNET53 = (
    Stage(64, 1, part=64, hidden=32),
    Stage(128, 2, part=64, hidden=64),
    Stage(256, 8, part=128, hidden=128),
    Stage(512, 8, part=256, hidden=256),
    Stage(1024, 4, part=512, hidden=512),
)


def _act(name: str) -> nn.Module:
    return get_act(name, negative_slope=LEAKY_SLOPE) if name == "leaky_relu" else get_act(name)


def conv_bn_act(in_ch: int, out_ch: int, kernel: int, stride: int, act: str) -> ConvNormAct:
    """Darknet's convolutional layer: conv (no bias) → BN → activation, 'same' padding."""
    return ConvNormAct(in_ch, out_ch, kernel, stride, padding=kernel // 2, act=_act(act))


class DarknetResidual(nn.Module):
    """x + conv3x3(conv1x1(x)), the residual block of YOLOv3 Table 1."""

    def __init__(self, width: int, hidden: int, act: str):
        super().__init__()
        self.conv1 = conv_bn_act(width, hidden, 1, 1, act)
        self.conv2 = conv_bn_act(hidden, width, 3, 1, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


def darknet_stage(in_ch: int, stage: Stage, stride: int, act: str) -> nn.Sequential:
    """Darknet-53 stage: stride-2 3x3 conv, then residual blocks of hidden width/2."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        down=conv_bn_act(in_ch, stage.width, 3, stride, act)
    )
    for i in range(stage.blocks):
        layers[f"block{i}"] = DarknetResidual(stage.width, stage.width // 2, act)
    return nn.Sequential(layers)


class CSPStage(nn.Module):
    """Cross stage partial stage (CSPNet Sec. 3.1): half bypasses the residual blocks."""

    def __init__(self, in_ch: int, stage: Stage, stride: int, act: str):
        super().__init__()
        self.down = conv_bn_act(in_ch, stage.width, 3, stride, act)
        self.bypass = conv_bn_act(stage.width, stage.part, 1, 1, act)
        self.main = conv_bn_act(stage.width, stage.part, 1, 1, act)
        self.blocks = nn.Sequential(
            *(DarknetResidual(stage.part, stage.hidden, act) for _ in range(stage.blocks))
        )
        self.transition = conv_bn_act(stage.part, stage.part, 1, 1, act)
        self.merge = conv_bn_act(2 * stage.part, stage.width, 1, 1, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        main = self.transition(self.blocks(self.main(x)))
        return self.merge(torch.cat([main, self.bypass(x)], dim=1))


class Darknet(Classifier):
    """A Darknet feature extractor and head; the forward pass checks the input size."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential, downsamplings: int):
        super().__init__(features, head)
        self.min_input_size = 2**downsamplings

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def build_darknet19(num_classes: int, in_chans: int, stem: str, act: str) -> Darknet:
    """Darknet-19 of YOLO9000 Table 6; the CIFAR form drops the first two max pools."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width_in, convs, pools = in_chans, 0, 0
    skipped = CIFAR_SKIPPED_DOWNSAMPLINGS if stem == "cifar" else 0
    for spec in DARKNET19:
        if spec == "M":
            pools += 1
            if pools > skipped:
                layers[f"pool{pools}"] = nn.MaxPool2d(2, 2)
            continue
        width, kernel = spec
        convs += 1
        layers[f"conv{convs}"] = conv_bn_act(width_in, width, kernel, 1, act)
        width_in = width
    head = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(width_in, num_classes, 1),
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
        )
    )
    return Darknet(nn.Sequential(layers), head, pools - skipped)


def build_residual_darknet(
    stages: tuple[Stage, ...], num_classes: int, in_chans: int, stem: str, act: str
) -> Darknet:
    """Darknet-53 (plain residual stages) or CSPDarknet53 (stages with ``part`` set)."""
    skipped = CIFAR_SKIPPED_DOWNSAMPLINGS if stem == "cifar" else 0
    layers: OrderedDict[str, nn.Module] = OrderedDict(stem=conv_bn_act(in_chans, 32, 3, 1, act))
    width_in = 32
    for i, stage in enumerate(stages, start=1):
        stride = 1 if i <= skipped else 2
        make = CSPStage if stage.part else darknet_stage
        layers[f"stage{i}"] = make(width_in, stage, stride, act)
        width_in = stage.width
    head = nn.Sequential(
        OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(width_in, num_classes),
        )
    )
    return Darknet(nn.Sequential(layers), head, len(stages) - skipped)


def _checked(model: Darknet, name: str, stem: str, input_size: int | None) -> Darknet:
    check_input_size(f"{name} ({stem} stem)", input_size, model.min_input_size)
    return model


@register_model(
    reference=Reference(
        source='Redmon & Farhadi 2017, "YOLO9000", Sec. 3: 5.58 billion operations '
        "(2 per multiply-add) and 72.9 % top-1 at 224x224",
        macs=5.58e9 / 2,
        top1=72.9,
    ),
    num_classes=1000,
    in_chans=3,
)
def darknet19(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    act: str = "leaky_relu",
) -> Darknet:
    """Darknet-19 (Redmon & Farhadi 2017): 19 conv layers, 5 max pools, 20.8M params.

    Redmon & Farhadi (2017), "YOLO9000: Better, Faster, Stronger", Sec. 3 and Table 6.

    ``stem``: 'imagenet', 'cifar' (first two max pools removed) or None (by
    ``input_size``); ``act``: activation name (default leaky ReLU, slope 0.1).
    """
    stem = resolve_stem(stem, input_size)
    model = build_darknet19(num_classes, in_chans, stem, act)
    return _checked(model, "darknet19", stem, input_size)


@register_model(
    reference=Reference(
        source='Redmon & Farhadi 2018, "YOLOv3", Table 2: 18.7 billion operations '
        "(2 per multiply-add) and 77.2 % top-1 at 256x256",
        macs=18.7e9 / 2,
        top1=77.2,
        input_shape=(3, 256, 256),
    ),
    num_classes=1000,
    in_chans=3,
)
def darknet53(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    act: str = "leaky_relu",
) -> Darknet:
    """Darknet-53 (Redmon & Farhadi 2018): YOLOv3's residual backbone, 41.6M params.

    Redmon & Farhadi (2018), "YOLOv3: An Incremental Improvement", Tables 1 and 2.

    ``stem``: 'imagenet', 'cifar' (first two stages at stride 1) or None (by
    ``input_size``); ``act``: activation name (default leaky ReLU, slope 0.1).
    """
    stem = resolve_stem(stem, input_size)
    model = build_residual_darknet(DARKNET53, num_classes, in_chans, stem, act)
    return _checked(model, "darknet53", stem, input_size)


@register_model(
    reference=Reference(
        source='Bochkovskiy et al. 2020, "YOLOv4", Table 1: 27.6M parameters and '
        "26.0G FMA at 512x512",
        params=27_600_000,
        macs=26.0e9,
        input_shape=(3, 512, 512),
    ),
    num_classes=1000,
    in_chans=3,
)
def cspdarknet53(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    act: str = "leaky_relu",
) -> Darknet:
    """CSPDarknet53 (Wang et al. 2020, CSPNet): Darknet-53 with cross stage partial stages.

    Wang et al. (2020), "CSPNet: A new backbone that can enhance learning capability of CNN",
    Sec. 3.1; Bochkovskiy et al. (2020), "YOLOv4", Table 1.

    ``stem``: 'imagenet', 'cifar' (first two stages at stride 1) or None (by
    ``input_size``); ``act``: activation name (default leaky ReLU, slope 0.1;
    YOLOv4 uses 'mish').
    """
    stem = resolve_stem(stem, input_size)
    model = build_residual_darknet(CSPDARKNET53, num_classes, in_chans, stem, act)
    return _checked(model, "cspdarknet53", stem, input_size)
