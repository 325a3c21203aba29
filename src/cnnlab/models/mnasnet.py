"""MnasNet: Tan, Chen, Pang, Vasudevan, Sandler, Howard & Le (2019), "MnasNet:
Platform-aware neural architecture search for mobile", Fig. 7 (the searched
network: a 3x3 conv, a SepConv, then stages of MBConv blocks).

The model here is the **B1** variant of the authors' TensorFlow release
(``mnasnet_b1`` in tensorflow/tpu), which torchvision implements as
``mnasnet0_5 .. mnasnet1_3``: the same plan as the paper's MnasNet-A1 but
without squeeze-and-excitation and with ReLU throughout.  Its stages
(:data:`MNASNET_STAGES`) are (kernel, stride, expansion, repeats) of MBConv
blocks; widths :data:`MNASNET_WIDTHS` are scaled by the depth multiplier α
and rounded to multiples of 8 (``make_divisible``).  The paper's own A1
network (3.9M parameters, 312M multiply-adds, Table 1) is not provided, since
torchvision does not have it to check against.  Batch norm uses TensorFlow's
decay 0.9997 (momentum 3e-4).

CIFAR form: ``stem='cifar'`` (automatic for inputs up to 64 pixels) makes the
first convolution stride 1.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from torch import nn

from cnnlab.errors import check_positive
from cnnlab.models.mobilenet import MobileClassifier, classifier_head, stem_stride
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.attention import make_divisible
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.mbconv import (
    DepthwiseSeparable,
    InvertedResidual,
    init_mobile_weights,
    prefix_rules,
    set_batch_norm,
)


class MnasStage(NamedTuple):
    """``repeats`` MBConv blocks with a ``kernel`` x ``kernel`` depthwise conv."""

    kernel: int
    stride: int
    expansion: int
    repeats: int


# Widths of stem, SepConv and the six MBConv stages, before the multiplier α.
MNASNET_WIDTHS = (32, 16, 24, 40, 80, 96, 192, 320)
MNASNET_STAGES: tuple[MnasStage, ...] = (
    MnasStage(3, 2, 3, 3),
    MnasStage(5, 2, 3, 3),
    MnasStage(5, 2, 6, 3),
    MnasStage(3, 1, 6, 2),
    MnasStage(5, 2, 6, 4),
    MnasStage(3, 1, 6, 1),
)
MNASNET_LAST = 1280
MNASNET_BN_MOMENTUM = 1 - 0.9997


class MnasNet(MobileClassifier):
    """MnasNet-B1: conv, SepConv, six MBConv stages (ReLU, no SE), 1x1 conv, linear."""

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.2,
    ):
        check_positive("alpha", alpha)
        name = f"MnasNet ({alpha}x)"
        stride = stem_stride(name, stem, input_size)
        widths = [make_divisible(w * alpha) for w in MNASNET_WIDTHS]
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, widths[0], 3, stride),
            stage1=DepthwiseSeparable(widths[0], widths[1], pointwise_act=None),
        )
        renames = [
            ("layers.0", "features.stem.conv"),
            ("layers.1", "features.stem.bn"),
            ("layers.3", "features.stage1.dw.conv"),
            ("layers.4", "features.stage1.dw.bn"),
            ("layers.6", "features.stage1.pw.conv"),
            ("layers.7", "features.stage1.pw.bn"),
        ]
        # torchvision's flat ``layers``: 0-7 stem and SepConv, then one child per stage
        first_stack = 8
        width = widths[1]
        for i, (stage, out) in enumerate(zip(MNASNET_STAGES, widths[2:], strict=True), start=2):
            blocks = []
            for j in range(stage.repeats):
                block = InvertedResidual(
                    width,
                    out,
                    width * stage.expansion,
                    stage.kernel,
                    stage.stride if j == 0 else 1,
                    act="relu",
                )
                renames += [
                    (f"layers.{first_stack + i - 2}.{j}.{source}", f"features.stage{i}.{j}.{ours}")
                    for source, ours in block.torchvision_names("flat").items()
                ]
                blocks.append(block)
                width = out
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        layers["last_conv"] = ConvNormAct(width, MNASNET_LAST, 1)
        last = first_stack + len(MNASNET_STAGES)
        renames += [(f"layers.{last}", "features.last_conv.conv")]
        renames += [(f"layers.{last + 1}", "features.last_conv.bn")]
        renames += [("classifier.1", "head.fc")]
        head = classifier_head(MNASNET_LAST, num_classes, dropout)
        super().__init__(name, nn.Sequential(layers), head, 16 * stride, prefix_rules(renames))
        set_batch_norm(self, 1e-5, MNASNET_BN_MOMENTUM)
        init_mobile_weights(self)


def _reference(alpha: str, macs: float, top1: float) -> Reference:
    return Reference(
        source=f"torchvision MNASNet{alpha}_Weights metadata (GFLOPS column = multiply-adds "
        "at 224x224, acc@1 of torchvision's weights); the paper reports the A1 variant only",
        macs=macs,
        top1=top1,
    )


@register_model(
    torchvision="mnasnet0_5",
    reference=_reference("0_5", 0.104e9, 67.734),
    num_classes=1000,
    in_chans=3,
)
def mnasnet0_5(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 0.5 (Tan et al. 2019): 2.2M params, 104M MACs.

    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return MnasNet(0.5, num_classes, in_chans, input_size=input_size, **options)


@register_model(
    torchvision="mnasnet0_75",
    reference=_reference("0_75", 0.215e9, 71.18),
    num_classes=1000,
    in_chans=3,
)
def mnasnet0_75(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 0.75 (Tan et al. 2019): 3.2M params, 215M MACs."""
    return MnasNet(0.75, num_classes, in_chans, input_size=input_size, **options)


@register_model(
    torchvision="mnasnet1_0",
    reference=_reference("1_0", 0.314e9, 73.456),
    num_classes=1000,
    in_chans=3,
)
def mnasnet1_0(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 1.0 (Tan et al. 2019): 4.4M params, 314M MACs."""
    return MnasNet(1.0, num_classes, in_chans, input_size=input_size, **options)


@register_model(
    torchvision="mnasnet1_3",
    reference=_reference("1_3", 0.526e9, 76.506),
    num_classes=1000,
    in_chans=3,
)
def mnasnet1_3(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 1.3 (Tan et al. 2019): 6.3M params, 526M MACs."""
    return MnasNet(1.3, num_classes, in_chans, input_size=input_size, **options)
