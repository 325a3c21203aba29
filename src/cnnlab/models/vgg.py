"""VGG: Simonyan & Zisserman (2015), "Very deep convolutional networks for
large-scale image recognition", ICLR, Table 1 (configurations A-E) and Table 2
(parameters: 133, 133, 133, 134, 138 and 144 million).

A configuration is a column of Table 1, written as in the table
(`CONFIGS`) and built by a builder of its own (``vgg11`` ... ``vgg19``,
``vgg11_lrn`` for A-LRN, ``vgg16_c`` for C, ``_bn`` with batch norm):
``conv3-64`` is a 3x3 convolution with 64 maps (stride 1, padding 1, then
ReLU), ``conv1-256`` a 1x1 one (configuration C), ``LRN`` AlexNet's local
response normalization (A-LRN, with the parameters of Krizhevsky et al. 2012,
Sec. 2.1 of the paper) and ``maxpool`` a 2x2 stride-2 max pooling.  After the
five blocks come fc6 and fc7 (4096 units, ReLU, dropout 0.5) and fc8, as in
AlexNet.  ``bn=True`` inserts batch normalization (Ioffe & Szegedy 2015) after
every convolution, as torchvision's ``vgg*_bn``.

VGG-16 (configuration D) at 224x224, as in the CS231n table (memory = number
of activations of a block's convolution outputs):

    block  layers                   output         memory     parameters
    1      2 x conv3-64, maxpool    224x224x64     3.2M       1 792 + 36 928
    2      2 x conv3-128, maxpool   112x112x128    1.6M       73 856 + 147 584
    3      3 x conv3-256, maxpool   56x56x256      802K       295 168 + 2 x 590 080
    4      3 x conv3-512, maxpool   28x28x512      401K       1 180 160 + 2 x 2 359 808
    5      3 x conv3-512, maxpool   14x14x512      100K       3 x 2 359 808
    fc6    7x7x512 -> 4096                         4096       102 764 544
    fc7    4096 -> 4096                            4096       16 781 312
    fc8    4096 -> 1000                            1000       4 097 000
                                                     total    138 357 544

Layer names follow the Caffe models of the paper: ``features.conv1_1`` (a
`ConvNormAct` with children ``conv``, ``bn``, ``act``), ...,
``features.pool5``, ``head.fc6`` ... ``head.fc8``; ``torchvision_keys`` maps
torchvision's ``features.<i>``/``classifier.<i>`` onto them.  As torchvision,
the ImageNet head starts with an adaptive 7x7 average pooling (the identity at
224x224), so that other input sizes work; weights are initialised as in
torchvision (He et al. 2015 for convolutions, N(0, 0.01) for linear layers).

CIFAR form (``stem='cifar'``, chosen automatically for inputs of at most 64
pixels): the convolution stack is kept, and since five poolings leave a 1x1x512
map of a 32x32 image, the 7x7x512 → 4096 → 4096 head (123.6M parameters) is
replaced by global average pooling (on 32x32 images: the 512 values of the
1x1 map), dropout and one linear layer (5,130 parameters for 10 classes), in
the spirit of the CIFAR-10 VGGs whose classifier on these 512 features is small
(e.g. Zagoruyko 2015, "92.45% on CIFAR-10 in Torch": 512 → 512 → 10).
Torchvision's weights load into the ImageNet form, which also takes 32x32
inputs (``stem='imagenet'``).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.alexnet import classifier_head, local_response_norm
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct, conv2d
from cnnlab.nn.pool import GlobalAvgPool2d

# Table 1 of the paper: one column per configuration, one string per block
# (each block ends with a 2x2 max pooling).
_C3_256, _C3_512 = "conv3-256 conv3-256", "conv3-512 conv3-512"
CONFIGS: dict[str, tuple[str, ...]] = {
    "A": ("conv3-64", "conv3-128", _C3_256, _C3_512, _C3_512),
    "A-LRN": ("conv3-64 LRN", "conv3-128", _C3_256, _C3_512, _C3_512),
    "B": ("conv3-64 conv3-64", "conv3-128 conv3-128", _C3_256, _C3_512, _C3_512),
    "C": (
        "conv3-64 conv3-64",
        "conv3-128 conv3-128",
        f"{_C3_256} conv1-256",
        f"{_C3_512} conv1-512",
        f"{_C3_512} conv1-512",
    ),
    "D": (
        "conv3-64 conv3-64",
        "conv3-128 conv3-128",
        f"{_C3_256} conv3-256",
        f"{_C3_512} conv3-512",
        f"{_C3_512} conv3-512",
    ),
    "E": (
        "conv3-64 conv3-64",
        "conv3-128 conv3-128",
        f"{_C3_256} {_C3_256}",
        f"{_C3_512} {_C3_512}",
        f"{_C3_512} {_C3_512}",
    ),
}

MIN_INPUT_SIZE = 32  # five 2x2 poolings
HEAD_POOL = 7  # 224 / 2**5


class VGG(Classifier):
    """A VGG configuration of `CONFIGS` (a tuple of five blocks), then the head."""

    def __init__(
        self,
        config: str,
        num_classes: int = 1000,
        in_chans: int = 3,
        bn: bool = False,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.5,
    ):
        if config not in CONFIGS:
            raise ConfigError(
                f"VGG configuration must be one of {', '.join(CONFIGS)}, got {config!r}."
            )
        self.name = f"VGG-{config}"
        check_input_size(self.name, input_size, MIN_INPUT_SIZE)
        features: OrderedDict[str, nn.Module] = OrderedDict()
        rules: list[tuple[str, str]] = []
        index, width_in = 0, in_chans  # index: position in torchvision's features
        for block, layers in enumerate(CONFIGS[config], start=1):
            for number, token in enumerate(layers.split(), start=1):
                if token == "LRN":
                    features[f"lrn{block}"] = local_response_norm()
                    continue
                kernel, width = (int(v) for v in token.removeprefix("conv").split("-"))
                name = f"conv{block}_{number}"
                features[name] = _conv_block(width_in, width, kernel, bn)
                rules.append((rf"^features\.{index}\.", f"features.{name}.conv."))
                if bn:
                    rules.append((rf"^features\.{index + 1}\.", f"features.{name}.bn."))
                index += 3 if bn else 2
                width_in = width
            features[f"pool{block}"] = nn.MaxPool2d(2, 2)
            index += 1
        if resolve_stem(stem, input_size) == "cifar":
            head = OrderedDict(
                gap=GlobalAvgPool2d(), drop=nn.Dropout(dropout), fc=nn.Linear(width_in, num_classes)
            )
        else:
            head = OrderedDict(avgpool=nn.AdaptiveAvgPool2d(HEAD_POOL), flatten=nn.Flatten())
            head.update(classifier_head(width_in * HEAD_POOL**2, num_classes, dropout))
            rules += [(rf"^classifier\.{i}\.", f"head.fc{n}.") for i, n in ((0, 6), (3, 7), (6, 8))]
        super().__init__(nn.Sequential(features), nn.Sequential(head))
        self.torchvision_keys = tuple(rules)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(self.name, min(x.shape[-2:]), MIN_INPUT_SIZE)
        return super().forward(x)


def _conv_block(in_ch: int, out_ch: int, kernel: int, bn: bool) -> ConvNormAct:
    """Convolution ('same' padding), optional batch norm, ReLU."""
    block = ConvNormAct(in_ch, out_ch, kernel, norm="batch" if bn else None)
    if bn:  # torchvision's vgg*_bn keep the convolution's bias before batch norm
        block.conv = conv2d(in_ch, out_ch, kernel, padding="same", bias=True)
    return block


def _init_weights(model: nn.Module) -> None:
    """torchvision's VGG initialisation: He (fan-out) convolutions, N(0, 0.01) linear layers."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)


def _table2(config: str, millions: int) -> Reference:
    return Reference(
        source=f"Simonyan & Zisserman 2015, Table 2 (configuration {config}: {millions}M)",
        params=millions * 1_000_000,
    )


@register_model(torchvision="vgg11", reference=_table2("A", 133), num_classes=1000, in_chans=3)
def vgg11(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration A (11 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 133M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("A", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(reference=_table2("A-LRN", 133), num_classes=1000, in_chans=3)
def vgg11_lrn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration A-LRN (11 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 133M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("A-LRN", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(torchvision="vgg13", reference=_table2("B", 133), num_classes=1000, in_chans=3)
def vgg13(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration B (13 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 133M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("B", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(reference=_table2("C", 134), num_classes=1000, in_chans=3)
def vgg16_c(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration C (16 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 134M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("C", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(torchvision="vgg16", reference=_table2("D", 138), num_classes=1000, in_chans=3)
def vgg16(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration D (16 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 138M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("D", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(torchvision="vgg19", reference=_table2("E", 144), num_classes=1000, in_chans=3)
def vgg19(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration E (19 weight layers), Simonyan & Zisserman 2015, Table 1.

    Table 2: 144M parameters.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("E", num_classes, in_chans, False, stem, input_size, dropout)


@register_model(torchvision="vgg11_bn", num_classes=1000, in_chans=3)
def vgg11_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration A (11 weight layers) with batch norm, Simonyan & Zisserman 2015, Table 1.

    Batch normalization (Ioffe & Szegedy 2015) after every convolution, as in
    torchvision's ``vgg*_bn``; the paper has none.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("A", num_classes, in_chans, True, stem, input_size, dropout)


@register_model(torchvision="vgg13_bn", num_classes=1000, in_chans=3)
def vgg13_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration B (13 weight layers) with batch norm, Simonyan & Zisserman 2015, Table 1.

    Batch normalization (Ioffe & Szegedy 2015) after every convolution, as in
    torchvision's ``vgg*_bn``; the paper has none.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("B", num_classes, in_chans, True, stem, input_size, dropout)


@register_model(num_classes=1000, in_chans=3)
def vgg16_c_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration C (16 weight layers) with batch norm, Simonyan & Zisserman 2015, Table 1.

    Batch normalization (Ioffe & Szegedy 2015) after every convolution, as in
    torchvision's ``vgg*_bn``; the paper has none.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("C", num_classes, in_chans, True, stem, input_size, dropout)


@register_model(torchvision="vgg16_bn", num_classes=1000, in_chans=3)
def vgg16_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration D (16 weight layers) with batch norm, Simonyan & Zisserman 2015, Table 1.

    Batch normalization (Ioffe & Szegedy 2015) after every convolution, as in
    torchvision's ``vgg*_bn``; the paper has none.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("D", num_classes, in_chans, True, stem, input_size, dropout)


@register_model(torchvision="vgg19_bn", num_classes=1000, in_chans=3)
def vgg19_bn(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> VGG:
    """VGG configuration E (19 weight layers) with batch norm, Simonyan & Zisserman 2015, Table 1.

    Batch normalization (Ioffe & Szegedy 2015) after every convolution, as in
    torchvision's ``vgg*_bn``; the paper has none.
    ``stem='cifar'`` (automatic for ``input_size`` <= 64) replaces the dense head by
    global average pooling and one linear layer.
    """
    return VGG("E", num_classes, in_chans, True, stem, input_size, dropout)
