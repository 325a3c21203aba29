"""AlexNet and ZFNet: five convolutions, overlapping max pooling, three dense layers.

* Krizhevsky, Sutskever & Hinton (2012), "ImageNet classification with deep
  convolutional neural networks", NIPS, Sec. 3 and Fig. 2 (`alexnet_original`).
* Krizhevsky (2014), "One weird trick for parallelizing convolutional neural
  networks", the single-tower 64-192-384-256-256 network of torchvision
  (`alexnet`, loads torchvision's weights).
* Zeiler & Fergus (2014), "Visualizing and understanding convolutional
  networks", ECCV, Fig. 3 (`zfnet`).

Each network is a row of `CONFIGS`, one `ConvLayer` per convolution.
The original AlexNet at 227x227 (the lecture's table; the paper's "224x224"
does not give the 55x55 maps of Fig. 2 with an 11x11 stride-4 kernel):

    layer  kernel/stride  groups  output      parameters
    conv1  11x11/4, p0    1       55x55x96    96·(11·11·3) + 96      =     34 944
    pool1  3x3/2                  27x27x96
    conv2  5x5/1, p2      2       27x27x256   256·(5·5·48) + 256     =    307 456
    pool2  3x3/2                  13x13x256
    conv3  3x3/1, p1      1       13x13x384   384·(3·3·256) + 384    =    885 120
    conv4  3x3/1, p1      2       13x13x384   384·(3·3·192) + 384    =    663 936
    conv5  3x3/1, p1      2       13x13x256   256·(3·3·192) + 256    =    442 624
    pool5  3x3/2                  6x6x256
    fc6                           4096        4096·9216 + 4096       = 37 752 832
    fc7                           4096        4096·4096 + 4096       = 16 781 312
    fc8                           1000        1000·4096 + 1000       =  4 097 000
                                                                total   60 965 224

The paper split the network over two GPUs that communicate only at conv3 and
the dense layers (Sec. 3.2): conv2, conv4 and conv5 see only the maps of their
own GPU, which is exactly a convolution with ``groups=2``; conv1 sees the whole
image on both GPUs, i.e. one 96-map convolution.  ReLU follows every layer;
local response normalization follows the ReLU of conv1 and conv2, and
overlapping 3x3 stride-2 max pooling follows the normalizations and conv5
(Sec. 3.3-3.5).  (The CS231n table in the lecture lists pooling before
normalization; both are parameter-free and keep the shapes of the table.)

Local response normalization (Sec. 3.3) is
b_i = a_i / (k + α Σ_{j=i−n/2}^{i+n/2} a_j²)^β with k = 2, n = 5, α = 1e-4,
β = 0.75.  ``torch.nn.LocalResponseNorm`` divides its ``alpha`` by ``size``,
so `local_response_norm` passes α·n.  The sum runs over all maps of the
layer (the paper's N), also across the boundary between the two towers.

ZFNet keeps AlexNet's layout with a 7x7 stride-2 conv1 and a 5x5 stride-2
conv2, dense connections in conv3-5 and 3x3 stride-2 pooling whose windows
cover the whole map (Caffe's ceil mode: 110 → 55, 26 → 13 as in Fig. 3).  Its
"local contrast normalization across feature maps" has no published constants;
AlexNet's LRN is used.  Dropout 0.5 follows fc6 and fc7 (AlexNet Sec. 4.2).

As in torchvision, an adaptive 6x6 average pooling precedes fc6: at the native
resolution the last map is 6x6 and it is the identity (the table above is
unchanged); other input sizes of at least the minimum (67 pixels for the
original, 63 for torchvision's variant and ZFNet) then work without resizing.

Small inputs (``stem='cifar'``, chosen automatically for inputs of at most 64
pixels): conv1 becomes a 3x3 stride-1 convolution and the dense head is
replaced by global average pooling and one linear layer, as in the CIFAR
versions of VGG; the rest of the stack is unchanged.  Weights use PyTorch's
default initialisation (as torchvision), not the paper's N(0, 0.01).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.geometry import conv_output_size, pool_output_size
from cnnlab.nn.pool import GlobalAvgPool2d

LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0  # Krizhevsky et al. 2012, Sec. 3.3


def local_response_norm() -> nn.LocalResponseNorm:
    """AlexNet's LRN (Sec. 3.3): k = 2, n = 5, α = 1e-4, β = 0.75 in the paper's formula.

    PyTorch computes b = a / (k + alpha/n · Σ a²)^β, hence ``alpha = α·n``.
    """
    return nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA * LRN_SIZE, beta=LRN_BETA, k=LRN_K)


@dataclass(frozen=True)
class ConvLayer:
    """One convolution (+ ReLU) of the table, then optionally LRN and 3x3/2 max pooling."""

    width: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    lrn: bool = False
    pool: bool = False


@dataclass(frozen=True)
class AlexNetConfig:
    """A network of the family: its convolutions, then the dense head.

    ``dropout_first``: dropout before fc6 and fc7 (torchvision) rather than
    after them (the paper).  ``ceil_mode``: pooling windows cover the whole map.
    """

    convs: tuple[ConvLayer, ...]
    dropout_first: bool = False
    ceil_mode: bool = False


CONFIGS: dict[str, AlexNetConfig] = {
    # Krizhevsky et al. (2012), Fig. 2, Sec. 3.2-3.5.
    "alexnet_original": AlexNetConfig(
        convs=(
            ConvLayer(96, 11, 4, 0, lrn=True, pool=True),
            ConvLayer(256, 5, 1, 2, groups=2, lrn=True, pool=True),
            ConvLayer(384, 3, 1, 1),
            ConvLayer(384, 3, 1, 1, groups=2),
            ConvLayer(256, 3, 1, 1, groups=2, pool=True),
        ),
    ),
    # torchvision.models.alexnet (Krizhevsky 2014).
    "alexnet": AlexNetConfig(
        convs=(
            ConvLayer(64, 11, 4, 2, pool=True),
            ConvLayer(192, 5, 1, 2, pool=True),
            ConvLayer(384, 3, 1, 1),
            ConvLayer(256, 3, 1, 1),
            ConvLayer(256, 3, 1, 1, pool=True),
        ),
        dropout_first=True,
    ),
    # Zeiler & Fergus (2014), Fig. 3.
    "zfnet": AlexNetConfig(
        convs=(
            ConvLayer(96, 7, 2, 1, lrn=True, pool=True),
            ConvLayer(256, 5, 2, 0, lrn=True, pool=True),
            ConvLayer(384, 3, 1, 1),
            ConvLayer(384, 3, 1, 1),
            ConvLayer(256, 3, 1, 1, pool=True),
        ),
        ceil_mode=True,
    ),
}

HIDDEN = 4096  # fc6 and fc7 (Sec. 3.5)
HEAD_POOL = 6  # side of the last feature map at the native resolution


def classifier_head(
    in_features: int,
    num_classes: int,
    dropout: float,
    dropout_first: bool = False,
    hidden: Sequence[int] = (HIDDEN, HIDDEN),
) -> OrderedDict[str, nn.Module]:
    """fc6, fc7 (ReLU, dropout) and fc8: the dense head of AlexNet, ZFNet and VGG.

    Layers are named ``fc6``, ``act6``, ``drop6``, ... after the paper's layer
    numbers; dropout acts on the outputs of fc6 and fc7 (Krizhevsky et al.
    2012, Sec. 4.2) or, with ``dropout_first``, on their inputs (torchvision's
    AlexNet).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width_in = in_features
    for number, width in enumerate(hidden, start=6):
        if dropout_first:
            layers[f"drop{number}"] = nn.Dropout(dropout)
        layers[f"fc{number}"] = nn.Linear(width_in, width)
        layers[f"act{number}"] = nn.ReLU(inplace=True)
        if not dropout_first:
            layers[f"drop{number}"] = nn.Dropout(dropout)
        width_in = width
    layers[f"fc{6 + len(hidden)}"] = nn.Linear(width_in, num_classes)
    return layers


class AlexNet(Classifier):
    """A network of `CONFIGS`: conv-ReLU[-LRN][-pool] layers, then the head.

    Layer names: ``features.conv1`` (children ``conv``, ``act``), ``features.lrn1``,
    ``features.pool1``, ..., ``head.fc6`` ... ``head.fc8`` (``head.fc`` for the
    CIFAR form).  ``torchvision_keys`` maps torchvision's ``features.<i>`` and
    ``classifier.<i>`` onto them.
    """

    def __init__(
        self,
        config: AlexNetConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str | None = None,
        input_size: int | None = None,
        dropout: float = 0.5,
        name: str = "AlexNet",
    ):
        cifar = resolve_stem(stem, input_size) == "cifar"
        if cifar:
            first = replace(config.convs[0], kernel=3, stride=1, padding=1)
            config = replace(config, convs=(first, *config.convs[1:]))
        self.name = name
        self.min_input_size = _minimum_input_size(config)
        check_input_size(name, input_size, self.min_input_size)
        features: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_chans
        for i, layer in enumerate(config.convs, start=1):
            features[f"conv{i}"] = ConvNormAct(
                width_in,
                layer.width,
                layer.kernel,
                layer.stride,
                layer.padding,
                groups=layer.groups,
                norm=None,
                act=nn.ReLU(inplace=True),
            )
            if layer.lrn:
                features[f"lrn{i}"] = local_response_norm()
            if layer.pool:
                features[f"pool{i}"] = nn.MaxPool2d(3, 2, ceil_mode=config.ceil_mode)
            width_in = layer.width
        if cifar:
            head = OrderedDict(gap=GlobalAvgPool2d(), fc=nn.Linear(width_in, num_classes))
        else:
            head = OrderedDict(avgpool=nn.AdaptiveAvgPool2d(HEAD_POOL), flatten=nn.Flatten())
            head.update(
                classifier_head(width_in * HEAD_POOL**2, num_classes, dropout, config.dropout_first)
            )
        super().__init__(nn.Sequential(features), nn.Sequential(head))
        self.torchvision_keys = _torchvision_keys(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(self.name, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def _feature_side(config: AlexNetConfig, size: int) -> int:
    """Side of the last feature map for a ``size`` x ``size`` input (PyTorch's floor rule)."""
    for layer in config.convs:
        size = conv_output_size(size, layer.kernel, layer.stride, layer.padding, floor=True)
        if layer.pool:
            size = pool_output_size(size, 3, 2, ceil_mode=config.ceil_mode)
    return size


def _minimum_input_size(config: AlexNetConfig) -> int:
    """Smallest input side for which every layer has at least one output."""
    for size in range(1, 4096):
        try:
            if _feature_side(config, size) >= 1:
                return size
        except GeometryError:
            continue
    raise GeometryError("No input size up to 4096 fits this configuration.")


def _torchvision_keys(config: AlexNetConfig) -> tuple[tuple[str, str], ...]:
    """torchvision's indices (conv, ReLU[, LRN][, pool] per layer; classifier 1, 4, 6) to names."""
    rules, index = [], 0
    for i, layer in enumerate(config.convs, start=1):
        rules.append((rf"^features\.{index}\.", f"features.conv{i}.conv."))
        index += 2 + layer.pool + layer.lrn
    for position, fc in ((1, "fc6"), (4, "fc7"), (6, "fc8")):
        rules.append((rf"^classifier\.{position}\.", f"head.{fc}."))
    return tuple(rules)


def _build(
    name: str,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    input_size: int | None,
    dropout: float,
) -> AlexNet:
    return AlexNet(CONFIGS[name], num_classes, in_chans, stem, input_size, dropout, name)


@register_model(
    reference=Reference(
        source="Krizhevsky, Sutskever & Hinton 2012, abstract and Sec. 4 ('60 million "
        "parameters'); "
        "Table 2: top-1 error 40.7 % of one CNN on ILSVRC-2012 val",
        top1=59.3,
        input_shape=(3, 227, 227),
    ),
    num_classes=1000,
    in_chans=3,
)
def alexnet_original(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> AlexNet:
    """AlexNet as in the paper (Krizhevsky et al. 2012): two towers (groups=2), LRN, 227x227.

    Krizhevsky, Sutskever & Hinton (2012), "ImageNet classification with deep convolutional
    neural networks", Sec. 3 and Fig. 2.

    Inputs of at least 67 pixels; ``input_size`` <= 64 (or ``stem='cifar'``)
    gives the CIFAR form (see module docs).
    """
    return _build("alexnet_original", num_classes, in_chans, stem, input_size, dropout)


@register_model(torchvision="alexnet", num_classes=1000, in_chans=3)
def alexnet(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> AlexNet:
    """AlexNet, torchvision's single-tower variant (64-192-384-256-256, no LRN); loads its weights.

    Krizhevsky (2014), "One weird trick for parallelizing convolutional neural networks": the
    single-tower network torchvision implements.

    Inputs of at least 63 pixels; ``input_size`` <= 64 (or ``stem='cifar'``)
    gives the CIFAR form (see module docs).
    """
    return _build("alexnet", num_classes, in_chans, stem, input_size, dropout)


@register_model(num_classes=1000, in_chans=3)
def zfnet(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    dropout: float = 0.5,
) -> AlexNet:
    """ZFNet (Zeiler & Fergus 2014): AlexNet with a 7x7/2 conv1 and a 5x5/2 conv2, 224x224.

    Zeiler & Fergus (2014), "Visualizing and understanding convolutional networks", Fig. 3.

    Inputs of at least 63 pixels; ``input_size`` <= 64 (or ``stem='cifar'``)
    gives the CIFAR form (see module docs).
    """
    return _build("zfnet", num_classes, in_chans, stem, input_size, dropout)
