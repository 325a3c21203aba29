"""ConvNeXt: Liu, Mao, Wu, Feichtenhofer, Darrell & Xie (2022), "A ConvNet for the
2020s", CVPR, Sec. 2 (the modernization path, Fig. 2), Sec. 3 (variants) and
Table 1 (ImageNet results).

A ResNet modernized step by step towards a Swin Transformer:

* a "patchify" stem, a 4x4 stride-4 convolution followed by layer norm;
* stage compute ratio (3, 3, 9, 3) (T) or (3, 3, 27, 3) (S/B/L/XL);
* each block is a 7x7 depthwise convolution, layer norm over the channels, then
  an inverted bottleneck (1x1 conv to 4·C, GELU, 1x1 conv back to C, written as
  two linear layers in channels-last order), scaled per channel by a learnable
  "layer scale" γ initialised to 1e-6 (Touvron et al. 2021, "Going deeper with
  image transformers") and dropped by stochastic depth (Huang et al. 2016);
* separate downsampling layers between stages: layer norm, then a 2x2 stride-2
  convolution.

Widths C = (96, 192, 384, 768) for T and S, (128, ...) for B, (192, ...) for L
and (256, ...) for XL (Sec. 3, "ConvNeXt-T: C = (96, 192, 384, 768), B =
(3, 3, 9, 3)" etc.).  Layer names follow torchvision's ``convnext_*`` so that its
state dicts load (`ConvNeXt.torchvision_keys`).

CIFAR form (``stem='cifar'``, chosen automatically for inputs of at most 64
pixels): the stem patchifies 2x2 instead of 4x4, so that a 32x32 image is a
16x16 grid of patches and the last stage sees 2x2 maps (with the 4x4 stem it
would see 1x1).  This is cnnlab's choice; the paper trains on ImageNet only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.drop import DropPath, drop_path_rates

LAYER_NORM_EPS = 1e-6
PAPER = 'Liu et al. 2022, "A ConvNet for the 2020s", Table 1 (ImageNet-1K) and Sec. 3'


@dataclass(frozen=True)
class ConvNeXtConfig:
    """One variant: blocks per stage, widths C per stage, default stochastic depth rate."""

    depths: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    drop_path: float


# Sec. 3 of the paper; stochastic depth rates as torchvision's ImageNet-1K recipe uses.
CONFIGS: dict[str, ConvNeXtConfig] = {
    "tiny": ConvNeXtConfig((3, 3, 9, 3), (96, 192, 384, 768), 0.1),
    "small": ConvNeXtConfig((3, 3, 27, 3), (96, 192, 384, 768), 0.4),
    "base": ConvNeXtConfig((3, 3, 27, 3), (128, 256, 512, 1024), 0.5),
    "large": ConvNeXtConfig((3, 3, 27, 3), (192, 384, 768, 1536), 0.5),
    "xlarge": ConvNeXtConfig((3, 3, 27, 3), (256, 512, 1024, 2048), 0.5),
}

STEM_PATCH = {"imagenet": 4, "cifar": 2}


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of each position of an (N, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """x + DropPath(γ · fc2(GELU(fc1(LN(dwconv7x7(x)))))), Fig. 4 (right) of the paper."""

    def __init__(self, dim: int, layer_scale: float = 1e-6, drop_path: float = 0.0):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))  # channels last: the 1x1 convs are linear
        y = self.fc2(self.act(self.fc1(y))).permute(0, 3, 1, 2)
        return x + self.drop_path(self.layer_scale * y)


def _torchvision_keys() -> tuple[tuple[str, str], ...]:
    """torchvision's names: features.0 stem, features.1/3/5/7 stages (block.0 dwconv,
    block.2 norm, block.3/5 linear), features.2/4/6 downsampling, classifier (LN, -, fc)."""
    rules = [
        (r"^features\.0\.0\.", "features.stem.conv."),
        (r"^features\.0\.1\.", "features.stem.norm."),
        (r"^classifier\.0\.", "head.norm."),
        (r"^classifier\.2\.", "head.fc."),
    ]
    for stage in range(1, 5):
        if stage > 1:
            rules.append(
                (rf"^features\.{2 * stage - 2}\.([01])\.", rf"features.stage{stage}.downsample.\1.")
            )
        for index, name in (("0", "dwconv"), ("2", "norm"), ("3", "fc1"), ("5", "fc2")):
            rules.append(
                (
                    rf"^features\.{2 * stage - 1}\.(\d+)\.block\.{index}\.",
                    rf"features.stage{stage}.block\1.{name}.",
                )
            )
        rules.append((rf"^features\.{2 * stage - 1}\.(\d+)\.", rf"features.stage{stage}.block\1."))
    return tuple(rules)


class ConvNeXt(Classifier):
    """Patchify stem, four stages of `ConvNeXtBlock` with LN + 2x2 conv downsampling."""

    torchvision_keys = _torchvision_keys()

    def __init__(
        self,
        config: ConvNeXtConfig,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem: str = "imagenet",
        drop_path: float | None = None,
        layer_scale: float = 1e-6,
    ):
        patch = STEM_PATCH[stem]
        rates = iter(
            drop_path_rates(
                config.drop_path if drop_path is None else drop_path, sum(config.depths)
            )
        )
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["stem"] = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_chans, config.widths[0], patch, stride=patch),
                norm=LayerNorm2d(config.widths[0], eps=LAYER_NORM_EPS),
            )
        )
        width_in = config.widths[0]
        for i, (depth, width) in enumerate(zip(config.depths, config.widths, strict=True), start=1):
            stage: OrderedDict[str, nn.Module] = OrderedDict()
            if i > 1:
                stage["downsample"] = nn.Sequential(
                    LayerNorm2d(width_in, eps=LAYER_NORM_EPS),
                    nn.Conv2d(width_in, width, 2, stride=2),
                )
            for j in range(depth):
                stage[f"block{j}"] = ConvNeXtBlock(width, layer_scale, next(rates))
            layers[f"stage{i}"] = nn.Sequential(stage)
            width_in = width
        head = nn.Sequential(
            OrderedDict(
                pool=nn.AdaptiveAvgPool2d(1),
                norm=LayerNorm2d(width_in, eps=LAYER_NORM_EPS),
                flatten=nn.Flatten(),
                fc=nn.Linear(width_in, num_classes),
            )
        )
        super().__init__(nn.Sequential(layers), head)
        self.min_input_size = patch * 2 ** (len(config.depths) - 1)
        self._init_weights()

    def _init_weights(self) -> None:
        # As torchvision: truncated normal weights with std 0.02, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def _convnext(
    variant: str,
    num_classes: int,
    in_chans: int,
    stem: str | None,
    input_size: int | None,
    drop_path: float | None,
) -> ConvNeXt:
    stem = resolve_stem(stem, input_size)
    model = ConvNeXt(CONFIGS[variant], num_classes, in_chans, stem, drop_path)
    check_input_size(f"convnext_{variant} ({stem} stem)", input_size, model.min_input_size)
    return model


def _reference(gmacs: float, top1: float, params: str) -> Reference:
    # The paper rounds parameters to whole millions (28M for T, 2 % below the exact
    # 28.59M), too coarse for a 1 % check: they are quoted in the source only.
    return Reference(source=f"{PAPER}: {params} params", macs=gmacs * 1e9, top1=top1)


@register_model(
    torchvision="convnext_tiny",
    reference=_reference(4.5, 82.1, "28M"),
    num_classes=1000,
    in_chans=3,
)
def convnext_tiny(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float | None = None,
) -> ConvNeXt:
    """ConvNeXt-T (Liu et al. 2022): C = 96, blocks (3, 3, 9, 3), 28.6M params, 4.5G MACs.

    Liu et al. (2022), "A ConvNet for the 2020s", Sec. 3 (variants) and Table 1.

    ``stem``: 'imagenet' (4x4 patches), 'cifar' (2x2) or None (by ``input_size``);
    ``drop_path``: final stochastic depth rate (default 0.1).
    """
    return _convnext("tiny", num_classes, in_chans, stem, input_size, drop_path)


@register_model(
    torchvision="convnext_small",
    reference=_reference(8.7, 83.1, "50M"),
    num_classes=1000,
    in_chans=3,
)
def convnext_small(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float | None = None,
) -> ConvNeXt:
    """ConvNeXt-S (Liu et al. 2022): C = 96, blocks (3, 3, 27, 3), 50.2M params, 8.7G MACs.

    Liu et al. (2022), "A ConvNet for the 2020s", Sec. 3 (variants) and Table 1.

    ``stem``: 'imagenet' (4x4 patches), 'cifar' (2x2) or None (by ``input_size``);
    ``drop_path``: final stochastic depth rate (default 0.4).
    """
    return _convnext("small", num_classes, in_chans, stem, input_size, drop_path)


@register_model(
    torchvision="convnext_base",
    reference=_reference(15.4, 83.8, "89M"),
    num_classes=1000,
    in_chans=3,
)
def convnext_base(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float | None = None,
) -> ConvNeXt:
    """ConvNeXt-B (Liu et al. 2022): C = 128, blocks (3, 3, 27, 3), 88.6M params, 15.4G MACs.

    Liu et al. (2022), "A ConvNet for the 2020s", Sec. 3 (variants) and Table 1.

    ``stem``: 'imagenet' (4x4 patches), 'cifar' (2x2) or None (by ``input_size``);
    ``drop_path``: final stochastic depth rate (default 0.5).
    """
    return _convnext("base", num_classes, in_chans, stem, input_size, drop_path)


@register_model(
    torchvision="convnext_large",
    reference=_reference(34.4, 84.3, "198M"),
    num_classes=1000,
    in_chans=3,
)
def convnext_large(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float | None = None,
) -> ConvNeXt:
    """ConvNeXt-L (Liu et al. 2022): C = 192, blocks (3, 3, 27, 3), 197.8M params, 34.4G MACs.

    Liu et al. (2022), "A ConvNet for the 2020s", Sec. 3 (variants) and Table 1.

    ``stem``: 'imagenet' (4x4 patches), 'cifar' (2x2) or None (by ``input_size``);
    ``drop_path``: final stochastic depth rate (default 0.5).
    """
    return _convnext("large", num_classes, in_chans, stem, input_size, drop_path)


@register_model(
    reference=Reference(
        source=f"{PAPER}: ConvNeXt-XL, ImageNet-22K pre-trained, 224x224",
        params=350_000_000,
        macs=60.9e9,
        top1=87.0,
    ),
    num_classes=1000,
    in_chans=3,
)
def convnext_xlarge(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float | None = None,
) -> ConvNeXt:
    """ConvNeXt-XL (Liu et al. 2022): C = 256, blocks (3, 3, 27, 3), 350M params, 60.9G MACs.

    Liu et al. (2022), "A ConvNet for the 2020s", Sec. 3 (variants) and Table 1.

    Not in torchvision.  ``stem``: 'imagenet' (4x4 patches), 'cifar' (2x2) or None
    (by ``input_size``); ``drop_path``: final stochastic depth rate (default 0.5).
    """
    return _convnext("xlarge", num_classes, in_chans, stem, input_size, drop_path)
