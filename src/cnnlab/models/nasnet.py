"""NASNet-A: Zoph, Vasudevan, Shlens & Le (2018), "Learning transferable
architectures for scalable image recognition", CVPR, Fig. 2 (network
schematics), Fig. 4 (the NASNet-A normal and reduction cells), Table 1
(CIFAR-10) and Table 3 (ImageNet, mobile setting).

A network is a stem, then three stacks of N normal cells separated by two
reduction cells; each reduction cell doubles the number of filters per state.
"NASNet-A (N @ F)" names N and the width F of the penultimate layer, which is
6 (concatenated states of the normal cell) x 4 (two doublings) x ``filters``:

* CIFAR (Fig. 2 left): a 3x3 convolution with 3 · ``filters`` maps, then the
  stacks at 32x32, 16x16 and 8x8; NASNet-A (6 @ 768) has 3.3M parameters
  (Table 1);
* ImageNet (Fig. 2 right): a 3x3 stride-2 convolution with 32 maps (no padding)
  and two reduction cells (with ``filters``/4 and ``filters``/2) as the stem,
  then the stacks at 28x28, 14x14 and 7x7; NASNet-A (4 @ 1056), the mobile
  model, has 5.3M parameters and 564M multiply-adds (Table 3).

Both are built from the genotype `cnnlab.models.nasnet_genotype.NASNET_A`
by the generic `Cell`, so any genotype found by
an architecture search gives a network the same way (`NASNet`).  The
auxiliary classifier of the paper's training setup is left out (the published
parameter counts are those of the network without it).  Stochastic depth is a
fixed rate per operation (``drop_path``), not the paper's ScheduledDropPath,
whose rate grows during training.  NASNet is not in torchvision.

The CIFAR stem is also the form chosen automatically for inputs of at most 64
pixels (``stem=None``).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.models.base import Classifier, check_input_size, resolve_stem
from cnnlab.models.nasnet_cell import Cell
from cnnlab.models.nasnet_genotype import NASNET_A, Genotype
from cnnlab.models.registry import Reference, register_model
from cnnlab.nn.conv import ConvNormAct

STACKS = 3
IMAGENET_STEM_WIDTH = 32
# smallest inputs whose last cell still sees a 1x1 (ImageNet stem) or 2x2 (CIFAR stem) map
MIN_INPUT_SIZE = {"imagenet": 32, "cifar": 8}


class NASNetFeatures(nn.Module):
    """Stem, then cells each fed with the outputs of the two cells before it."""

    def __init__(self, stem: nn.Module, cells: list[Cell]):
        super().__init__()
        self.stem = stem
        self.cells = nn.ModuleList(cells)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev, x = None, self.stem(x)
        for cell in self.cells:
            prev, x = x, cell(x, prev)
        return self.act(x)


class NASNet(Classifier):
    """A network of cells from ``genotype``: N normal cells per stack, ``filters`` maps."""

    def __init__(
        self,
        genotype: Genotype = NASNET_A,
        num_classes: int = 10,
        in_chans: int = 3,
        cells: int = 6,
        filters: int = 32,
        stem: str = "cifar",
        stem_multiplier: float = 3.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ):
        check_choice("NASNet stem", stem, MIN_INPUT_SIZE)
        if cells < 1 or filters < 4:
            raise ConfigError(
                f"NASNet needs cells >= 1 and filters >= 4, got cells={cells}, filters={filters}."
            )
        if stem == "imagenet":
            stem_ch = int(IMAGENET_STEM_WIDTH * stem_multiplier)
            stem_layer = ConvNormAct(in_chans, stem_ch, 3, stride=2, padding=0, act=None)
            # (filters, reduction) of each cell: two stem reduction cells, then the stacks
            plan = [(filters // 4, True), (filters // 2, True)]
        else:
            stem_ch = int(filters * stem_multiplier)
            stem_layer = ConvNormAct(in_chans, stem_ch, 3, padding=1, act=None)
            plan = []
        for stack in range(STACKS):
            if stack:
                plan.append((filters * 2**stack, True))
            plan += [(filters * 2**stack, False)] * cells
        built: list[Cell] = []
        widths: list[int | None] = [None, stem_ch]
        after_reduction = False  # input 1 then has twice the resolution of input 0
        for width, reduction in plan:
            genotype_cell = genotype.reduce if reduction else genotype.normal
            cell = Cell(
                genotype_cell, widths[-1], widths[-2], width, reduction, after_reduction, drop_path
            )
            built.append(cell)
            widths.append(cell.out_ch)
            after_reduction = reduction
        head: OrderedDict[str, nn.Module] = OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()
        )
        if dropout > 0:
            head["drop"] = nn.Dropout(dropout)
        head["fc"] = nn.Linear(widths[-1], num_classes)
        super().__init__(NASNetFeatures(stem_layer, built), nn.Sequential(head))
        self.genotype = genotype
        self.min_input_size = MIN_INPUT_SIZE[stem]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_size(type(self).__name__, min(x.shape[-2:]), self.min_input_size)
        return super().forward(x)


def _nasnet(
    num_classes: int,
    in_chans: int,
    stem: str | None,
    input_size: int | None,
    name: str,
    **config,
) -> NASNet:
    stem = resolve_stem(stem, input_size)
    model = NASNet(NASNET_A, num_classes, in_chans, stem=stem, **config)
    check_input_size(f"{name} ({stem} stem)", input_size, model.min_input_size)
    return model


PAPER = 'Zoph et al. 2018, "Learning transferable architectures"'


@register_model(
    reference=Reference(
        source=f"{PAPER}, Table 1: NASNet-A (6 @ 768), 3.3M params (3.35M here)",
        params=3_300_000,
        input_shape=(3, 32, 32),
        num_classes=10,
        params_rounding=1e5,
    ),
    num_classes=10,
    in_chans=3,
)
def nasnet_a_cifar(
    num_classes: int = 10,
    in_chans: int = 3,
    input_size: int | None = None,
    drop_path: float = 0.0,
) -> NASNet:
    """NASNet-A (6 @ 768) for CIFAR-10 (Zoph et al. 2018): 18 normal cells, 3.3M params.

    Zoph et al. (2018), "Learning transferable architectures for scalable image recognition",
    Fig. 2 (left), Fig. 4 and Table 1.

    ``drop_path``: stochastic depth rate of every operation but the identity.
    """
    return _nasnet(
        num_classes,
        in_chans,
        "cifar",
        input_size,
        "nasnet_a_cifar",
        cells=6,
        filters=32,
        stem_multiplier=3.0,
        drop_path=drop_path,
    )


@register_model(
    reference=Reference(
        source=f"{PAPER}, Table 3 (mobile setting): NASNet-A (4 @ 1056)",
        params=5_300_000,
        macs=564e6,
        top1=74.0,
    ),
    num_classes=1000,
    in_chans=3,
)
def nasnet_a_mobile(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float = 0.0,
) -> NASNet:
    """NASNet-A (4 @ 1056), mobile (Zoph et al. 2018): 5.3M params, 564M MACs at 224.

    Zoph et al. (2018), "Learning transferable architectures for scalable image recognition",
    Fig. 2 (right), Fig. 4 and Table 3.

    ``stem``: 'imagenet' (3x3 stride-2 conv + two reduction cells), 'cifar'
    (3x3 conv) or None (by ``input_size``); ``drop_path``: stochastic depth rate.
    """
    return _nasnet(
        num_classes,
        in_chans,
        stem,
        input_size,
        "nasnet_a_mobile",
        cells=4,
        filters=44,
        stem_multiplier=1.0,
        dropout=0.5,
        drop_path=drop_path,
    )


@register_model(
    reference=Reference(
        source=f"{PAPER}, Table 2: NASNet-A (6 @ 4032) at 331x331",
        params=88_900_000,
        macs=23.8e9,
        top1=82.7,
        input_shape=(3, 331, 331),
    ),
    num_classes=1000,
    in_chans=3,
)
def nasnet_a_large(
    num_classes: int = 1000,
    in_chans: int = 3,
    stem: str | None = None,
    input_size: int | None = None,
    drop_path: float = 0.0,
) -> NASNet:
    """NASNet-A (6 @ 4032), large (Zoph et al. 2018): 88.9M params, 23.8G MACs at 331.

    Zoph et al. (2018), "Learning transferable architectures for scalable image recognition",
    Fig. 2 (right), Fig. 4 and Table 2.

    ``stem``: 'imagenet' (3x3 stride-2 conv + two reduction cells), 'cifar'
    (3x3 conv) or None (by ``input_size``); ``drop_path``: stochastic depth rate.
    """
    return _nasnet(
        num_classes,
        in_chans,
        stem,
        input_size,
        "nasnet_a_large",
        cells=6,
        filters=168,
        stem_multiplier=3.0,
        dropout=0.5,
        drop_path=drop_path,
    )
