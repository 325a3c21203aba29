"""The NASNet cell built from a genotype (cnnlab.models.nasnet_cell)."""

import torch

from cnnlab.models.nasnet_cell import Cell
from cnnlab.models.nasnet_genotype import NASNET_A


def test_normal_cell_concatenates_six_states_and_reduction_cell_four():
    normal = Cell(NASNET_A.normal, in_ch=24, prev_ch=24, filters=8)
    reduction = Cell(NASNET_A.reduce, in_ch=48, prev_ch=48, filters=16, reduction=True)
    x = torch.randn(1, 24, 8, 8)
    assert normal(x, x).shape == (1, 48, 8, 8)
    y = torch.randn(1, 48, 8, 8)
    assert reduction(y, y).shape == (1, 64, 4, 4)
