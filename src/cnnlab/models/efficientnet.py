"""EfficientNet B0-B7: Tan & Le (2019), "EfficientNet: Rethinking model scaling for
convolutional neural networks", Table 1 (the B0 baseline), Sec. 3.3 eq. 3
(compound scaling) and Table 2 (B0-B7 parameters and multiply-adds).

B0 (`B0_STAGES`) is a 3x3 stem conv, seven stages of MBConv blocks
(inverted residuals with squeeze-and-excitation of ratio 0.25 and swish,
see `cnnlab.nn.mbconv`), a 1x1 conv to 1280 maps, pooling and a linear
layer.  Every larger network is *generated* from that table by compound
scaling (eq. 3): with a coefficient φ,

    depth d = α^φ,  width w = β^φ,  resolution r = γ^φ,  α = 1.2, β = 1.1, γ = 1.15,

chosen by grid search under α·β²·γ² ≈ 2, so that FLOPs grow by about 2^φ.
`compound_scale` applies it to *any* stage table; widths are rounded to
multiples of 8 (``make_divisible``) and repeats up (``ceil``), as in the
reference code.  For φ = 1: d = 1.2, w = 1.1, r = 1.15·224 ≈ 258; rounding up
gives each of B0's short stages a block more, so FLOPs grow 2.57-fold instead
of 1.92-fold (by φ = 4 the growth per unit of φ is back to 2.0).

The released B1-B7 do not use the formula verbatim: their (width, depth,
resolution, dropout) coefficients were rounded by hand in the authors'
``efficientnet_builder.py`` (`EFFICIENTNET_VARIANTS`) — φ = 1 above is
close to the released *B2* (1.1, 1.2, 260), φ = 2 (1.21, 1.44, 296) to B3
(1.2, 1.4, 300).  The registered ``efficientnet_b0 .. b7`` use the released
coefficients (torchvision's, whose weights load and give the same logits);
``create_model("efficientnet", phi=...)`` builds the formula's network.

Stochastic depth (Huang et al. 2016) drops the residual branch of block i of
n with probability ``drop_path``·i/n (0.2 for the last block by default), as
in the reference code and torchvision's ``StochasticDepth(mode='row')``.

CIFAR form: ``stem='cifar'`` (automatic for inputs up to 64 pixels) makes the
stem convolution stride 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from torch import nn

from cnnlab.errors import ConfigError, check_positive
from cnnlab.models.mobilenet import MobileClassifier, classifier_head, stem_stride
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.attention import SqueezeExcite, make_divisible
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.mbconv import InvertedResidual, init_mobile_weights, prefix_rules, set_batch_norm


@dataclass(frozen=True)
class MBConvStage:
    """A row of Tan & Le (2019), Table 1: ``repeats`` MBConv blocks of ``channels`` outputs."""

    expansion: int
    kernel: int
    stride: int
    channels: int
    repeats: int


B0_STAGES: tuple[MBConvStage, ...] = (
    MBConvStage(1, 3, 1, 16, 1),
    MBConvStage(6, 3, 2, 24, 2),
    MBConvStage(6, 5, 2, 40, 2),
    MBConvStage(6, 3, 2, 80, 3),
    MBConvStage(6, 5, 1, 112, 3),
    MBConvStage(6, 5, 2, 192, 4),
    MBConvStage(6, 3, 1, 320, 1),
)
B0_STEM = 32
B0_RESOLUTION = 224
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution per unit of φ (Sec. 3.3)
TF_BN_EPS, TF_BN_MOMENTUM = 1e-3, 0.01

Stage = TypeVar("Stage")


def scale_stages(stages: Sequence[Stage], width: float, depth: float) -> list[Stage]:
    """Stages with ``channels`` times ``width`` (to a multiple of 8) and ``repeats`` times
    ``depth`` (rounded up).

    ``stages`` are dataclass rows with ``channels`` and ``repeats`` fields (other
    fields are kept), e.g. `MBConvStage`.
    """
    check_positive("width", width)
    check_positive("depth", depth)
    try:
        return [
            dataclasses.replace(
                stage,
                channels=make_divisible(stage.channels * width),
                repeats=math.ceil(stage.repeats * depth),
            )
            for stage in stages
        ]
    except (TypeError, AttributeError) as exc:
        raise ConfigError(
            f"Stages must be dataclass rows with 'channels' and 'repeats' fields ({exc})."
        ) from exc


def compound_scale(
    stages: Sequence[Stage],
    phi: float,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    resolution: int = B0_RESOLUTION,
) -> tuple[list[Stage], int]:
    """Compound scaling (Tan & Le 2019, eq. 3): depth α^φ, width β^φ, resolution γ^φ.

    Parameters
    ----------
    stages : sequence of dataclass rows with ``channels`` and ``repeats`` fields
        The base network's stage table (e.g. `B0_STAGES`).
    phi : float
        The compound coefficient φ (0 gives the base network).
    alpha, beta, gamma : float
        Depth, width and resolution factors per unit of φ (the paper's grid
        search on B0, under α·β²·γ² ≈ 2).
    resolution : int
        The base network's input side.

    Returns
    -------
    (list of stages, int)
        The scaled table (channels via ``make_divisible(·, 8)``, repeats via
        ``ceil``) and the input side ``round(resolution·γ^φ)``.

    Examples
    --------
    >>> stages, size = compound_scale(B0_STAGES, phi=1)
    >>> size, [s.repeats for s in stages], stages[-1].channels
    (258, [2, 3, 3, 4, 4, 5, 2], 352)
    """
    scaled = scale_stages(stages, width=beta**phi, depth=alpha**phi)
    return scaled, round(resolution * gamma**phi)


class EfficientVariant(NamedTuple):
    """Released coefficients of one EfficientNet (``efficientnet_builder.py``)."""

    width: float
    depth: float
    resolution: int
    dropout: float
    tf_batch_norm: bool  # torchvision's B5-B7 weights are TensorFlow ports


EFFICIENTNET_VARIANTS: dict[str, EfficientVariant] = {
    "b0": EfficientVariant(1.0, 1.0, 224, 0.2, False),
    "b1": EfficientVariant(1.0, 1.1, 240, 0.2, False),
    "b2": EfficientVariant(1.1, 1.2, 260, 0.3, False),
    "b3": EfficientVariant(1.2, 1.4, 300, 0.3, False),
    "b4": EfficientVariant(1.4, 1.8, 380, 0.4, False),
    "b5": EfficientVariant(1.6, 2.2, 456, 0.4, True),
    "b6": EfficientVariant(1.8, 2.6, 528, 0.5, True),
    "b7": EfficientVariant(2.0, 3.1, 600, 0.5, True),
}


class EfficientNet(MobileClassifier):
    """Stem conv, stages of MBConv blocks (SE, swish, stochastic depth), 1x1 conv, linear.

    ``stages`` is a (scaled) stage table; the last 1x1 convolution has four
    times the width of the last stage (1280 for B0).  ``tf_batch_norm`` gives
    batch norm TensorFlow's ε = 1e-3 and decay 0.99 (momentum 0.01).
    """

    def __init__(
        self,
        stages: Sequence[MBConvStage],
        stem_channels: int,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.2,
        drop_path: float = 0.2,
        tf_batch_norm: bool = False,
        name: str = "EfficientNet",
    ):
        stride = stem_stride(name, stem, input_size)
        if not 0.0 <= drop_path < 1.0:
            raise ConfigError(f"drop_path must be in [0, 1), got {drop_path}.")
        width = stem_channels
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_chans, width, 3, stride, act="silu")
        )
        renames = [("features.0.0", "features.stem.conv"), ("features.0.1", "features.stem.bn")]
        total, index = sum(s.repeats for s in stages), 0
        for i, stage in enumerate(stages, start=1):
            blocks = []
            for j in range(stage.repeats):
                expanded = make_divisible(width * stage.expansion)
                se = SqueezeExcite(expanded, max(1, width // 4), "silu", "sigmoid")
                block = InvertedResidual(
                    width,
                    stage.channels,
                    expanded,
                    stage.kernel,
                    stage.stride if j == 0 else 1,
                    "silu",
                    se,
                    drop_path * index / total,
                )
                renames += [
                    (f"features.{i}.{j}.{source}", f"features.stage{i}.{j}.{ours}")
                    for source, ours in block.torchvision_names("sequential").items()
                ]
                blocks.append(block)
                width, index = stage.channels, index + 1
            layers[f"stage{i}"] = nn.Sequential(*blocks)
        last = 4 * width
        layers["last_conv"] = ConvNormAct(width, last, 1, act="silu")
        last_index = len(stages) + 1
        renames += [(f"features.{last_index}.0", "features.last_conv.conv")]
        renames += [(f"features.{last_index}.1", "features.last_conv.bn")]
        renames += [("classifier.1", "head.fc")]
        head = classifier_head(last, num_classes, dropout)
        super().__init__(name, nn.Sequential(layers), head, 16 * stride, prefix_rules(renames))
        if tf_batch_norm:
            set_batch_norm(self, TF_BN_EPS, TF_BN_MOMENTUM)
        init_mobile_weights(self, linear="uniform")


def _released(
    variant: str, num_classes: int, in_chans: int, input_size: int | None, **options
) -> EfficientNet:
    width, depth, _, dropout, tf_batch_norm = EFFICIENTNET_VARIANTS[variant]
    options.setdefault("dropout", dropout)
    return EfficientNet(
        scale_stages(B0_STAGES, width, depth),
        make_divisible(B0_STEM * width),
        num_classes,
        in_chans,
        input_size=input_size,
        tf_batch_norm=tf_batch_norm,
        name=f"EfficientNet-{variant.upper()}",
        **options,
    )


def _reference(
    variant: str, top1: float, params: int, macs: float | None = None, note: str = ""
) -> Reference:
    """Table 2's figures.  Its parameter counts have two significant digits ("12M"), so they
    are checked to half a unit of the second digit (``params_rounding``) where that exceeds
    1 %; ``macs`` is ``None`` where the 2-digit figure is off the released model by more than
    the zoo's 2 % and its rounding, explained in ``note``.  The top-1 figures are those of
    the revised paper; arXiv v1 printed 76.3, 78.8, 79.8, 81.1, 82.6, 83.3, 84.0 and 84.4
    for B0-B7 (same parameters and FLOPs)."""
    size = EFFICIENTNET_VARIANTS[variant].resolution
    return Reference(
        source=f"Tan & Le 2019, EfficientNet, Table 2 (EfficientNet-{variant.upper()}){note}",
        params=params,
        macs=macs,
        top1=top1,
        input_shape=(3, size, size),
        params_rounding=10.0 ** (math.floor(math.log10(params)) - 1),
    )


# Where Table 2's rounded multiply-adds and the released architecture (torchvision's exact
# counts, whose "GFLOPS" metadata equal our multiply-adds) disagree beyond the tolerance
# and beyond the figure's rounding.
_B4_NOTE = "; 4.2B multiply-adds, released 4.39B"
_B5_NOTE = "; 9.9B multiply-adds, released 10.27B"
_B7_NOTE = "; 37B multiply-adds, released 37.75B"


@register_model(
    torchvision="efficientnet_b0",
    reference=_reference("b0", 77.1, 5_300_000, 0.39e9),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b0(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B0 (Tan & Le 2019, Table 1): MBConv + SE + swish, 5.3M params, 0.39B MACs.

    Options (all EfficientNets): ``stem`` ('imagenet'/'cifar'), ``dropout``
    (before the classifier; the variant's by default), ``drop_path``
    (stochastic depth of the last block, 0.2).
    """
    return _released("b0", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b1",
    reference=_reference("b1", 79.1, 7_800_000, 0.70e9),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b1(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B1 (width 1.0, depth 1.1, 240 px): 7.8M params, 0.70B MACs.

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b1", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b2",
    reference=_reference("b2", 80.1, 9_200_000, 1.0e9),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b2(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B2 (width 1.1, depth 1.2, 260 px): 9.2M params, 1.0B MACs.

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b2", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b3",
    reference=_reference("b3", 81.6, 12_000_000, 1.8e9),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b3(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B3 (width 1.2, depth 1.4, 300 px): 12M params, 1.8B MACs.

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b3", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b4",
    reference=_reference("b4", 82.9, 19_000_000, note=_B4_NOTE),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b4(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B4 (width 1.4, depth 1.8, 380 px): 19M params, 4.4B MACs (Table 2: 4.2B).

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b4", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b5",
    reference=_reference("b5", 83.6, 30_000_000, note=_B5_NOTE),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b5(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B5 (width 1.6, depth 2.2, 456 px): 30M params, 10.3B MACs (Table 2: 9.9B).

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b5", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b6",
    reference=_reference("b6", 84.0, 43_000_000, 19e9),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b6(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B6 (width 1.8, depth 2.6, 528 px): 43M params, 19B MACs.

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b6", num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="efficientnet_b7",
    reference=_reference("b7", 84.3, 66_000_000, note=_B7_NOTE),
    num_classes=1000,
    in_chans=3,
)
def efficientnet_b7(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> EfficientNet:
    """EfficientNet-B7 (width 2.0, depth 3.1, 600 px): 66M params, 37.7B MACs (Table 2: 37B).

    Tan & Le (2019), "EfficientNet: Rethinking model scaling for convolutional neural
    networks", Table 2, with the released coefficients.  Options as for ``efficientnet_b0``.
    """
    return _released("b7", num_classes, in_chans, input_size, **options)


@register_model
def efficientnet(
    num_classes: int = 1000,
    in_chans: int = 3,
    input_size: int | None = None,
    phi: float = 0.0,
    **options,
) -> EfficientNet:
    """EfficientNet generated from B0 by the compound-scaling formula with coefficient phi.

    Depth 1.2^φ, width 1.1^φ (Tan & Le 2019, eq. 3); the matching input side is
    ``compound_scale(B0_STAGES, phi)[1]``.  Options as for ``efficientnet_b0``.
    """
    stages, _ = compound_scale(B0_STAGES, phi)
    return EfficientNet(
        stages,
        make_divisible(B0_STEM * BETA**phi),
        num_classes,
        in_chans,
        input_size=input_size,
        name=f"EfficientNet (phi={phi})",
        **options,
    )
