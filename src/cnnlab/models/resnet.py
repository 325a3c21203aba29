"""Residual networks for ImageNet: ResNet, ResNeXt, Wide ResNet, SE-ResNet, CBAM-ResNet,
SENet-154 and the plain networks — one family with width and cardinality knobs.

* ResNet-18/34/50/101/152: He, Zhang, Ren & Sun (2016), "Deep residual learning
  for image recognition", Table 1 (stages of [2, 2, 2, 2], [3, 4, 6, 3],
  [3, 4, 23, 3], [3, 8, 36, 3] blocks; multiply-adds 1.8, 3.6, 3.8, 7.6 and
  11.3 G).  The paper's bottleneck subsamples in its first 1x1 convolution;
  torchvision's (and here the default) in the 3x3 one ("ResNet v1.5", more
  accurate, 4.1 instead of 3.8 G multiply-adds for ResNet-50).  ``stride_in_1x1=True``
  gives the paper's form and its Table 1 figures.
* Plain-18/34: the same networks without shortcuts (Sec. 4.1, Table 2).
* Pre-activation ResNet-152/200: He, Zhang, Ren & Sun (2016b), "Identity mappings
  in deep residual networks", Sec. 5 and Table 5 — full pre-activation
  bottlenecks (BN-ReLU-conv, Fig. 4e); ResNet-200 has 16 more bottlenecks than
  ResNet-152, all at 28x28 ([3, 24, 36, 3]).  The paper gives no parameter
  counts: they are the post-activation networks' up to where the batch norms
  sit (60,185,128 and 64,666,152 against 60,192,808 and 64,673,832).
* ResNeXt: Xie, Girshick, Dollár, Tu & He (2017), "Aggregated residual
  transformations for deep neural networks", Table 1 — a ResNet whose
  bottleneck 3x3 convolution has C groups of d channels (``groups``,
  ``width_per_group``).
* Wide ResNet-50-2/101-2: Zagoruyko & Komodakis (2016), "Wide residual
  networks", Sec. 4 (ImageNet): bottleneck 3x3 twice as wide (d = 128).
* SE-ResNet/SE-ResNeXt: Hu, Shen & Sun (2018), "Squeeze-and-excitation
  networks", Fig. 3 and Table 2 (r = 16); SENet-154: its Appendix — the
  64x4d ResNeXt-152 with the first 1x1 of each bottleneck halved, a stem of
  three 3x3 convolutions, 3x3 stride-2 projections and dropout 0.2 before the
  classifier.
* CBAM-ResNet-50: Woo, Park, Lee & Kweon (2018), "CBAM: Convolutional block
  attention module", Table 4.

Every variant is a row of `CONFIGS` and a builder of the same name
(``resnet50``) that takes the fields of `ResNetConfig` and
`BlockOptions` as options (`build_resnet`):
``create_model("resnet50", groups=32, width_per_group=4)`` is ResNeXt-50,
``attention="se"`` adds squeeze-and-excitation, ``drop_path=0.2`` stochastic
depth (Huang et al. 2016), ``stem="cifar"`` the CIFAR form (a 3x3 stride-1 stem
and no max pool, chosen automatically for ``input_size`` <= 64).
Torchvision state dicts load by name (`ResNet.torchvision_keys`) and give
the same logits.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, fields, replace

from torch import nn

from cnnlab.errors import ConfigError, GeometryError, check_choice
from cnnlab.models.base import Classifier, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct, conv2d
from cnnlab.nn.drop import drop_path_rates
from cnnlab.nn.pool import GlobalAvgPool2d
from cnnlab.nn.residual import BLOCKS, BlockOptions, ResidualBlock, norm_act

STEMS = ("imagenet", "cifar")


@dataclass(frozen=True)
class ResNetConfig:
    """One residual network: a row of the configuration table.

    block
        ``'basic'``, ``'bottleneck'``, ``'preact_basic'`` or ``'preact_bottleneck'``.
    depths / widths
        Units per stage and their ``planes`` (a stage outputs planes x 4 channels
        with bottlenecks).  The first stage keeps the resolution, each later
        one halves it.
    stem_width
        Channels of the stem convolution.
    stem
        ``'imagenet'`` (7x7 stride-2 conv, 3x3 stride-2 max pool), ``'cifar'``
        (3x3 stride-1 conv, He et al. 2016a, Sec. 4.2) or ``None``: chosen from
        ``input_size`` (`resolve_stem`).
    deep_stem
        The ImageNet stem as three 3x3 convolutions (SENet-154, Appendix (b)).
    options
        The units' `BlockOptions`.
    drop_path
        Stochastic depth: drop probability of the last unit, rising linearly
        from 0 (Huang et al. 2016, Sec. 3).
    head_dropout
        Dropout before the classifier (SENet-154, Appendix (d)).
    zero_init_residual
        Start every unit as its shortcut (`ResidualBlock.zero_init_branch`;
        torchvision's option of the same name).
    """

    block: str
    depths: tuple[int, ...]
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem_width: int = 64
    stem: str | None = None
    deep_stem: bool = False
    options: BlockOptions = field(default_factory=BlockOptions)
    drop_path: float = 0.0
    head_dropout: float = 0.0
    zero_init_residual: bool = False

    def __post_init__(self):
        check_choice("residual block", self.block, BLOCKS)
        if self.stem is not None:
            check_choice("stem", self.stem, STEMS)
        depths, widths = tuple(self.depths), tuple(self.widths)
        object.__setattr__(self, "depths", depths)
        object.__setattr__(self, "widths", widths)
        if not depths or len(depths) != len(widths) or min(depths + widths) < 1:
            raise ConfigError(
                f"depths and widths need one positive entry per stage, got depths={depths}, "
                f"widths={widths}."
            )
        if not 0.0 <= self.drop_path < 1.0 or not 0.0 <= self.head_dropout < 1.0:
            raise ConfigError(
                f"drop_path and head_dropout must be in [0, 1), got {self.drop_path} and "
                f"{self.head_dropout}."
            )


def configure(config: ResNetConfig, **options) -> ResNetConfig:
    """``config`` with some fields of it or of its block options replaced."""
    net_fields = {f.name for f in fields(ResNetConfig)} - {"options"}
    block_fields = {f.name for f in fields(BlockOptions)}
    unknown = sorted(set(options) - net_fields - block_fields)
    if unknown:
        valid = ", ".join(sorted(net_fields | block_fields))
        raise ConfigError(f"Unknown residual-network option(s) {unknown}. Valid options: {valid}.")
    block = replace(config.options, **{k: v for k, v in options.items() if k in block_fields})
    return replace(config, options=block, **{k: v for k, v in options.items() if k in net_fields})


class ResNet(Classifier):
    """Stem, stages of residual units, global average pooling, linear classifier.

    ``features``: ``stem``, ``pool`` (ImageNet stem only), ``layer1`` ...
    ``layerN`` (units ``0``, ``1``, ... with ``branch`` and ``shortcut``) and,
    for pre-activation networks, the final BN-ReLU ``norm`` (He et al. 2016b,
    Appendix: an extra activation after the last unit's addition).  ``head``:
    ``pool``, ``drop`` (if any), ``fc``.
    """

    torchvision_keys = (
        (r"^conv1\.", "features.stem.conv."),
        (r"^bn1\.", "features.stem.bn."),
        (r"^(layer\d+\.\d+)\.conv(\d)\.", r"features.\1.branch.conv\2.conv."),
        (r"^(layer\d+\.\d+)\.bn(\d)\.", r"features.\1.branch.conv\2.bn."),
        (r"^(layer\d+\.\d+)\.downsample\.0\.", r"features.\1.shortcut.conv."),
        (r"^(layer\d+\.\d+)\.downsample\.1\.", r"features.\1.shortcut.bn."),
        (r"^fc\.", "head.fc."),
    )

    def __init__(
        self,
        config: ResNetConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        input_size: int | None = None,
    ):
        if input_size is not None and input_size < 1:
            raise GeometryError(f"input_size must be at least 1 pixel, got {input_size}.")
        block = BLOCKS[config.block]
        stem = resolve_stem(config.stem, input_size)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=_stem(stem, config, in_chans, block.preactivation)
        )
        if stem == "imagenet":
            layers["pool"] = nn.MaxPool2d(3, stride=2, padding=1)
        rates = iter(drop_path_rates(config.drop_path, sum(config.depths)))
        channels = config.stem_width
        for i, (depth, planes) in enumerate(zip(config.depths, config.widths, strict=True)):
            units = []
            for j in range(depth):
                stride = 2 if i > 0 and j == 0 else 1
                units.append(block(channels, planes, stride, config.options, next(rates)))
                channels = units[-1].out_channels
            layers[f"layer{i + 1}"] = nn.Sequential(*units)
        if block.preactivation:
            layers["norm"] = norm_act(channels)
        head: OrderedDict[str, nn.Module] = OrderedDict(pool=GlobalAvgPool2d())
        if config.head_dropout > 0:
            head["drop"] = nn.Dropout(config.head_dropout)
        head["fc"] = nn.Linear(channels, num_classes)
        super().__init__(nn.Sequential(layers), nn.Sequential(head))
        self.config = config
        _init_weights(self)
        if config.zero_init_residual:
            for module in self.modules():
                if isinstance(module, ResidualBlock):
                    module.zero_init_branch()


def _stem(kind: str, config: ResNetConfig, in_chans: int, preactivation: bool) -> nn.Module:
    """The layers before the first stage.

    A pre-activation network's stem is a convolution alone: the first unit's
    BN-ReLU is its activation (He et al. 2016b, Appendix), and that BN makes a
    bias redundant.
    """
    width = config.stem_width
    if kind == "cifar":
        if preactivation:
            return conv2d(in_chans, width, 3, padding="same", bias=False)
        return ConvNormAct(in_chans, width, 3, act=nn.ReLU(inplace=True))
    if config.deep_stem:
        half = width // 2
        return nn.Sequential(
            OrderedDict(
                conv1=ConvNormAct(in_chans, half, 3, stride=2, act=nn.ReLU(inplace=True)),
                conv2=ConvNormAct(half, half, 3, act=nn.ReLU(inplace=True)),
                conv3=ConvNormAct(half, width, 3, act=nn.ReLU(inplace=True)),
            )
        )
    if preactivation:
        return conv2d(in_chans, width, 7, stride=2, padding="same", bias=False)
    return ConvNormAct(in_chans, width, 7, stride=2, act=nn.ReLU(inplace=True))


def _init_weights(model: nn.Module) -> None:
    """He et al. (2015) initialisation of the convolutions ("Delving deep into
    rectifiers", as in He et al. 2016a, Sec. 3.4); batch norms start as identity."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def build_resnet(
    config: ResNetConfig,
    num_classes: int,
    in_chans: int,
    input_size: int | None = None,
    **options,
) -> ResNet:
    """A `ResNet` of ``config`` with the fields named in ``options`` replaced.

    Options (any field of `ResNetConfig` or `BlockOptions`):
    ``stem`` ('imagenet', 'cifar'; default by ``input_size``), ``drop_path``, ``attention``
    ('se', 'cbam'), ``groups``, ``width_per_group``, ``shortcut`` ('A', 'B', 'C', 'none'),
    ``dropout``, ``stride_in_1x1``, ``zero_init_residual``, ``depths``, ``widths``, ...
    """
    return ResNet(configure(config, **options), num_classes, in_chans, input_size)


HE = "He et al. 2016, 'Deep residual learning for image recognition'"
HE_B = "He et al. 2016b, 'Identity mappings in deep residual networks'"
# Table 5 tests one 320x320 crop from images resized to s = 320 (the nets train on 224x224).
PREACT_TEST = "single 320x320 crop, ILSVRC 2012 val; trained on 224x224 crops, scale augmentation"
TV = "top-1: torchvision IMAGENET1K_V1 weights"
SE = "Hu et al. 2018, 'Squeeze-and-excitation networks', Table 2 (224x224, single crop)"
BASIC = ResNetConfig("basic", (2, 2, 2, 2))
RESNET50 = ResNetConfig("bottleneck", (3, 4, 6, 3))
RESNET101 = ResNetConfig("bottleneck", (3, 4, 23, 3))
RESNET152 = ResNetConfig("bottleneck", (3, 8, 36, 3))
SE_RESNET = BlockOptions(attention="se", stride_in_1x1=True)
SE_RESNEXT = BlockOptions(attention="se", groups=32, width_per_group=4)

CONFIGS: dict[str, ResNetConfig] = {
    "resnet18": BASIC,
    "resnet34": replace(BASIC, depths=(3, 4, 6, 3)),
    "resnet50": RESNET50,
    "resnet101": RESNET101,
    "resnet152": RESNET152,
    "plain18": replace(BASIC, options=BlockOptions(shortcut="none")),
    "plain34": replace(BASIC, depths=(3, 4, 6, 3), options=BlockOptions(shortcut="none")),
    "preact_resnet152": replace(RESNET152, block="preact_bottleneck"),
    "preact_resnet200": ResNetConfig("preact_bottleneck", (3, 24, 36, 3)),
    "resnext50_32x4d": replace(RESNET50, options=BlockOptions(groups=32, width_per_group=4)),
    "resnext101_32x8d": replace(RESNET101, options=BlockOptions(groups=32, width_per_group=8)),
    "resnext101_64x4d": replace(RESNET101, options=BlockOptions(groups=64, width_per_group=4)),
    "wide_resnet50_2": replace(RESNET50, options=BlockOptions(width_per_group=128)),
    "wide_resnet101_2": replace(RESNET101, options=BlockOptions(width_per_group=128)),
    "se_resnet50": replace(RESNET50, options=SE_RESNET),
    "se_resnet101": replace(RESNET101, options=SE_RESNET),
    "se_resnet152": replace(RESNET152, options=SE_RESNET),
    "se_resnext50_32x4d": replace(RESNET50, options=SE_RESNEXT),
    "se_resnext101_32x4d": replace(RESNET101, options=SE_RESNEXT),
    "senet154": ResNetConfig(
        "bottleneck",
        (3, 8, 36, 3),
        stem_width=128,
        deep_stem=True,
        head_dropout=0.2,
        options=BlockOptions(
            attention="se",
            groups=64,
            width_per_group=4,
            conv1_ratio=0.5,
            projection_kernel=3,
        ),
    ),
    "cbam_resnet50": replace(RESNET50, options=BlockOptions(attention="cbam")),
}


@register_model(
    torchvision="resnet18",
    reference=Reference(f"{HE}, Table 1; {TV}", macs=1.8e9, top1=69.758),
    num_classes=1000,
    in_chans=3,
)
def resnet18(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-18 (He et al. 2016): basic blocks [2, 2, 2, 2], 11.7M params, 1.8G MACs.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet18"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnet34",
    reference=Reference(f"{HE}, Table 1; {TV}", macs=3.6e9, top1=73.314),
    num_classes=1000,
    in_chans=3,
)
def resnet34(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-34 (He et al. 2016): basic blocks [3, 4, 6, 3], 21.8M params, 3.6G MACs.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet34"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnet50",
    reference=Reference(f"torchvision ResNet50 ({HE}, Table 1); {TV}", top1=76.13),
    num_classes=1000,
    in_chans=3,
)
def resnet50(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-50 (He et al. 2016): bottlenecks [3, 4, 6, 3], 25.6M params.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet50"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnet101",
    reference=Reference(f"torchvision ResNet101 ({HE}, Table 1); {TV}", top1=77.374),
    num_classes=1000,
    in_chans=3,
)
def resnet101(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-101 (He et al. 2016): bottlenecks [3, 4, 23, 3], 44.5M params.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet101"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnet152",
    reference=Reference(f"torchvision ResNet152 ({HE}, Table 1); {TV}", top1=78.312),
    num_classes=1000,
    in_chans=3,
)
def resnet152(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNet-152 (He et al. 2016): bottlenecks [3, 8, 36, 3], 60.2M params.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnet152"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{HE}, Table 2 (10-crop top-1 error 27.94 %)", top1=72.06),
    num_classes=1000,
    in_chans=3,
)
def plain18(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-18 (He et al. 2016): ResNet-18 without shortcuts, the degradation baseline.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1
    (architecture) and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain18"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        f"{HE}, Sec. 3.3 (3.6 billion multiply-adds) and Table 2 (10-crop top-1 error 28.54 %)",
        macs=3.6e9,
        top1=71.46,
    ),
    num_classes=1000,
    in_chans=3,
)
def plain34(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Plain-34 (He et al. 2016): ResNet-34 without shortcuts, 3.6G MACs.

    He et al. (2016a), "Deep residual learning for image recognition", Table 1
    (architecture) and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["plain34"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        f"{HE_B}, Table 5: top-1/top-5 error 21.1/5.5 % ({PREACT_TEST})",
        top1=78.9,
        input_shape=(3, 320, 320),
    ),
    num_classes=1000,
    in_chans=3,
)
def preact_resnet152(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Pre-activation ResNet-152 (He et al. 2016b): bottlenecks [3, 8, 36, 3], 60.2M params.

    He et al. (2016b), "Identity mappings in deep residual networks", Sec. 5 and
    Table 5.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["preact_resnet152"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        f"{HE_B}, Sec. 5 (architecture) and Table 5: top-1/top-5 error 20.7/5.3 % "
        f"({PREACT_TEST}; 20.1/4.8 % with scale and aspect-ratio augmentation)",
        top1=79.3,
        input_shape=(3, 320, 320),
    ),
    num_classes=1000,
    in_chans=3,
)
def preact_resnet200(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Pre-activation ResNet-200 (He et al. 2016b): bottlenecks [3, 24, 36, 3], 64.7M params.

    He et al. (2016b), "Identity mappings in deep residual networks", Sec. 5 and
    Table 5.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["preact_resnet200"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnext50_32x4d",
    reference=Reference(
        "Xie et al. 2017, 'Aggregated residual transformations', Table 1 (25.0M params, "
        f"4.2 GFLOPs); {TV}",
        params=25_000_000,
        macs=4.2e9,
        top1=77.618,
    ),
    num_classes=1000,
    in_chans=3,
)
def resnext50_32x4d(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNeXt-50 32x4d (Xie et al. 2017): ResNet-50 with 32 groups of 4 channels.

    Xie et al. (2017), "Aggregated residual transformations for deep neural
    networks", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnext50_32x4d"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnext101_32x8d",
    reference=Reference(f"torchvision ResNeXt101_32X8D; {TV}", top1=79.312),
    num_classes=1000,
    in_chans=3,
)
def resnext101_32x8d(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNeXt-101 32x8d (Xie et al. 2017): ResNet-101 with 32 groups of 8 channels.

    Xie et al. (2017), "Aggregated residual transformations for deep neural
    networks", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnext101_32x8d"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="resnext101_64x4d",
    reference=Reference(f"torchvision ResNeXt101_64X4D; {TV}", top1=83.246),
    num_classes=1000,
    in_chans=3,
)
def resnext101_64x4d(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """ResNeXt-101 64x4d (Xie et al. 2017): ResNet-101 with 64 groups of 4 channels.

    Xie et al. (2017), "Aggregated residual transformations for deep neural
    networks", Table 1.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["resnext101_64x4d"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="wide_resnet50_2",
    reference=Reference(f"torchvision Wide_ResNet50_2; {TV}", top1=78.468),
    num_classes=1000,
    in_chans=3,
)
def wide_resnet50_2(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50, bottlenecks twice as wide.

    Zagoruyko & Komodakis (2016), "Wide residual networks", Sec. 4 (ImageNet).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["wide_resnet50_2"], num_classes, in_chans, input_size, **options)


@register_model(
    torchvision="wide_resnet101_2",
    reference=Reference(f"torchvision Wide_ResNet101_2; {TV}", top1=78.848),
    num_classes=1000,
    in_chans=3,
)
def wide_resnet101_2(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """Wide ResNet-101-2 (Zagoruyko & Komodakis 2016): ResNet-101, bottlenecks twice as wide.

    Zagoruyko & Komodakis (2016), "Wide residual networks", Sec. 4 (ImageNet).
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["wide_resnet101_2"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{SE}: 3.87 GFLOPs, top-1 error 23.29 %", macs=3.87e9, top1=76.71),
    num_classes=1000,
    in_chans=3,
)
def se_resnet50(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SE-ResNet-50 (Hu et al. 2018): ResNet-50 with squeeze-and-excitation, r = 16.

    Hu et al. (2018), "Squeeze-and-excitation networks", Fig. 3 and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["se_resnet50"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{SE}: 7.60 GFLOPs, top-1 error 22.38 %", macs=7.60e9, top1=77.62),
    num_classes=1000,
    in_chans=3,
)
def se_resnet101(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SE-ResNet-101 (Hu et al. 2018): ResNet-101 with squeeze-and-excitation, r = 16.

    Hu et al. (2018), "Squeeze-and-excitation networks", Fig. 3 and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["se_resnet101"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{SE}: 11.32 GFLOPs, top-1 error 21.57 %", macs=11.32e9, top1=78.43),
    num_classes=1000,
    in_chans=3,
)
def se_resnet152(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SE-ResNet-152 (Hu et al. 2018): ResNet-152 with squeeze-and-excitation, r = 16.

    Hu et al. (2018), "Squeeze-and-excitation networks", Fig. 3 and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["se_resnet152"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{SE}: 4.25 GFLOPs, top-1 error 21.10 %", macs=4.25e9, top1=78.90),
    num_classes=1000,
    in_chans=3,
)
def se_resnext50_32x4d(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SE-ResNeXt-50 32x4d (Hu et al. 2018): ResNeXt-50 with squeeze-and-excitation.

    Hu et al. (2018), "Squeeze-and-excitation networks", Fig. 3 and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["se_resnext50_32x4d"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(f"{SE}: 8.00 GFLOPs, top-1 error 20.70 %", macs=8.00e9, top1=79.30),
    num_classes=1000,
    in_chans=3,
)
def se_resnext101_32x4d(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SE-ResNeXt-101 32x4d (Hu et al. 2018): ResNeXt-101 with squeeze-and-excitation.

    Hu et al. (2018), "Squeeze-and-excitation networks", Fig. 3 and Table 2.
    Options: see `build_resnet`.
    """
    return build_resnet(
        CONFIGS["se_resnext101_32x4d"], num_classes, in_chans, input_size, **options
    )


@register_model(
    reference=Reference(
        "Hu et al. 2018, 'Squeeze-and-excitation networks', Appendix (architecture) and "
        "Table 8 (224x224 single crop: top-1 error 18.68 %)",
        top1=81.32,
    ),
    num_classes=1000,
    in_chans=3,
)
def senet154(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """SENet-154 (Hu et al. 2018, Appendix): SE-ResNeXt-152 64x4d with a deep stem.

    Hu et al. (2018), "Squeeze-and-excitation networks", Appendix and Table 8.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["senet154"], num_classes, in_chans, input_size, **options)


@register_model(
    reference=Reference(
        "Woo et al. 2018, 'CBAM: Convolutional block attention module', Table 4 "
        "(28.09M params, top-1 error 22.66 %)",
        params=28_090_000,
        top1=77.34,
    ),
    num_classes=1000,
    in_chans=3,
)
def cbam_resnet50(
    num_classes: int = 1000, in_chans: int = 3, input_size: int | None = None, **options
) -> ResNet:
    """CBAM-ResNet-50 (Woo et al. 2018): ResNet-50 with channel and spatial attention.

    Woo et al. (2018), "CBAM: Convolutional block attention module", Table 4.
    Options: see `build_resnet`.
    """
    return build_resnet(CONFIGS["cbam_resnet50"], num_classes, in_chans, input_size, **options)
