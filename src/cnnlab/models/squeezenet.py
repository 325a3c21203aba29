"""SqueezeNet: Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer (2016), "SqueezeNet:
AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size", arXiv:1602.07360.

SqueezeNet 1.0 is Table 1 of the paper (and Fig. 2, left): conv1 96@7x7/2,
max pool, fire2-fire4, max pool, fire5-fire8, max pool, fire9, 50 % dropout,
conv10 (one 1x1 filter per class) and global average pooling, no fully
connected layer; 1,248,424 parameters.  SqueezeNet 1.1 (the authors'
repository, "SqueezeNet_v1.1/README.md") has a 64@3x3/2 conv1 and moves the
max pools to after fire3 and fire5: 1,235,496 parameters and 2.4x fewer
operations.  A variant is a row of `CONFIGS` (and a builder,
``squeezenet1_0``, ``squeezenet1_1``): the stem and a list of
squeeze widths of fire2-fire9 and the layers followed by a max pool, named as in
the paper (``conv1``, ``maxpool1``, ``fire2``, ..., ``maxpool4``, ..., ``conv10``).

``stem='cifar'`` (automatic for inputs of at most 64 pixels) replaces conv1 by a
3x3 stride-1 convolution and drops the first max pool, so that 32x32 images
reach fire9 at 8x8 instead of 1x1.

SqueezeNet has no batch normalization: `fuse_conv_bn`
leaves it as it is.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.errors import check_choice
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import conv2d
from cnnlab.nn.fire import Fire
from cnnlab.nn.pool import GlobalAvgPool2d

EXPAND_RATIO = 4  # e1x1 = e3x3 = 4·s1x1: squeeze ratio 0.125, 50 % 3x3 filters (Sec. 5)


@dataclass(frozen=True)
class SqueezeNetConfig:
    """conv1 width and kernel, s1x1 of fire2..fire9, and the layers followed by a 3x3/2
    max pool (1 = conv1; Table 1 names them maxpool1, maxpool4, maxpool8)."""

    stem_channels: int
    stem_kernel: int
    squeeze: tuple[int, ...]
    pools_after: tuple[int, ...]


CONFIGS = {
    "1_0": SqueezeNetConfig(96, 7, (16, 16, 32, 32, 48, 48, 64, 64), (1, 4, 8)),  # Table 1
    "1_1": SqueezeNetConfig(64, 3, (16, 16, 32, 32, 48, 48, 64, 64), (1, 3, 5)),  # README
}


class SqueezeNet(Classifier):
    """conv1, fire modules and max pools; head: dropout, conv10 (1x1, one map per class),
    ReLU, global average pooling."""

    def __init__(
        self,
        config: SqueezeNetConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        dropout: float = 0.5,
    ):
        check_choice("stem", stem, ("imagenet", "cifar"))
        layers = _imagenet_layers(config, in_chans)
        torchvision_names = list(layers)  # torchvision numbers these children of ``features``
        if stem == "cifar":
            layers["conv1"] = conv2d(in_chans, config.stem_channels, 3, padding=1)
            del layers["maxpool1"]
        final_conv = conv2d(2 * EXPAND_RATIO * config.squeeze[-1], num_classes, 1)
        head = nn.Sequential(
            OrderedDict(
                dropout=nn.Dropout(dropout),
                conv10=final_conv,
                relu10=get_act("relu"),
                avgpool10=GlobalAvgPool2d(),
            )
        )
        super().__init__(nn.Sequential(layers), head)
        self.torchvision_keys = (
            *(
                (rf"^features\.{i}\.", f"features.{name}.")
                for i, name in enumerate(torchvision_names)
            ),
            (r"^classifier\.1\.", "head.conv10."),
        )
        self.min_input_size = minimum_input_size(config, stem)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # torchvision's initialisation: small final layer, He-uniform elsewhere.
                if module is final_conv:
                    nn.init.normal_(module.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def _imagenet_layers(config: SqueezeNetConfig, in_chans: int) -> OrderedDict[str, nn.Module]:
    """conv1 (stride 2), ReLU, then fire2... with max pools after the layers of ``pools_after``."""
    width = config.stem_channels
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=conv2d(in_chans, width, config.stem_kernel, stride=2), relu1=get_act("relu")
    )
    for index, squeeze in enumerate(config.squeeze, start=2):
        if index - 1 in config.pools_after:
            layers[f"maxpool{index - 1}"] = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        layers[f"fire{index}"] = Fire(
            width, squeeze, EXPAND_RATIO * squeeze, EXPAND_RATIO * squeeze
        )
        width = 2 * EXPAND_RATIO * squeeze
    return layers


def minimum_input_size(config: SqueezeNetConfig, stem: str) -> int:
    """Smallest side for which every layer has an output (21 for 1.0, 17 for 1.1, 4 for the
    CIFAR stem).

    conv1 (ImageNet stem) maps s ≥ F to ⌊(s − F)/2⌋ + 1; a 3x3/2 max pool in
    ceil mode maps n ≥ 2 to ⌈(n − 3)/2⌉ + 1 (PyTorch lets the window overhang).
    """
    pools = len(config.pools_after) - (stem == "cifar")

    def final_side(side: int) -> int:
        if stem == "imagenet":
            side = (side - config.stem_kernel) // 2 + 1 if side >= config.stem_kernel else 0
        for _ in range(pools):
            side = -(-(side - 3) // 2) + 1 if side >= 2 else 0
        return side

    return next(s for s in itertools.count(1) if final_side(s) >= 1)


def _squeezenet(
    version: str,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    dropout: float,
    input_size: int | None,
) -> SqueezeNet:
    """SqueezeNet ``version`` of `CONFIGS`.

    ``stem`` is ``'imagenet'`` (strided conv1 and max pool), ``'cifar'`` (3x3 stride-1
    conv1, no first max pool) or ``None``: CIFAR for ``input_size`` <= 64.  ``dropout``
    is the drop rate before conv10 (0.5 in the paper).
    """
    config = CONFIGS[version]
    chosen = resolve_stem(stem, input_size)
    check_input_size(f"squeezenet{version}", input_size, minimum_input_size(config, chosen))
    return SqueezeNet(config, num_classes, in_chans, chosen, dropout)


@register_model(
    torchvision="squeezenet1_0",
    reference=Reference(
        "Iandola et al. 2016, Table 1 (1,248,424 params) and Table 2 (57.5 % top-1)",
        params=1_248_424,
        top1=57.5,
    ),
    num_classes=1000,
    in_chans=3,
)
def squeezenet1_0(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    dropout: float = 0.5,
    input_size: int | None = None,
) -> SqueezeNet:
    """SqueezeNet 1.0 (Iandola et al. 2016): fire modules, conv10 classifier, 1.25M params.

    Iandola et al. (2016), "SqueezeNet: AlexNet-level accuracy with 50x fewer
    parameters and <0.5MB model size", Table 1 and Fig. 2 (left).
    Options: ``stem`` and ``dropout`` (`_squeezenet`).
    """
    return _squeezenet("1_0", num_classes, in_chans, stem, dropout, input_size)


@register_model(
    torchvision="squeezenet1_1",
    reference=Reference(
        "github.com/forresti/SqueezeNet SqueezeNet_v1.1/README.md: 2.4x less computation "
        "than 1.0, same accuracy"
    ),
    num_classes=1000,
    in_chans=3,
)
def squeezenet1_1(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    dropout: float = 0.5,
    input_size: int | None = None,
) -> SqueezeNet:
    """SqueezeNet 1.1 (Iandola et al., authors' repository): 3x3 conv1, earlier pools, 1.24M params.

    Iandola et al., the authors' repository (github.com/forresti/SqueezeNet,
    SqueezeNet_v1.1/README.md): SqueezeNet 1.0 of Table 1 with a 3x3 conv1 and the
    max pools after fire3 and fire5.
    Options: ``stem`` and ``dropout`` (`_squeezenet`).
    """
    return _squeezenet("1_1", num_classes, in_chans, stem, dropout, input_size)
