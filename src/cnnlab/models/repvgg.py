"""RepVGG: Ding, Zhang, Ma, Han, Ding & Sun (2021), "RepVGG: Making VGG-style
ConvNets Great Again", CVPR, Table 2 (architecture), Table 3 (width multipliers)
and Table 4 (ImageNet parameters, FLOPs, accuracy).

Five stages of `RepVGGBlock` + ReLU; the first layer of
each stage has stride 2 (224 → 112 → 56 → 28 → 14 → 7), then global average
pooling and a linear classifier (Table 2):

    stage  output   layers A / B   width
    1      112x112  1 / 1          min(64, 64a)
    2      56x56    2 / 4          64a
    3      28x28    4 / 6          128a
    4      14x14    14 / 16        256a
    5      7x7      1 / 1          512b

with (a, b) = A0 (0.75, 2.5), A1 (1, 2.5), A2 (1.5, 2.75), B0 (1, 2.5),
B1 (2, 4), B2 (2.5, 5), B3 (3, 5) (Table 3, `CONFIGS`; a builder per row,
``repvgg_a0`` ... ``repvgg_b3``).  Table 4 gives the parameters of the
*inference-time* network (after `cnnlab.nn.fuse.reparameterize`, every
block a single 3x3 conv); the training-time network has the extra 1x1 and BN
branches.

CIFAR form (``stem='cifar'``, automatic for inputs of at most 64 pixels): the
first two stages keep stride 1, like the 3x3 stride-1 stem without max pooling
of the CIFAR ResNets (He et al. 2016, Sec. 4.2), so a 32x32 image reaches the
last stage at 4x4.  This is cnnlab's choice; the paper trains on ImageNet only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import conv2d
from cnnlab.nn.repvgg import RepVGGBlock

PAPER = 'Ding et al. 2021, "RepVGG", Table 4 (inference-time params, FLOPs)'

DEPTHS = {"A": (1, 2, 4, 14, 1), "B": (1, 4, 6, 16, 1)}  # Table 2
BASE_WIDTHS = (64, 64, 128, 256, 512)

STRIDES = {"imagenet": (2, 2, 2, 2, 2), "cifar": (1, 1, 2, 2, 2)}


@dataclass(frozen=True)
class RepVGGConfig:
    """One variant of Table 3: depth family 'A' or 'B' and width multipliers a, b."""

    family: str
    a: float
    b: float

    @property
    def widths(self) -> tuple[int, ...]:
        """min(64, 64a), 64a, 128a, 256a, 512b (Table 2)."""
        first = min(64, int(64 * self.a))
        return (first, *(int(w * self.a) for w in BASE_WIDTHS[1:4]), int(512 * self.b))


CONFIGS: dict[str, RepVGGConfig] = {
    "a0": RepVGGConfig("A", 0.75, 2.5),
    "a1": RepVGGConfig("A", 1.0, 2.5),
    "a2": RepVGGConfig("A", 1.5, 2.75),
    "b0": RepVGGConfig("B", 1.0, 2.5),
    "b1": RepVGGConfig("B", 2.0, 4.0),
    "b2": RepVGGConfig("B", 2.5, 5.0),
    "b3": RepVGGConfig("B", 3.0, 5.0),
}


def rep_unit(in_ch: int, out_ch: int, stride: int, deploy: bool = False) -> nn.Sequential:
    """A RepVGG block followed by its ReLU (children ``rep`` and ``act``).

    ``deploy=True`` builds the inference-time form directly: ``rep`` is the single
    3x3 convolution with bias that `RepVGGBlock.reparameterize` returns.
    """
    rep = (
        conv2d(in_ch, out_ch, 3, stride, padding=1)
        if deploy
        else RepVGGBlock(in_ch, out_ch, stride)
    )
    return nn.Sequential(OrderedDict(rep=rep, act=nn.ReLU()))


class RepVGG(Classifier):
    """Five stages of RepVGG blocks, global average pooling, linear classifier."""

    def __init__(
        self,
        config: RepVGGConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        deploy: bool = False,
    ):
        strides = STRIDES[stem]
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_chans
        for i, (depth, width, stride) in enumerate(
            zip(DEPTHS[config.family], config.widths, strides, strict=True), start=1
        ):
            units = [
                rep_unit(width_in if j == 0 else width, width, stride if j == 0 else 1, deploy)
                for j in range(depth)
            ]
            stages[f"stage{i}"] = nn.Sequential(*units)
            width_in = width
        head = nn.Sequential(
            OrderedDict(
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
                fc=nn.Linear(width_in, num_classes),
            )
        )
        super().__init__(nn.Sequential(stages), head)
        self.min_input_size = 2 ** sum(s == 2 for s in strides)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def _repvgg(
    variant: str,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    input_size: int | None,
    deploy: bool,
) -> RepVGG:
    stem = resolve_stem(stem, input_size)
    model = RepVGG(CONFIGS[variant], num_classes, in_chans, stem, deploy)
    check_input_size(f"repvgg_{variant} ({stem} stem)", input_size, model.min_input_size)
    return model


@dataclass(frozen=True)
class Published:
    """Table 4 figures of a variant's inference-time network."""

    params_m: float
    gflops: float
    top1: float
    check_macs: bool = True  # False where the table's rounding exceeds the 2 % check


# Table 4.  A0's 1.4G FLOPs is rounded from the 1.36G multiply-adds counted here
# (3 % apart), so A0 is checked against its parameter count only.
PUBLISHED: dict[str, Published] = {
    "a0": Published(8.30, 1.4, 72.41, check_macs=False),
    "a1": Published(12.78, 2.4, 74.46),
    "a2": Published(25.49, 5.1, 76.48),
    "b0": Published(14.33, 3.1, 75.14),
    "b1": Published(51.82, 11.8, 78.37),
    "b2": Published(80.31, 18.4, 78.78),
    "b3": Published(110.96, 26.2, 80.52),
}


def _reference(variant: str) -> Reference:
    published = PUBLISHED[variant]
    macs = published.gflops * 1e9 if published.check_macs else None
    return Reference(
        source=PAPER, params=round(published.params_m * 1e6), macs=macs, top1=published.top1
    )


@register_model(reference=_reference("a0"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_a0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-A0 (Ding et al. 2021): a = 0.75, b = 2.5, 8.30M params, 1.4G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("a0", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("a1"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_a1(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-A1 (Ding et al. 2021): a = 1, b = 2.5, 12.78M params, 2.4G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("a1", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("a2"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_a2(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-A2 (Ding et al. 2021): a = 1.5, b = 2.75, 25.49M params, 5.1G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("a2", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("b0"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_b0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-B0 (Ding et al. 2021): a = 1, b = 2.5, 14.33M params, 3.1G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("b0", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("b1"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_b1(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-B1 (Ding et al. 2021): a = 2, b = 4, 51.82M params, 11.8G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("b1", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("b2"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_b2(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-B2 (Ding et al. 2021): a = 2.5, b = 5, 80.31M params, 18.4G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("b2", num_classes, in_chans, stem, input_size, deploy)


@register_model(reference=_reference("b3"), num_classes=1000, in_chans=3, deploy=True)
def repvgg_b3(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    deploy: bool = False,
) -> RepVGG:
    """RepVGG-B3 (Ding et al. 2021): a = 3, b = 5, 110.96M params, 26.2G FLOPs.

    Ding et al. (2021), "RepVGG: Making VGG-style ConvNets great again", Tables 2
    and 3; the figures are those of the inference form (Table 4).
    ``stem``: 'imagenet', 'cifar' (stages 1-2 at stride 1) or None (by ``input_size``);
    ``deploy=True`` builds the re-parameterized network directly.
    """
    return _repvgg("b3", num_classes, in_chans, stem, input_size, deploy)
