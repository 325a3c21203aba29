"""A NASNet cell built from a `CellGenotype`.

Zoph et al. (2018), Sec. 3 and Fig. 3, with the details of NASNet's reference
implementation (TF-slim ``nasnet_utils.NasNetABaseCell``):

1. the previous cell's output (input 0) goes through ReLU → 1x1 conv → BN to
   ``filters`` maps; the output of the cell before it (input 1) is brought to
   the same shape: by a factorized reduction when it has twice the resolution,
   by ReLU → 1x1 conv → BN when only the width differs.  The first cell of a
   network has no earlier cell: input 1 is then its raw input;
2. each block applies its two operations (stride 2 on the cell inputs in a
   reduction cell) and adds the results; operations other than the identity
   pass through stochastic depth (DropPath; the paper's ScheduledDropPath
   raises its rate during training, here it is fixed);
3. the states listed in ``concat`` are concatenated; a state of another width or
   resolution than the blocks' outputs is first made to fit (1x1 conv-BN or a
   factorized reduction).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.models.nasnet_genotype import NUM_INPUTS, CellGenotype
from cnnlab.nn.conv import conv2d
from cnnlab.nn.drop import DropPath
from cnnlab.nn.nas_ops import FactorizedReduce, make_operation, relu_conv_bn


def _fit(in_ch: int, out_ch: int, reduce: bool) -> nn.Module:
    """Bring an output state to ``out_ch`` maps (and half the resolution): no ReLU first."""
    if reduce:
        return FactorizedReduce(in_ch, out_ch)
    if in_ch != out_ch:
        return nn.Sequential(
            OrderedDict(conv=conv2d(in_ch, out_ch, 1, bias=False), bn=nn.BatchNorm2d(out_ch))
        )
    return nn.Identity()


class Cell(nn.Module):
    """A normal (``reduction=False``) or reduction cell with ``filters`` maps per state.

    ``in_ch`` is the width of input 0; ``prev_ch`` that of input 1, or ``None``
    for a network's first cell (input 1 is then input 0 itself);
    ``prev_reduced`` says that input 1 has twice the resolution of input 0.
    The output has ``len(genotype.concat) · filters`` maps (`out_ch`).
    """

    def __init__(
        self,
        genotype: CellGenotype,
        in_ch: int,
        prev_ch: int | None,
        filters: int,
        reduction: bool = False,
        prev_reduced: bool = False,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.genotype, self.reduction = genotype, reduction
        self.base = relu_conv_bn(in_ch, filters, 1)
        self.adjust: nn.Module = nn.Identity()
        if prev_reduced:
            self.adjust = nn.Sequential(nn.ReLU(), FactorizedReduce(prev_ch, filters))
        elif prev_ch is not None and prev_ch != filters:
            self.adjust = relu_conv_bn(prev_ch, filters, 1)
        widths = [filters, in_ch if prev_ch is None else filters]
        self.ops = nn.ModuleList()
        for block in genotype.blocks:
            pair = nn.ModuleList()
            for op, state in (
                (block.left_op, block.left_input),
                (block.right_op, block.right_input),
            ):
                stride = 2 if reduction and state < NUM_INPUTS else 1
                layer = make_operation(op, widths[state], filters, stride)
                if op != "identity" and drop_path > 0:
                    layer = nn.Sequential(layer, DropPath(drop_path))
                pair.append(layer)
            self.ops.append(pair)
            widths.append(filters)
        self.fit = nn.ModuleList(
            _fit(widths[s], filters, reduce=reduction and s < NUM_INPUTS) for s in genotype.concat
        )
        self.out_ch = filters * len(genotype.concat)

    def forward(self, x: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        states = [self.base(x), self.adjust(x if prev is None else prev)]
        for block, (left, right) in zip(self.genotype.blocks, self.ops, strict=True):
            states.append(left(states[block.left_input]) + right(states[block.right_input]))
        return torch.cat(
            [fit(states[s]) for s, fit in zip(self.genotype.concat, self.fit, strict=True)], 1
        )
