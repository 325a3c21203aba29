"""Fully convolutional networks (Long, Shelhamer & Darrell 2015, "Fully
convolutional networks for semantic segmentation", CVPR, Sec. 4.1-4.2, Fig. 3).

A classification backbone from the zoo, read through its stage feature maps
(``create_model(..., features_only=True)``), scores every location of its
coarsest stage with a 1x1 convolution (the paper's ``score_fr`` after the
fully connected layers recast as convolutions; here one 3x3 convolution with
batch norm and dropout plays ``fc6``/``fc7``).  The three variants differ in
how much finer detail the prediction gets back (Fig. 3):

* **FCN-32s** up-samples the coarsest scores straight to the image;
* **FCN-16s** first up-samples them 2x with a learnable transposed
  convolution, adds the scores of the next finer stage (``pool4``: a 1x1
  convolution, zero-initialized as in the paper so that training starts from
  FCN-32s), then up-samples the sum to the image;
* **FCN-8s** repeats the fusion once more with the stage after (``pool3``).

The 2x up-samplings are transposed convolutions initialized as bilinear
interpolation and learned (`TransposedConvUpsample`,
Sec. 3.3); the last up-sampling to the image is fixed bilinear interpolation,
as in the paper's reference networks.  The padded zoo backbones keep stages
aligned, so the paper's crop layers are not needed; the input sides must be
multiples of the coarsest stride.

The backbone is any zoo network (``--model-arg backbone=vgg11_bn``); by
default a ResNet-18 at a quarter of its widths (16-128 channels), cheap enough
for 2 CPU cores.  The names give the paper's strides (32, 16, 8) on a backbone
whose last stage is at stride 32, e.g. ``resnet18`` with its ImageNet stem.
On small images the zoo gives ResNets the CIFAR stem (``input_size`` <= 64),
which keeps the resolution for 4x longer: then the same three topologies
predict at strides 8, 4 and 2.  ``--model-arg stem=imagenet`` restores the
paper's strides.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models.registry import create_model, create_model_for_input, register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.upsample import TransposedConvUpsample

DEFAULT_BACKBONE = "resnet18"
# Without a backbone option: ResNet-18 at a quarter of its widths, for 2 CPU cores.
DEFAULT_BACKBONE_OPTIONS = {"widths": (16, 32, 64, 128), "stem_width": 16}


class FCN(nn.Module):
    """An FCN with ``skips`` fused finer stages (0: FCN-32s, 1: FCN-16s, 2: FCN-8s).

    ``backbone`` is a ``features_only`` module whose ``feature_info`` gives each
    returned map's channels and reduction (the zoo's, timm's interface).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        skips: int = 2,
        head_width: int = 256,
        dropout: float = 0.5,
    ):
        super().__init__()
        channels, reductions = backbone.feature_info.channels(), backbone.feature_info.reduction()
        self.stages = _fused_stages(reductions, skips)
        self.backbone = backbone
        self.head = nn.Sequential(
            ConvNormAct(channels[self.stages[0]], head_width, 3),
            nn.Dropout2d(dropout),
            nn.Conv2d(head_width, num_classes, 1),
        )
        self.score = nn.ModuleList(nn.Conv2d(channels[i], num_classes, 1) for i in self.stages[1:])
        for layer in self.score:  # zero-initialized: training starts from the coarser net
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.up = nn.ModuleList(
            TransposedConvUpsample(num_classes, num_classes, 2) for _ in self.stages[1:]
        )
        self.stride = reductions[self.stages[-1]]
        self.coarsest = reductions[self.stages[0]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % self.coarsest or width % self.coarsest:
            raise GeometryError(
                f"This FCN's coarsest stage has stride {self.coarsest}, so the image sides must "
                f"be multiples of {self.coarsest}; got {height}x{width}. Pad or resize to "
                f"{-(-height // self.coarsest) * self.coarsest}x"
                f"{-(-width // self.coarsest) * self.coarsest}."
            )
        maps = self.backbone(x)
        scores = self.head(maps[self.stages[0]])
        for index, score, up in zip(self.stages[1:], self.score, self.up, strict=True):
            scores = up(scores) + score(maps[index])
        return F.interpolate(scores, size=(height, width), mode="bilinear", align_corners=False)


def _fused_stages(reductions: list[int], skips: int) -> list[int]:
    """Indices of the coarsest stage and of the ``skips`` stages before it, coarsest first.

    Each must have half the stride of the one after it (pool5, pool4, pool3).
    """
    last = max(range(len(reductions)), key=reductions.__getitem__)
    chosen = [last]
    for _ in range(skips):
        wanted = reductions[chosen[-1]] // 2
        finer = [i for i, r in enumerate(reductions) if r == wanted]
        if not finer:
            raise ConfigError(
                f"FCN with {skips} skip(s) needs backbone stages at strides "
                f"{[reductions[last] // 2**k for k in range(skips + 1)]}, but the backbone's "
                f"stages are at strides {reductions}. Choose fewer skips (fcn32s/fcn16s) or "
                "another backbone."
            )
        chosen.append(finer[-1])
    return chosen


def build_fcn(
    skips: int,
    num_classes: int,
    in_chans: int,
    input_size: int | None = None,
    backbone: str | None = None,
    head_width: int = 256,
    dropout: float = 0.5,
    **backbone_options,
) -> FCN:
    """An `FCN` on the zoo model ``backbone`` (its options in ``backbone_options``).

    Without ``backbone``: `DEFAULT_BACKBONE` with `DEFAULT_BACKBONE_OPTIONS`
    (options given here override them).
    """
    if backbone is None:
        backbone, backbone_options = DEFAULT_BACKBONE, DEFAULT_BACKBONE_OPTIONS | backbone_options
    options = dict(backbone_options, features_only=True)
    if input_size is None:
        trunk = create_model(backbone, num_classes=1, in_chans=in_chans, **options)
    else:
        trunk = create_model_for_input(backbone, 1, (in_chans, input_size, input_size), **options)
    return FCN(trunk, num_classes, skips, head_width, dropout)


@register_model
def fcn32s(
    num_classes: int = 21, in_chans: int = 3, input_size: int | None = None, **options
) -> FCN:
    """FCN-32s: the coarsest stage's scores up-sampled to the image (any zoo backbone).

    Long, Shelhamer & Darrell (2015), "Fully convolutional networks for
    semantic segmentation", Sec. 4.1, Fig. 3.  Options: ``backbone`` (a zoo
    name; default a quarter-width resnet18), ``head_width``, ``dropout`` and
    the backbone's own options (``stem=imagenet``, ``widths=...``).
    """
    return build_fcn(0, num_classes, in_chans, input_size, **options)


@register_model
def fcn16s(
    num_classes: int = 21, in_chans: int = 3, input_size: int | None = None, **options
) -> FCN:
    """FCN-16s: FCN-32s fused 2x with the next finer stage's scores (pool4).

    Long, Shelhamer & Darrell (2015), Sec. 4.2, Fig. 3.
    """
    return build_fcn(1, num_classes, in_chans, input_size, **options)


@register_model
def fcn8s(
    num_classes: int = 21, in_chans: int = 3, input_size: int | None = None, **options
) -> FCN:
    """FCN-8s: FCN-16s fused once more with the following stage's scores (pool3).

    Long, Shelhamer & Darrell (2015), Sec. 4.2, Fig. 3.
    """
    return build_fcn(2, num_classes, in_chans, input_size, **options)
