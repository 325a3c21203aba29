"""MnasNet: Tan, Chen, Pang, Vasudevan, Sandler, Howard & Le (2019), "MnasNet:
Platform-aware neural architecture search for mobile", Fig. 7 (the searched
network: a 3x3 conv, a SepConv, then stages of MBConv blocks).

A searched network is a plan (`MnasPlan`): the widths of stem, SepConv
and six MBConv stages, scaled by the depth multiplier α and rounded to
multiples of 8 (``make_divisible``), and the stages (`MnasStage`:
kernel, stride, expansion, repeats, squeeze-and-excitation).  Two plans are
registered (`CONFIGS`, a builder of the same name for each row):

* **A1** (`MNASNET_A1`, ``mnasnet_a1``), the paper's model (Fig. 7a;
  Table 1: 3.9M parameters, 312M multiply-adds, 75.2 % top-1): MBConv3 and
  MBConv6 blocks, squeeze-and-excitation in the 40-, 112- and 160-channel
  stages.  Fig. 7 does not give every detail; those follow the authors'
  TensorFlow release (tensorflow/tpu ``mnasnet_models.py``, ``mnasnet_model.py``):
  SE squeezes to a quarter of the block's *input* width (``se_ratio`` 0.25),
  with ReLU and a sigmoid gate, and a 1x1 convolution to 1280 maps precedes the
  pooling.  Built so: 3,887,038 parameters and 311.6M multiply-adds at 224x224.
* **B1** (`MNASNET_B1`, ``mnasnet0_5 .. mnasnet1_3``), the variant of the
  same release that torchvision implements: the same kind of plan without
  squeeze-and-excitation (other kernels, expansions and widths), ReLU
  throughout.

Batch norm uses TensorFlow's decay 0.9997 (momentum 3e-4), as torchvision's.

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
from cnnlab.nn.attention import SqueezeExcite, make_divisible
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.mbconv import (
    DepthwiseSeparable,
    InvertedResidual,
    init_mobile_weights,
    prefix_rules,
    set_batch_norm,
)


class MnasStage(NamedTuple):
    """``repeats`` MBConv blocks with a ``kernel`` x ``kernel`` depthwise conv; ``se``:
    squeeze-and-excitation to a quarter of each block's input width."""

    kernel: int
    stride: int
    expansion: int
    repeats: int
    se: bool = False


class MnasPlan(NamedTuple):
    """A searched network: ``widths`` of stem, SepConv and each of the ``stages`` (before α)."""

    name: str
    widths: tuple[int, ...]
    stages: tuple[MnasStage, ...]


MNASNET_A1 = MnasPlan(
    "A1",
    (32, 16, 24, 40, 80, 112, 160, 320),
    (
        MnasStage(3, 2, 6, 2),
        MnasStage(5, 2, 3, 3, se=True),
        MnasStage(3, 2, 6, 4),
        MnasStage(3, 1, 6, 2, se=True),
        MnasStage(5, 2, 6, 3, se=True),
        MnasStage(3, 1, 6, 1),
    ),
)
MNASNET_B1 = MnasPlan(
    "B1",
    (32, 16, 24, 40, 80, 96, 192, 320),
    (
        MnasStage(3, 2, 3, 3),
        MnasStage(5, 2, 3, 3),
        MnasStage(5, 2, 6, 3),
        MnasStage(3, 1, 6, 2),
        MnasStage(5, 2, 6, 4),
        MnasStage(3, 1, 6, 1),
    ),
)
MNASNET_LAST = 1280
MNASNET_BN_MOMENTUM = 1 - 0.9997


class MnasNet(MobileClassifier):
    """Conv, SepConv, six MBConv stages (ReLU, SE where the plan has it), 1x1 conv, linear."""

    def __init__(
        self,
        plan: MnasPlan = MNASNET_B1,
        alpha: float = 1.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.2,
    ):
        check_positive("alpha", alpha)
        name = f"MnasNet-{plan.name} ({alpha}x)"
        stride = stem_stride(name, stem, input_size)
        widths = [make_divisible(w * alpha) for w in plan.widths]
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, widths[0], 3, stride),
            stage1=DepthwiseSeparable(widths[0], widths[1], pointwise_act=None),
        )
        # torchvision's MNASNet is the B1 plan, without SE, as a flat ``layers``: 0-7 stem
        # and SepConv, then one child per stage
        torchvision = not any(stage.se for stage in plan.stages)
        renames = [
            ("layers.0", "features.stem.conv"),
            ("layers.1", "features.stem.bn"),
            ("layers.3", "features.stage1.dw.conv"),
            ("layers.4", "features.stage1.dw.bn"),
            ("layers.6", "features.stage1.pw.conv"),
            ("layers.7", "features.stage1.pw.bn"),
        ]
        first_stack = 8
        width = widths[1]
        for i, (stage, out) in enumerate(zip(plan.stages, widths[2:], strict=True), start=2):
            blocks = []
            for j in range(stage.repeats):
                expanded = width * stage.expansion
                se = SqueezeExcite(expanded, max(1, width // 4)) if stage.se else None
                block = InvertedResidual(
                    width,
                    out,
                    expanded,
                    stage.kernel,
                    stage.stride if j == 0 else 1,
                    act="relu",
                    se=se,
                )
                if torchvision:
                    source, target = f"layers.{first_stack + i - 2}.{j}", f"features.stage{i}.{j}"
                    renames += [
                        (f"{source}.{theirs}", f"{target}.{ours}")
                        for theirs, ours in block.torchvision_names("flat").items()
                    ]
                blocks.append(block)
                width = out
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        layers["last_conv"] = ConvNormAct(width, MNASNET_LAST, 1)
        last = first_stack + len(plan.stages)
        renames += [(f"layers.{last}", "features.last_conv.conv")]
        renames += [(f"layers.{last + 1}", "features.last_conv.bn")]
        renames += [("classifier.1", "head.fc")]
        head = classifier_head(MNASNET_LAST, num_classes, dropout)
        keys = prefix_rules(renames) if torchvision else ()
        super().__init__(name, nn.Sequential(layers), head, 16 * stride, keys)
        set_batch_norm(self, 1e-5, MNASNET_BN_MOMENTUM)
        init_mobile_weights(self)


def _torchvision_reference(alpha: str, macs: float, top1: float) -> Reference:
    return Reference(
        source=f"torchvision MNASNet{alpha}_Weights metadata (GFLOPS column = multiply-adds "
        "at 224x224, acc@1 of torchvision's weights); the paper reports the A1 variant only",
        macs=macs,
        top1=top1,
    )


TAN = "Tan et al. 2019, 'MnasNet: Platform-aware neural architecture search for mobile'"

# name -> (plan, depth multiplier α)
CONFIGS: dict[str, tuple[MnasPlan, float]] = {
    "mnasnet_a1": (MNASNET_A1, 1.0),
    "mnasnet0_5": (MNASNET_B1, 0.5),
    "mnasnet0_75": (MNASNET_B1, 0.75),
    "mnasnet1_0": (MNASNET_B1, 1.0),
    "mnasnet1_3": (MNASNET_B1, 1.3),
}


def _mnasnet(
    name: str, num_classes: int, in_chans: int, input_size: int | None, **options
) -> MnasNet:
    """The `MnasNet` of ``CONFIGS[name]``."""
    plan, alpha = CONFIGS[name]
    return MnasNet(plan, alpha, num_classes, in_chans, input_size=input_size, **options)


@register_model(
    reference=Reference(
        f"{TAN}, Fig. 7 (architecture) and Table 1 (3.9M params, 312M multiply-adds, "
        "75.2 % top-1 at 224x224)",
        params=3_900_000,
        macs=312e6,
        top1=75.2,
    ),
    num_classes=1000,
    in_chans=3,
)
def mnasnet_a1(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-A1 (Tan et al. 2019, Fig. 7): MBConv with SE in three stages, 3.9M params, 312M MACs.

    Tan et al. (2019), "MnasNet: Platform-aware neural architecture search for
    mobile", Fig. 7(a) and Table 1.
    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return _mnasnet("mnasnet_a1", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="mnasnet0_5",
    reference=_torchvision_reference("0_5", 0.104e9, 67.734),
    num_classes=1000,
    in_chans=3,
)
def mnasnet0_5(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 0.5 (Tan et al. 2019): 2.2M params, 104M MACs.

    Tan et al. (2019), "MnasNet", the B1 network of the authors' TensorFlow release
    (the paper reports A1 only); figures from torchvision.
    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return _mnasnet("mnasnet0_5", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="mnasnet0_75",
    reference=_torchvision_reference("0_75", 0.215e9, 71.18),
    num_classes=1000,
    in_chans=3,
)
def mnasnet0_75(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 0.75 (Tan et al. 2019): 3.2M params, 215M MACs.

    Tan et al. (2019), "MnasNet", the B1 network of the authors' TensorFlow release
    (the paper reports A1 only); figures from torchvision.
    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return _mnasnet("mnasnet0_75", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="mnasnet1_0",
    reference=_torchvision_reference("1_0", 0.314e9, 73.456),
    num_classes=1000,
    in_chans=3,
)
def mnasnet1_0(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 1.0 (Tan et al. 2019): 4.4M params, 314M MACs.

    Tan et al. (2019), "MnasNet", the B1 network of the authors' TensorFlow release
    (the paper reports A1 only); figures from torchvision.
    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return _mnasnet("mnasnet1_0", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="mnasnet1_3",
    reference=_torchvision_reference("1_3", 0.526e9, 76.506),
    num_classes=1000,
    in_chans=3,
)
def mnasnet1_3(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> MnasNet:
    """MnasNet-B1 with depth multiplier 1.3 (Tan et al. 2019): 6.3M params, 526M MACs.

    Tan et al. (2019), "MnasNet", the B1 network of the authors' TensorFlow release
    (the paper reports A1 only); figures from torchvision.
    Options: ``stem`` ('imagenet'/'cifar'), ``dropout`` (0.2).
    """
    return _mnasnet("mnasnet1_3", num_classes, in_chans, input_size, **options)
