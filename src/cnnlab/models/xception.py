"""Xception: Chollet (2017), "Xception: deep learning with depthwise separable
convolutions", CVPR, Fig. 5 (entry, middle and exit flows) and Table 3
(22,855,952 parameters; 79.0 % top-1 in Table 1).

The "extreme" Inception module (Fig. 4) maps cross-channel and spatial
correlations separately: a 1x1 convolution, then one 3x3 convolution per
channel, which is a depthwise separable convolution up to the order of the two
operations.  Xception is a linear stack of such separable convolutions with
residual connections (Fig. 5, input 299x299):

    entry flow   conv 3x3/2 32, conv 3x3 64 (valid padding, 299 → 147)
                 3 modules: [ReLU] sep 128, ReLU sep 128, max pool 3x3/2  (+ 1x1/2 conv)
                            ReLU sep 256, ReLU sep 256, max pool          (+ 1x1/2 conv)
                            ReLU sep 728, ReLU sep 728, max pool          (+ 1x1/2 conv)  → 19x19
    middle flow  8 x (ReLU sep 728) x 3                                  (+ identity)
    exit flow    ReLU sep 728, ReLU sep 1024, max pool                   (+ 1x1/2 conv)  → 10x10
                 sep 1536 ReLU, sep 2048 ReLU, global average pool, logistic regression

Every convolution is followed by batch normalization (ε = 10⁻³, Keras'
default); the separable convolutions have no intermediate ReLU and no bias.
The table's parameter count is the trainable parameters of the Keras model:
this model has exactly 22,855,952 with 1000 classes.

The CIFAR form (``stem='cifar'``, automatic for ``input_size`` ≤ 64) pads the
two stem convolutions and runs them at stride 1, and keeps the third entry
module at stride 1, as the CIFAR-100 port weiaicunzai/pytorch-cifar100
(models/xception.py) does: 32x32 images reach the middle flow at 8x8 and the
exit flow ends at 4x4.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnnlab.models.base import check_input_size, resolve_stem
from cnnlab.models.googlenet import InceptionNet
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.inception import SeparableConvBN, XceptionBlock, conv_bn
from cnnlab.nn.pool import GlobalAvgPool2d

# Fig. 5: name, widths of the separable convolutions, stride (ImageNet, CIFAR).
BLOCKS: tuple[tuple[str, tuple[int, ...], int, int], ...] = (
    ("block1", (128, 128), 2, 2),
    ("block2", (256, 256), 2, 2),
    ("block3", (728, 728), 2, 1),
    *((f"block{i}", (728, 728, 728), 1, 1) for i in range(4, 12)),  # middle flow, 8 times
    ("block12", (728, 1024), 2, 2),
)
EXIT_WIDTHS = (1536, 2048)
MIN_INPUT_SIZE = 7  # 3x3/2 and 3x3 valid convolutions need a 3x3 map after the first


class Xception(InceptionNet):
    """Entry, middle and exit flows of Fig. 5, then global average pooling and a linear layer."""

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, stem: str = "imagenet"):
        cifar = stem == "cifar"
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv1=conv_bn(in_chans, 32, 3, stride=1 if cifar else 2, padding=1 if cifar else 0),
            conv2=conv_bn(32, 64, 3, padding=1 if cifar else 0),
        )
        channels = 64
        for name, widths, stride, cifar_stride in BLOCKS:
            block = XceptionBlock(
                channels, widths, cifar_stride if cifar else stride, first_relu=name != "block1"
            )
            layers[name], channels = block, block.out_channels
        for i, width in enumerate(EXIT_WIDTHS, start=3):
            layers[f"conv{i}"] = SeparableConvBN(channels, width, act="after")
            channels = width
        head = nn.Sequential(
            OrderedDict(pool=GlobalAvgPool2d(), fc=nn.Linear(channels, num_classes))
        )
        super().__init__(
            nn.Sequential(layers),
            head,
            arch="Xception",
            min_input_size=1 if cifar else MIN_INPUT_SIZE,
        )


@register_model(
    reference=Reference(
        source="Chollet 2017, Table 3 (22,855,952 parameters) and Table 1 (79.0 % top-1)",
        params=22_855_952,
        top1=79.0,
        input_shape=(3, 299, 299),
    ),
    num_classes=1000,
    in_chans=3,
)
def xception(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
) -> Xception:
    """Xception (Chollet 2017): depthwise separable convolutions with residuals, 22.9M params.

    Chollet (2017), "Xception: deep learning with depthwise separable convolutions",
    Fig. 5 and Table 3.

    ``stem='cifar'`` (automatic for ``input_size`` ≤ 64) runs the stem and the
    third entry module at stride 1.
    """
    stem = resolve_stem(stem, input_size)
    if stem == "imagenet":
        check_input_size("Xception", input_size, MIN_INPUT_SIZE)
    return Xception(num_classes, in_chans, stem)
