"""DenseNet: Huang, Liu, van der Maaten & Weinberger (2017), "Densely connected
convolutional networks", CVPR.  ImageNet configurations from Table 1, CIFAR
configurations (DenseNet and DenseNet-BC) from Sec. 3 "Implementation details"
and Table 2.

A DenseNet is a stem, dense blocks (`DenseBlock`)
separated by transition layers, then BN-ReLU, global average pooling and a
linear classifier.  A variant is a row of `CONFIGS` and a builder of the
same name (``densenet121``):

* ImageNet (Table 1): stem conv 7x7/2 (2k maps) - BN - ReLU - max pool 3x3/2,
  four blocks, bottleneck layers (bn_size 4) and compression 0.5 (DenseNet-BC);
  DenseNet-161 has k = 48 and 96 stem maps.
* CIFAR (Sec. 3): stem conv 3x3 (16 maps, or 2k for DenseNet-BC), three blocks
  of equal depth on 32x32, 16x16 and 8x8 maps.  A basic DenseNet of depth L has
  (L − 4)/3 layers per block, no bottleneck and no compression; DenseNet-BC has
  (L − 4)/6 bottleneck layers per block and compression 0.5.

``stem='cifar'`` (chosen automatically for inputs of at most 64 pixels) gives
any variant the CIFAR stem (one 3x3 stride-1 convolution, no max pool), so the
four-block ImageNet networks keep 32x32 maps in their first block.

Names follow torchvision (``features.conv0``, ``features.denseblock1.denselayer1.norm1``,
``features.transition1.conv``, ``features.norm5``); only the classifier moves
(``classifier`` -> ``head.fc``).  See `cnnlab.nn.dense` for why only the
stem and the bottleneck convolutions fold into batch norm.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import conv2d
from cnnlab.nn.dense import DenseBlock, Transition, compressed_channels
from cnnlab.nn.pool import GlobalAvgPool2d


@dataclass(frozen=True)
class DenseNetConfig:
    """Growth rate k, layers per dense block, stem maps, bottleneck factor, compression θ."""

    growth_rate: int
    block_config: tuple[int, ...]
    init_features: int
    bn_size: int = 4
    compression: float = 0.5


def cifar_config(depth: int, growth_rate: int, bc: bool) -> DenseNetConfig:
    """The three-block CIFAR DenseNet of depth L (Sec. 3): (L − 4)/3 layers per block,
    16 stem maps; DenseNet-BC: (L − 4)/6 bottleneck layers, 2k stem maps, θ = 0.5."""
    convs_per_layer = 2 if bc else 1
    layers, rest = divmod(depth - 4, 3 * convs_per_layer)
    if rest or layers < 1:
        raise ConfigError(
            f"A CIFAR DenseNet{'-BC' if bc else ''} has depth 3·{convs_per_layer}·n + 4 "
            f"(n layers per block), got depth {depth}."
        )
    if bc:
        return DenseNetConfig(growth_rate, (layers,) * 3, 2 * growth_rate, 4, 0.5)
    return DenseNetConfig(growth_rate, (layers,) * 3, 16, 0, 1.0)


class DenseNet(Classifier):
    """Stem, dense blocks and transitions, BN-ReLU; head: global average pooling, linear."""

    torchvision_keys = ((r"^classifier\.", "head.fc."),)

    def __init__(
        self,
        config: DenseNetConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        drop_rate: float = 0.0,
    ):
        check_choice("stem", stem, ("imagenet", "cifar"))
        features: OrderedDict[str, nn.Module] = OrderedDict()
        width = config.init_features
        if stem == "imagenet":
            features["conv0"] = conv2d(in_chans, width, 7, stride=2, padding=3, bias=False)
            features["norm0"] = nn.BatchNorm2d(width)
            features["relu0"] = get_act("relu")
            features["pool0"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            # Every use of the stem maps starts with a batch norm: no bias, BN or ReLU here.
            features["conv0"] = conv2d(in_chans, width, 3, padding=1, bias=False)
        blocks = len(config.block_config)
        for i, num_layers in enumerate(config.block_config, start=1):
            block = DenseBlock(num_layers, width, config.growth_rate, config.bn_size, drop_rate)
            features[f"denseblock{i}"] = block
            width = block.out_channels
            if i < blocks:
                narrower = compressed_channels(width, config.compression)
                features[f"transition{i}"] = Transition(width, narrower)
                width = narrower
        features[f"norm{blocks + 1}"] = nn.BatchNorm2d(width)
        features[f"relu{blocks + 1}"] = get_act("relu")
        head = nn.Sequential(OrderedDict(gap=GlobalAvgPool2d(), fc=nn.Linear(width, num_classes)))
        super().__init__(nn.Sequential(features), head)
        self.min_input_size = minimum_input_size(stem, blocks - 1)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def minimum_input_size(stem: str, transitions: int) -> int:
    """Smallest side that leaves the last block at least 1x1.

    Each transition halves (floor) the side, so the first block needs 2^T
    pixels; the ImageNet stem (7x7/2 conv with padding 3, 3x3/2 max pool with
    padding 1) maps s to ⌈s/4⌉, which is at least 2^T for s ≥ 4·2^T − 3.
    """
    first_block = 2**transitions
    return 4 * first_block - 3 if stem == "imagenet" else first_block


def _init_weights(model: nn.Module) -> None:
    """He-normal convolutions, BN γ = 1 and β = 0, zero linear bias (as torchvision)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)


_TABLE1 = "Huang et al. 2017, Table 1 (configuration)"

CONFIGS: dict[str, DenseNetConfig] = {
    # Table 1: growth rate k, layers per dense block, stem maps.
    "densenet121": DenseNetConfig(32, (6, 12, 24, 16), 64),
    "densenet169": DenseNetConfig(32, (6, 12, 32, 32), 64),
    "densenet201": DenseNetConfig(32, (6, 12, 48, 32), 64),
    "densenet264": DenseNetConfig(32, (6, 12, 64, 48), 64),
    "densenet161": DenseNetConfig(48, (6, 12, 36, 24), 96),  # torchvision's, authors' code
    # Table 2: depth L, growth rate k, DenseNet-BC or not.
    "densenet40_k12": cifar_config(40, 12, bc=False),
    "densenet100_k12": cifar_config(100, 12, bc=False),
    "densenet100_k24": cifar_config(100, 24, bc=False),
    "densenet_bc100_k12": cifar_config(100, 12, bc=True),
    "densenet_bc250_k24": cifar_config(250, 24, bc=True),
    "densenet_bc190_k40": cifar_config(190, 40, bc=True),
}


def _densenet(
    name: str,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    drop_rate: float,
    input_size: int | None,
) -> DenseNet:
    """The `DenseNet` of ``CONFIGS[name]``, its stem chosen and its input size checked.

    ``stem`` is ``'imagenet'`` (7x7/2 conv and max pool), ``'cifar'`` (one 3x3 conv;
    the default of the CIFAR variants) or ``None``: CIFAR for ``input_size`` <= 64.
    ``drop_rate`` is the dropout on each dense layer's new maps (0.2 in the paper for
    CIFAR without augmentation).  ``input_size`` checks that the input is large enough.
    """
    config = CONFIGS[name]
    chosen = resolve_stem(stem, input_size)
    transitions = len(config.block_config) - 1
    check_input_size(name, input_size, minimum_input_size(chosen, transitions))
    return DenseNet(config, num_classes, in_chans, chosen, drop_rate)


def _table3(error: float) -> Reference:
    """An ImageNet DenseNet of Table 1 with its Table 3 single-crop top-1 error."""
    return Reference(
        f"{_TABLE1}; top-1 error {error} % (Table 3, single crop)", top1=round(100 - error, 2)
    )


def _table2(params_m: float, error: float) -> Reference:
    """A Table 2 row.  Its parameter counts are printed to 0.1M (``params_rounding``): "1.0M"
    and "0.8M" stand for the 1.02M and 0.77M counted here, 2 % and 4 % away."""
    return Reference(
        f"Huang et al. 2017, Table 2: {params_m}M params, CIFAR-10+ error {error} %",
        params=round(params_m * 1e6),
        top1=round(100 - error, 2),
        input_shape=(3, 32, 32),
        num_classes=10,
        params_rounding=1e5,
    )


@register_model(torchvision="densenet121", reference=_table3(25.02), num_classes=1000, in_chans=3)
def densenet121(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017): k=32, dense blocks of 6-12-24-16 layers, 8.0M params.

    Huang et al. (2017), "Densely connected convolutional networks", Table 1 and
    Table 3.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet121", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(torchvision="densenet169", reference=_table3(23.80), num_classes=1000, in_chans=3)
def densenet169(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-169 (Huang et al. 2017): k=32, dense blocks of 6-12-32-32 layers, 14.1M params.

    Huang et al. (2017), "Densely connected convolutional networks", Table 1 and
    Table 3.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet169", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(torchvision="densenet201", reference=_table3(22.58), num_classes=1000, in_chans=3)
def densenet201(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-201 (Huang et al. 2017): k=32, dense blocks of 6-12-48-32 layers, 20.0M params.

    Huang et al. (2017), "Densely connected convolutional networks", Table 1 and
    Table 3.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet201", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table3(22.15), num_classes=1000, in_chans=3)
def densenet264(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-264 (Huang et al. 2017): k=32, dense blocks of 6-12-64-48 layers, 33.3M params.

    Huang et al. (2017), "Densely connected convolutional networks", Table 1 and
    Table 3.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet264", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(
    torchvision="densenet161",
    reference=Reference(
        f"torchvision densenet161: the k=48 variant of {_TABLE1} from the authors' code"
    ),
    num_classes=1000,
    in_chans=3,
)
def densenet161(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-161 (Huang et al. 2017): k=48, dense blocks of 6-12-36-24 layers, 28.7M params.

    Huang et al. (2017), "Densely connected convolutional networks", Table 1 (k=48,
    from the authors' code, as torchvision).
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet161", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(1.0, 5.24), num_classes=10, in_chans=3)
def densenet40_k12(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet (L=40, k=12) for CIFAR (Huang et al. 2017, Table 2): 1.0M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet40_k12", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(7.0, 4.10), num_classes=10, in_chans=3)
def densenet100_k12(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet (L=100, k=12) for CIFAR (Huang et al. 2017, Table 2): 7.0M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet100_k12", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(27.2, 3.74), num_classes=10, in_chans=3)
def densenet100_k24(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet (L=100, k=24) for CIFAR (Huang et al. 2017, Table 2): 27.2M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet100_k24", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(0.8, 4.51), num_classes=10, in_chans=3)
def densenet_bc100_k12(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-BC (L=100, k=12) for CIFAR (Huang et al. 2017, Table 2): 0.8M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet_bc100_k12", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(15.3, 3.62), num_classes=10, in_chans=3)
def densenet_bc250_k24(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-BC (L=250, k=24) for CIFAR (Huang et al. 2017, Table 2): 15.3M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet_bc250_k24", num_classes, in_chans, stem, drop_rate, input_size)


@register_model(reference=_table2(25.6, 3.46), num_classes=10, in_chans=3)
def densenet_bc190_k40(
    num_classes: int = 10,
    in_chans: int = 3,
    stem: str | None = "cifar",
    drop_rate: float = 0.0,
    input_size: int | None = None,
) -> DenseNet:
    """DenseNet-BC (L=190, k=40) for CIFAR (Huang et al. 2017, Table 2): 25.6M params.

    Huang et al. (2017), "Densely connected convolutional networks", Sec. 3 and
    Table 2.
    Options: ``stem`` ('imagenet', 'cifar' or None: by ``input_size``) and
    ``drop_rate`` (see `_densenet`).
    """
    return _densenet("densenet_bc190_k40", num_classes, in_chans, stem, drop_rate, input_size)
