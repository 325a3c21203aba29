"""The NASNet operation set (cnnlab.nn.nas_ops), Zoph et al. (2018), Sec. 3."""

import pytest
import torch
from torch import nn

from cnnlab.errors import UnknownNameError
from cnnlab.nn.nas_ops import OPERATIONS, FactorizedReduce, make_operation


def test_the_search_space_has_the_13_operations_of_the_paper():
    assert len(OPERATIONS) == 13
    assert {"identity", "conv_1x7_7x1", "avg_pool_3x3", "max_pool_7x7", "sep_conv_5x5"} <= set(
        OPERATIONS
    )


@pytest.mark.parametrize("name", list(OPERATIONS))
@pytest.mark.parametrize(("in_ch", "stride", "size", "out_size"), [(6, 1, 7, 7), (4, 2, 7, 4)])
def test_every_operation_maps_in_ch_to_out_ch_at_its_stride(name, in_ch, stride, size, out_size):
    op = make_operation(name, in_ch, 6, stride)
    x = torch.randn(2, in_ch, size, size, requires_grad=True)
    y = op(x)
    assert y.shape == (2, 6, out_size, out_size)
    y.sum().backward()
    assert x.grad is not None


def test_identity_is_free_only_at_stride_1_and_equal_widths():
    assert isinstance(make_operation("identity", 8, 8), nn.Identity)
    projected = make_operation("identity", 8, 8, stride=2)
    assert [type(m) for m in projected] == [nn.ReLU, nn.Conv2d, nn.BatchNorm2d]


def test_separable_convolution_is_applied_twice():
    op = make_operation("sep_conv_5x5", 8, 8)
    convs = [m for m in op.modules() if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [8, 1, 8, 1]
    weights = 2 * (5 * 5 * 8 + 8 * 8) + 2 * 2 * 8  # two depthwise + pointwise, two BNs
    assert sum(p.numel() for p in op.parameters()) == weights


def test_factorized_convolution_is_a_row_then_a_column():
    op = make_operation("conv_1x7_7x1", 4, 4)
    assert op.row.kernel_size == (1, 7) and op.col.kernel_size == (7, 1)


def test_average_pooling_ignores_the_padding():
    op = make_operation("avg_pool_3x3", 1, 1).eval()
    torch.testing.assert_close(op(torch.ones(1, 1, 4, 4)), torch.ones(1, 1, 4, 4))


def test_pooling_projects_when_the_widths_differ():
    assert not any(isinstance(m, nn.Conv2d) for m in make_operation("max_pool_3x3", 4, 4).modules())
    assert isinstance(make_operation("max_pool_3x3", 4, 8).conv, nn.Conv2d)


def test_factorized_reduce_sees_both_pixel_phases():
    reduce = FactorizedReduce(1, 2).eval()
    for conv in (reduce.path1, reduce.path2):
        nn.init.ones_(conv.weight)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    with torch.no_grad():
        y = reduce(x)
    scale = 1 / (1 + reduce.bn.eps) ** 0.5
    torch.testing.assert_close(y[0, 0], x[0, 0, ::2, ::2] * scale)
    torch.testing.assert_close(y[0, 1], x[0, 0, 1::2, 1::2] * scale)


def test_unknown_operation_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="sep_conv_3x3"):
        make_operation("sep_conv_9x9", 4, 4)
