"""GoogLeNet (Inception v1): Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan,
Vanhoucke & Rabinovich (2015), "Going deeper with convolutions", CVPR, Table 1
(layers and filter counts), Fig. 2b (the Inception module) and Sec. 5 (the two
auxiliary classifiers).

Layers (input 224x224; each Inception row of `INCEPTION_MODULES` gives the
#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5 and pool-projection filters of
Table 1):

    conv1 7x7/2 64 → max pool 3x3/2 → conv2 1x1 64 → conv3 3x3 192 → max pool 3x3/2
    inception 3a, 3b → max pool 3x3/2 (28 → 14)
    inception 4a, 4b, 4c, 4d, 4e → max pool (14 → 7)
    inception 5a, 5b → global average pool → dropout → linear

Two auxiliary classifiers, on the outputs of 4a and 4d (Sec. 5: 5x5/3 average
pooling to 4x4, 1x1 conv 128, FC 1024, dropout 70 %, linear), add their losses
with weight 0.3 during training: in training mode the model returns
`AuxLogits`, in eval mode plain logits.
``aux_logits=False`` removes them.  The pooling is adaptive (to 4x4), which is
the paper's 5x5/3 at 14x14 and keeps the classifiers usable at other sizes.

Two forms are registered (rows of `FORMS`):

* `googlenet` is torchvision's ``googlenet``: batch norm (ε = 10⁻³) after
  every convolution, a 3x3 convolution in the "5x5" branch (a known slip of the
  port, pytorch/vision#906), a 2x2 max pool before 5a and dropout 0.2.  It loads
  torchvision's state dicts and gives the same logits.  torchvision's
  ``transform_input`` (False unless its pretrained weights are requested) is not
  part of this model: those weights expect inputs scaled to [−1, 1], i.e. a
  ``Normalize(0.5, 0.5)`` in front of the model.
* `googlenet_paper` is Table 1 as published: convolutions with bias and no
  batch norm, 5x5 convolutions, local response normalization after the first
  pooling and after conv3 (size 5, α = 10⁻⁴, β = 0.75, as in the Caffe
  reference model), a 3x3/2 max pool before 5a and dropout 0.4.  It reproduces
  the "ops" column of Table 1 row by row (tests/models/test_googlenet.py) except
  two rows that contradict the table's own filter counts: conv1, whose 7x7x3x64
  filters have 9.4K weights and cost 118M multiply-adds at 112x112 (the table
  says 2.7K and 34M), and inception 5a (51.1M, listed as 54M).  Hence 1.58G
  multiply-adds in all instead of the table's 1.5G, and 6,998,552 parameters
  (1000 classes, without the auxiliary classifiers) instead of 6.8M; the
  parameter column is off for other rows too (inception 4c: 497.5K weights,
  listed as 463K).

The CIFAR form (``stem='cifar'``, chosen automatically for ``input_size`` ≤ 64)
replaces the stem by one 3x3 convolution to 192 maps at stride 1, as the
popular CIFAR-10 port does (kuangliu/pytorch-cifar, models/googlenet.py):
32x32 inputs reach inception 3 at 32x32, 4 at 16x16 and 5 at 8x8.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models.base import AuxLogits, Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.inception import Branches, Conv, InceptionModule, Pool, conv_bn
from cnnlab.nn.pool import GlobalAvgPool2d

# Table 1: name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj; "maxpool"
# rows are the 3x3/2 poolings between the stages.
INCEPTION_MODULES: tuple[tuple[str, int, int, int, int, int, int] | str, ...] = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    "maxpool3",
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    "maxpool4",
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)
AUX_TAPS = ("inception4a", "inception4d")  # Sec. 5
AUX_WEIGHT = 0.3  # Sec. 5: "the losses of the auxiliary classifiers were weighted by 0.3"


@dataclass(frozen=True)
class GoogLeNetForm:
    """What distinguishes the published network from torchvision's port."""

    bn: bool
    kernel_5x5: int  # kernel of the "5x5" branch
    lrn: bool  # local response normalization in the stem
    pool4_kernel: int  # the max pool between inception 4e and 5a
    dropout: float
    min_input_size: int  # smallest input for which every pooling has an output (ImageNet stem)
    cifar_min_input_size: int  # the same with the CIFAR stem


FORMS = {
    "torchvision": GoogLeNetForm(
        bn=True,
        kernel_5x5=3,
        lrn=False,
        pool4_kernel=2,
        dropout=0.2,
        min_input_size=15,
        cifar_min_input_size=2,
    ),
    "paper": GoogLeNetForm(
        bn=False,
        kernel_5x5=5,
        lrn=True,
        pool4_kernel=3,
        dropout=0.4,
        min_input_size=31,
        cifar_min_input_size=4,
    ),
}


class InceptionNet(Classifier):
    """``head(features(x))`` plus auxiliary classifiers on named stages of ``features``.

    ``aux`` maps a child name of ``features`` to the classifier that reads its
    output; in training mode (when there are any) the forward pass returns
    `AuxLogits` with the auxiliary logits in feature order.  Inputs
    smaller than ``min_input_size`` raise a `GeometryError`.  Shared by
    the Inception family (GoogLeNet, v3, v4, Inception-ResNet) and Xception.
    """

    def __init__(
        self,
        features: nn.Sequential,
        head: nn.Module,
        *,
        arch: str,
        min_input_size: int = 1,
        aux: Mapping[str, nn.Module] | None = None,
        aux_weight: float = 0.0,
    ):
        super().__init__(features, head)
        self.aux = nn.ModuleDict(aux or {})
        self.aux_weight = aux_weight
        self.arch, self.min_input_size = arch, min_input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor | AuxLogits:
        check_input_size(self.arch, min(x.shape[-2:]), self.min_input_size)
        if not (self.training and len(self.aux)):
            return self.head(self.features(x))
        aux = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if name in self.aux:
                aux.append(self.aux[name](x))
        return AuxLogits(self.head(x), tuple(aux), self.aux_weight)


class GoogLeNet(InceptionNet):
    """GoogLeNet of Table 1 in the torchvision or the paper form (see module docs)."""

    torchvision_keys = (
        (r"^(inception\w+)\.branch1\.", r"features.\1.branch1.1."),
        (r"^(inception\w+)\.branch([23])\.1\.", r"features.\1.branch\2.2."),
        (r"^(inception\w+)\.branch([23])\.0\.", r"features.\1.branch\2.1."),
        (r"^(inception\w+|conv\d)\.", r"features.\1."),
        (r"^aux1\.", f"aux.{AUX_TAPS[0]}."),
        (r"^aux2\.", f"aux.{AUX_TAPS[1]}."),
        (r"^fc\.", "head.fc."),
    )

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        form: GoogLeNetForm = FORMS["torchvision"],
        aux_logits: bool = True,
        stem: str = "imagenet",
    ):
        layers = _stem(in_chans, form, stem)
        channels = 192
        aux: dict[str, nn.Module] = {}
        for row in INCEPTION_MODULES:
            if isinstance(row, str):
                kernel = form.pool4_kernel if row == "maxpool4" else 3
                layers[row] = nn.MaxPool2d(kernel, 2, ceil_mode=True)
                continue
            name, *filters = row
            module = InceptionModule(channels, _branches(*filters, form.kernel_5x5), form.bn)
            layers[name] = module
            channels = module.out_channels
            if aux_logits and name in AUX_TAPS:
                aux[name] = _aux_classifier(channels, num_classes, form.bn)
        head = nn.Sequential(
            OrderedDict(
                pool=GlobalAvgPool2d(),
                drop=nn.Dropout(form.dropout),
                fc=nn.Linear(channels, num_classes),
            )
        )
        super().__init__(
            nn.Sequential(layers),
            head,
            arch="GoogLeNet",
            min_input_size=form.min_input_size if stem == "imagenet" else form.cifar_min_input_size,
            aux=aux,
            aux_weight=AUX_WEIGHT,
        )


def _stem(in_chans: int, form: GoogLeNetForm, stem: str) -> OrderedDict[str, nn.Module]:
    """Table 1 up to inception 3a (ImageNet), or one 3x3 conv to 192 maps (CIFAR)."""
    if stem == "cifar":
        return OrderedDict(conv1=conv_bn(in_chans, 192, 3, bn=form.bn))
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv1"] = conv_bn(in_chans, 64, 7, stride=2, padding=3, bn=form.bn)
    layers["maxpool1"] = nn.MaxPool2d(3, 2, ceil_mode=True)
    if form.lrn:
        layers["norm1"] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
    layers["conv2"] = conv_bn(64, 64, 1, bn=form.bn)
    layers["conv3"] = conv_bn(64, 192, 3, bn=form.bn)
    if form.lrn:
        layers["norm2"] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
    layers["maxpool2"] = nn.MaxPool2d(3, 2, ceil_mode=True)
    return layers


def _branches(
    c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int, kernel_5x5: int
) -> Branches:
    """Fig. 2b: 1x1 | 1x1 → 3x3 | 1x1 → 5x5 | 3x3 max pool → 1x1."""
    return {
        "branch1": [Conv(c1)],
        "branch2": [Conv(c3r), Conv(c3, 3)],
        "branch3": [Conv(c5r), Conv(c5, kernel_5x5)],
        "branch4": [Pool("max", 3, 1, 1, ceil_mode=True), Conv(pool_proj)],
    }


def _aux_classifier(in_ch: int, num_classes: int, bn: bool) -> nn.Sequential:
    """Sec. 5: average pool to 4x4, 1x1 conv 128, FC 1024 + ReLU, dropout 0.7, linear."""
    return nn.Sequential(
        OrderedDict(
            pool=nn.AdaptiveAvgPool2d(4),
            conv=conv_bn(in_ch, 128, 1, bn=bn),
            flatten=nn.Flatten(),
            fc1=nn.Linear(128 * 4 * 4, 1024),
            act=nn.ReLU(),
            drop=nn.Dropout(0.7),
            fc2=nn.Linear(1024, num_classes),
        )
    )


def _build(
    form: str,
    num_classes: int,
    in_chans: int,
    aux_logits: bool,
    stem: str | None,
    input_size: int | None,
) -> GoogLeNet:
    stem = resolve_stem(stem, input_size)
    config = FORMS[form]
    minimum = config.min_input_size if stem == "imagenet" else config.cifar_min_input_size
    check_input_size("GoogLeNet", input_size, minimum)
    return GoogLeNet(num_classes, in_chans, config, aux_logits, stem)


@register_model(
    torchvision="googlenet",
    reference=Reference(
        source="torchvision GoogLeNet_Weights.IMAGENET1K_V1 (1.498 GFLOPS, 69.778 % top-1); "
        "Szegedy et al. 2015, Table 1: 1.5G operations",
        macs=1.498e9,
        top1=69.778,
    ),
    num_classes=1000,
    in_chans=3,
)
def googlenet(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool = True,
    stem: str | None = None,
    input_size: int | None = None,
) -> GoogLeNet:
    """GoogLeNet / Inception v1 as in torchvision (BN, 3x3 "5x5" branch), two aux classifiers.

    Szegedy et al. (2015), "Going deeper with convolutions", Table 1, Fig. 2b and Sec. 5.

    ``aux_logits=False`` drops the auxiliary classifiers; ``stem='cifar'``
    (automatic for ``input_size`` ≤ 64) starts with a 3x3 conv to 192 maps.
    """
    return _build("torchvision", num_classes, in_chans, aux_logits, stem, input_size)


@register_model(
    reference=Reference(
        source="Szegedy et al. 2015, Table 1 (6.8M parameters, 1.5G operations; not checked "
        "as totals, see the module docs: the conv1 row of both columns is inconsistent)"
    ),
    num_classes=1000,
    in_chans=3,
)
def googlenet_paper(
    num_classes: int = 1000,
    in_chans: int = 3,
    aux_logits: bool = True,
    stem: str | None = None,
    input_size: int | None = None,
) -> GoogLeNet:
    """GoogLeNet as published (Szegedy et al. 2015, Table 1): no BN, 5x5 convs, LRN.

    ``aux_logits=False`` drops the auxiliary classifiers; ``stem='cifar'``
    (automatic for ``input_size`` ≤ 64) starts with a 3x3 conv to 192 maps.
    """
    return _build("paper", num_classes, in_chans, aux_logits, stem, input_size)
