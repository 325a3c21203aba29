"""Inception v3, Inception-v4 and Inception-ResNet-v2.

* Inception v3: Szegedy, Vanhoucke, Ioffe, Shlens & Wojna (2016), "Rethinking
  the Inception architecture for computer vision", CVPR, Table 1 (layout) and
  Figs. 5, 6, 7 (the 35x35, 17x17 and 8x8 modules), Fig. 10 (grid reduction),
  Sec. 4 / Fig. 8 (auxiliary classifier).  Built as torchvision's
  ``inception_v3`` (the authors' released TensorFlow model: 3 + 4 + 2 modules
  with 17x17 modules of 128, 160, 160 and 192 channels in their 7x7 branches,
  where Table 1 lists 3 x Fig. 5, 5 x Fig. 6, 2 x Fig. 7); it loads
  torchvision's state dicts and gives the same logits.
* Inception-v4 and Inception-ResNet-v2: Szegedy, Ioffe, Vanhoucke & Alemi (2017),
  "Inception-v4, Inception-ResNet and the impact of residual connections on
  learning", AAAI, Figs. 3-9 (v4: stem, Inception-A/B/C, Reduction-A/B with
  k, l, m, n = 192, 224, 256, 384 from Table 1) and Figs. 15-19 (Inception-
  ResNet-v2).  Both follow the authors' released TensorFlow-Slim models
  (``inception_v4.py``, ``inception_resnet_v2.py`` of tensorflow/models), which
  timm ports: the same filter counts as the figures; v4 orders the 1x7/7x1
  pairs of Inception-B and the 1x3/3x1 pair of Inception-C as the code does.
  Inception-ResNet-v2's released model differs from Figs. 15-19: its stem is
  v3's (ending in a 35x35 Inception module of 320 maps) instead of Fig. 3, and
  the residual modules project back to 320, 1088 and 2080 maps.  The residuals
  are scaled by 0.17, 0.10 and 0.20 (Sec. 3.3 and Fig. 20: "between 0.1 and
  0.3").  Published parameter counts and multiply-adds are timm's model cards
  (the paper has no such table): 42.7M / 12.3G and 55.8M / 13.2G at 299x299.

Batch norm uses TensorFlow's ε = 10⁻³; average pooling inside the v4 and
Inception-ResNet modules ignores the padding (TensorFlow's 'SAME' pooling),
v3's counts it (as torchvision does).  Inception v3 returns
`AuxLogits` in training mode, with weight 0.4 for
the auxiliary loss as in the authors' training script
(tensorflow/models, ``slim/train_image_classifier.py``:
``softmax_cross_entropy(end_points['AuxLogits'], ..., weights=0.4)``).

CIFAR forms (``stem='cifar'``, automatic for ``input_size`` ≤ 64) run the stem
at stride 1: every stem convolution and pooling keeps the resolution
('same' padding) and the stand-alone max pools are dropped, so 32x32 images
enter the 35x35 stage at 32x32 (then 15x15 and 7x7), as the CIFAR-100 ports
of weiaicunzai/pytorch-cifar100 (models/inceptionv3.py, inceptionv4.py) do.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.models.base import check_input_size, resolve_stem
from cnnlab.models.googlenet import InceptionNet
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.inception import Conv, Layer, Pool, Residual, build_layer, conv_bn
from cnnlab.nn.pool import GlobalAvgPool2d

Rows = tuple[tuple[str, Layer], ...]

MAX_3X3_S2 = Pool("max", 3, 2, 0)
AVG = Pool("avg", 3, 1, 1)  # v3 (torchvision): padding counted in the average
TF_AVG = Pool("avg", 3, 1, 1, count_include_pad=False)  # v4, Inception-ResNet


# --- Inception v3 (torchvision / TF-Slim layout) ---------------------------------------


def _v3_35x35(pool_proj: int) -> dict:
    """Fig. 5: the 5x5 factorized into two 3x3 (TF's model keeps one 5x5 branch too)."""
    return {
        "branch1x1": [Conv(64)],
        "branch5x5": [Conv(48), Conv(64, 5)],
        "branch3x3dbl": [Conv(64), Conv(96, 3), Conv(96, 3)],
        "branch_pool": [AVG, Conv(pool_proj)],
    }


def _v3_17x17(c7: int) -> dict:
    """Fig. 6 with n = 7: 7x7 convolutions factorized into 1x7 and 7x1."""
    return {
        "branch1x1": [Conv(192)],
        "branch7x7": [Conv(c7), Conv(c7, (1, 7)), Conv(192, (7, 1))],
        "branch7x7dbl": [
            Conv(c7),
            Conv(c7, (7, 1)),
            Conv(c7, (1, 7)),
            Conv(c7, (7, 1)),
            Conv(192, (1, 7)),
        ],
        "branch_pool": [AVG, Conv(192)],
    }


def _split_1x3_3x1(out: int) -> dict:
    """Fig. 7: parallel 1x3 and 3x1 convolutions, concatenated."""
    return {"a": [Conv(out, (1, 3))], "b": [Conv(out, (3, 1))]}


V3_8X8 = {
    "branch1x1": [Conv(320)],
    "branch3x3": [Conv(384), _split_1x3_3x1(384)],
    "branch3x3dbl": [Conv(448), Conv(384, 3), _split_1x3_3x1(384)],
    "branch_pool": [AVG, Conv(192)],
}

V3_STEM: Rows = (
    ("conv2d_1a_3x3", Conv(32, 3, 2, 0)),
    ("conv2d_2a_3x3", Conv(32, 3, padding=0)),
    ("conv2d_2b_3x3", Conv(64, 3)),
    ("maxpool1", MAX_3X3_S2),
    ("conv2d_3b_1x1", Conv(80)),
    ("conv2d_4a_3x3", Conv(192, 3, padding=0)),
    ("maxpool2", MAX_3X3_S2),
)
V3_BODY: Rows = (
    ("mixed_5b", _v3_35x35(32)),
    ("mixed_5c", _v3_35x35(64)),
    ("mixed_5d", _v3_35x35(64)),
    (
        "mixed_6a",  # Fig. 10: grid reduction 35 → 17
        {
            "branch3x3": [Conv(384, 3, 2, 0)],
            "branch3x3dbl": [Conv(64), Conv(96, 3), Conv(96, 3, 2, 0)],
            "branch_pool": [MAX_3X3_S2],
        },
    ),
    ("mixed_6b", _v3_17x17(128)),
    ("mixed_6c", _v3_17x17(160)),
    ("mixed_6d", _v3_17x17(160)),
    ("mixed_6e", _v3_17x17(192)),
    (
        "mixed_7a",  # grid reduction 17 → 8
        {
            "branch3x3": [Conv(192), Conv(320, 3, 2, 0)],
            "branch7x7x3": [Conv(192), Conv(192, (1, 7)), Conv(192, (7, 1)), Conv(192, 3, 2, 0)],
            "branch_pool": [MAX_3X3_S2],
        },
    ),
    ("mixed_7b", V3_8X8),
    ("mixed_7c", V3_8X8),
)


# --- Inception-v4 (Figs. 3-9) ------------------------------------------------------------


def _repeat(prefix: str, count: int, layer: Layer) -> Rows:
    return tuple((f"{prefix}{i}", layer) for i in range(1, count + 1))


V4_STEM: Rows = (  # Fig. 3
    ("conv1a", Conv(32, 3, 2, 0)),
    ("conv2a", Conv(32, 3, padding=0)),
    ("conv2b", Conv(64, 3)),
    ("mixed_3a", {"branch0": [MAX_3X3_S2], "branch1": [Conv(96, 3, 2, 0)]}),
    (
        "mixed_4a",
        {
            "branch0": [Conv(64), Conv(96, 3, padding=0)],
            "branch1": [
                Conv(64),
                Conv(64, (1, 7)),
                Conv(64, (7, 1)),
                Conv(96, 3, padding=0),
            ],
        },
    ),
    ("mixed_5a", {"branch0": [Conv(192, 3, 2, 0)], "branch1": [MAX_3X3_S2]}),
)
V4_INCEPTION_A = {  # Fig. 4
    "branch0": [Conv(96)],
    "branch1": [Conv(64), Conv(96, 3)],
    "branch2": [Conv(64), Conv(96, 3), Conv(96, 3)],
    "branch3": [TF_AVG, Conv(96)],
}
V4_INCEPTION_B = {  # Fig. 5
    "branch0": [Conv(384)],
    "branch1": [Conv(192), Conv(224, (1, 7)), Conv(256, (7, 1))],
    "branch2": [
        Conv(192),
        Conv(192, (7, 1)),
        Conv(224, (1, 7)),
        Conv(224, (7, 1)),
        Conv(256, (1, 7)),
    ],
    "branch3": [TF_AVG, Conv(128)],
}
V4_INCEPTION_C = {  # Fig. 6
    "branch0": [Conv(256)],
    "branch1": [Conv(384), _split_1x3_3x1(256)],
    "branch2": [Conv(384), Conv(448, (3, 1)), Conv(512, (1, 3)), _split_1x3_3x1(256)],
    "branch3": [TF_AVG, Conv(256)],
}


def _reduction_a(k: int, l: int, m: int, n: int) -> dict:  # noqa: E741  (the paper's names)
    """Fig. 7 with the filter counts k, l, m, n of Table 1."""
    return {
        "branch0": [Conv(n, 3, 2, 0)],
        "branch1": [Conv(k), Conv(l, 3), Conv(m, 3, 2, 0)],
        "branch2": [MAX_3X3_S2],
    }


V4_BODY: Rows = (
    *_repeat("inception_a", 4, V4_INCEPTION_A),
    ("reduction_a", _reduction_a(192, 224, 256, 384)),
    *_repeat("inception_b", 7, V4_INCEPTION_B),
    (
        "reduction_b",  # Fig. 8
        {
            "branch0": [Conv(192), Conv(192, 3, 2, 0)],
            "branch1": [
                Conv(256),
                Conv(256, (1, 7)),
                Conv(320, (7, 1)),
                Conv(320, 3, 2, 0),
            ],
            "branch2": [MAX_3X3_S2],
        },
    ),
    *_repeat("inception_c", 3, V4_INCEPTION_C),
)


# --- Inception-ResNet-v2 (Figs. 15-19, TF-Slim channel counts) ---------------------------

IRV2_STEM: Rows = (
    ("conv1a", Conv(32, 3, 2, 0)),
    ("conv2a", Conv(32, 3, padding=0)),
    ("conv2b", Conv(64, 3)),
    ("maxpool3a", MAX_3X3_S2),
    ("conv3b", Conv(80)),
    ("conv4a", Conv(192, 3, padding=0)),
    ("maxpool5a", MAX_3X3_S2),
)
IRV2_BODY: Rows = (
    (
        "mixed_5b",
        {
            "branch0": [Conv(96)],
            "branch1": [Conv(48), Conv(64, 5)],
            "branch2": [Conv(64), Conv(96, 3), Conv(96, 3)],
            "branch3": [TF_AVG, Conv(64)],
        },
    ),
    *_repeat(
        "inception_resnet_a",
        10,
        Residual(  # Fig. 16
            {
                "branch0": [Conv(32)],
                "branch1": [Conv(32), Conv(32, 3)],
                "branch2": [Conv(32), Conv(48, 3), Conv(64, 3)],
            },
            scale=0.17,
        ),
    ),
    ("reduction_a", _reduction_a(256, 256, 384, 384)),  # Table 1: k, l, m, n
    *_repeat(
        "inception_resnet_b",
        20,
        Residual(  # Fig. 17
            {"branch0": [Conv(192)], "branch1": [Conv(128), Conv(160, (1, 7)), Conv(192, (7, 1))]},
            scale=0.10,
        ),
    ),
    (
        "reduction_b",  # Fig. 18
        {
            "branch0": [Conv(256), Conv(384, 3, 2, 0)],
            "branch1": [Conv(256), Conv(288, 3, 2, 0)],
            "branch2": [Conv(256), Conv(288, 3), Conv(320, 3, 2, 0)],
            "branch3": [MAX_3X3_S2],
        },
    ),
    *(
        (name, replace(block, act=name != "inception_resnet_c10"))
        for name, block in _repeat(
            "inception_resnet_c",
            10,
            Residual(  # Fig. 19; the last module has no ReLU
                {
                    "branch0": [Conv(192)],
                    "branch1": [Conv(192), Conv(224, (1, 3)), Conv(256, (3, 1))],
                },
                scale=0.20,
            ),
        )
    ),
    ("conv7b", Conv(1536)),
)


# --- The network -----------------------------------------------------------------------


@dataclass(frozen=True)
class InceptionConfig:
    """One Inception network: stem and body rows, dropout, input-size limits."""

    name: str
    stem: Rows
    body: Rows
    dropout: float
    min_input_size: int  # ImageNet stem
    cifar_min_input_size: int


V3 = InceptionConfig("Inception v3", V3_STEM, V3_BODY, 0.5, 75, 7)
V4 = InceptionConfig("Inception-v4", V4_STEM, V4_BODY, 0.2, 75, 7)
IRV2 = InceptionConfig("Inception-ResNet-v2", IRV2_STEM, IRV2_BODY, 0.2, 75, 7)

V3_AUX_TAP = "mixed_6e"
V3_AUX_WEIGHT = 0.4  # tensorflow/models slim/train_image_classifier.py
V3_AUX_MIN_INPUT = {"imagenet": 299, "cifar": 35}  # Mixed_6e must be at least 17x17


class InceptionV3Aux(nn.Sequential):
    """Inception v3's auxiliary classifier (Sec. 4, Fig. 8) on the 17x17 maps of Mixed_6e.

    5x5/3 average pooling (17 → 5), 1x1 conv 128, 5x5 conv 768 (5 → 1), linear;
    children named as torchvision's ``InceptionAux``.
    """

    def __init__(self, in_ch: int, num_classes: int):
        super().__init__(
            OrderedDict(
                pool=nn.AvgPool2d(5, 3),
                conv0=conv_bn(in_ch, 128, 1),
                conv1=conv_bn(128, 768, 5, padding=0),
                gap=GlobalAvgPool2d(),
                fc=nn.Linear(768, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 17:
            raise GeometryError(
                f"The auxiliary classifier of Inception v3 needs at least 17x17 maps at "
                f"{V3_AUX_TAP}, got {x.shape[-2]}x{x.shape[-1]}: inputs of at least 299x299 "
                "(ImageNet stem) or 35x35 (CIFAR stem) in training mode. Build the model with "
                "aux_logits=False for smaller inputs."
            )
        return super().forward(x)


class Inception(InceptionNet):
    """An `InceptionConfig` as stem, body, then global pooling, dropout, linear."""

    def __init__(
        self,
        config: InceptionConfig,
        num_classes: int,
        in_chans: int,
        stem: str,
        aux: Callable[[int, int], nn.Module] | None = None,
        aux_tap: str = "",
        aux_weight: float = 0.0,
    ):
        stem_rows = config.stem if stem == "imagenet" else _stem_at_stride_one(config.stem)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_chans
        aux_heads: dict[str, nn.Module] = {}
        for name, layer in stem_rows + config.body:
            layers[name], channels = build_layer(channels, layer)
            if aux is not None and name == aux_tap:
                aux_heads[name] = aux(channels, num_classes)
        head = nn.Sequential(
            OrderedDict(
                pool=GlobalAvgPool2d(),
                drop=nn.Dropout(config.dropout),
                fc=nn.Linear(channels, num_classes),
            )
        )
        minimum = config.min_input_size if stem == "imagenet" else config.cifar_min_input_size
        super().__init__(
            nn.Sequential(layers),
            head,
            arch=config.name,
            min_input_size=minimum,
            aux=aux_heads,
            aux_weight=aux_weight,
        )


class InceptionV3(Inception):
    """Inception v3 with torchvision's layer names mapped (see module docs)."""

    torchvision_keys = (
        (r"^Conv2d_(\w+)\.", r"features.conv2d_\1."),
        (r"^Mixed_(\w+?)\.(branch\w+?)_(\d)([ab])\.", r"features.mixed_\1.\2.\3.\4.1."),
        (r"^Mixed_(\w+?)\.(branch\w+?)_(\d)\.", r"features.mixed_\1.\2.\3."),
        (r"^Mixed_(\w+?)\.(branch\w+?)\.", r"features.mixed_\1.\2.1."),
        (r"^AuxLogits\.", f"aux.{V3_AUX_TAP}."),
        (r"^fc\.", "head.fc."),
    )


def _stem_at_stride_one(rows: Rows) -> Rows:
    """The CIFAR stem: stand-alone pools dropped, every stride 1 with 'same' padding."""
    return tuple(
        (name, _at_stride_one(layer)) for name, layer in rows if not isinstance(layer, Pool)
    )


def _at_stride_one(layer: Layer) -> Layer:
    if isinstance(layer, Conv):
        return replace(layer, stride=1, padding="same")
    if isinstance(layer, Pool):
        return replace(layer, stride=1, padding=layer.kernel // 2)
    if isinstance(layer, Residual):
        return layer
    return {name: [_at_stride_one(sub) for sub in branch] for name, branch in layer.items()}


def _resolve(config: InceptionConfig, stem: str | None, input_size: int | None) -> str:
    stem = resolve_stem(stem, input_size)
    minimum = config.min_input_size if stem == "imagenet" else config.cifar_min_input_size
    check_input_size(config.name, input_size, minimum)
    return stem


def _v3_aux_logits(aux_logits: bool | None, stem: str, input_size: int | None) -> bool:
    """Build the auxiliary classifier when asked, or (``None``) when its input is big enough."""
    minimum = V3_AUX_MIN_INPUT[stem]
    if aux_logits is None:
        return stem == "imagenet" and (input_size is None or input_size >= minimum)
    if aux_logits and input_size is not None and input_size < minimum:
        raise GeometryError(
            f"The auxiliary classifier of Inception v3 needs inputs of at least "
            f"{minimum}x{minimum} with the {stem} stem, got {input_size}x{input_size}. "
            "Use aux_logits=False."
        )
    return bool(aux_logits)


@register_model(
    torchvision="inception_v3",
    reference=Reference(
        source="torchvision Inception_V3_Weights.IMAGENET1K_V1 (5.713 GFLOPS, 77.294 % top-1)",
        macs=5.713e9,
        top1=77.294,
        input_shape=(3, 299, 299),
    ),
    num_classes=1000,
    in_chans=3,
)
def inception_v3(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool | None = None,
    stem: str | None = None,
    input_size: int | None = None,
) -> InceptionV3:
    """Inception v3 (Szegedy et al. 2016) as in torchvision, 299x299, aux classifier (weight 0.4).

    Szegedy et al. (2016), "Rethinking the Inception architecture for computer vision",
    Table 1 and Figs. 5-8, 10.

    ``aux_logits=None`` builds the auxiliary classifier when its input can be
    large enough (ImageNet stem, inputs of at least 299x299); ``stem='cifar'``
    (automatic for ``input_size`` ≤ 64) runs the stem at stride 1.  Inputs must
    be at least 75x75 with the ImageNet stem.
    """
    stem = _resolve(V3, stem, input_size)
    if _v3_aux_logits(aux_logits, stem, input_size):
        aux, tap = InceptionV3Aux, V3_AUX_TAP
    else:
        aux, tap = None, ""
    return InceptionV3(V3, num_classes, in_chans, stem, aux, tap, V3_AUX_WEIGHT)


@register_model(
    reference=Reference(
        source="timm model card inception_v4.tf_in1k (Params 42.7M, GMACs 12.3 at 299x299); "
        "architecture: Szegedy et al. 2017, Figs. 3-9",
        params=42_700_000,
        macs=12.3e9,
        input_shape=(3, 299, 299),
    ),
    num_classes=1000,
    in_chans=3,
)
def inception_v4(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> Inception:
    """Inception-v4 (Szegedy et al. 2017, Figs. 3-9), 299x299, 42.7M parameters.

    ``stem='cifar'`` (automatic for ``input_size`` ≤ 64) runs the stem at
    stride 1; inputs must be at least 75x75 with the ImageNet stem.
    """
    return Inception(V4, num_classes, in_chans, _resolve(V4, stem, input_size))


@register_model(
    reference=Reference(
        source="timm model card inception_resnet_v2.tf_in1k (Params 55.8M, GMACs 13.2 at "
        "299x299); architecture: Szegedy et al. 2017, Figs. 15-19 with TF-Slim's channels",
        params=55_800_000,
        macs=13.2e9,
        input_shape=(3, 299, 299),
    ),
    num_classes=1000,
    in_chans=3,
)
def inception_resnet_v2(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> Inception:
    """Inception-ResNet-v2 (Szegedy et al. 2017), scaled residual Inception modules, 55.8M params.

    Szegedy et al. (2017), "Inception-v4, Inception-ResNet and the impact of residual
    connections on learning", Figs. 15-19.

    ``stem='cifar'`` (automatic for ``input_size`` ≤ 64) runs the stem at
    stride 1; inputs must be at least 75x75 with the ImageNet stem.
    """
    return Inception(IRV2, num_classes, in_chans, _resolve(IRV2, stem, input_size))
