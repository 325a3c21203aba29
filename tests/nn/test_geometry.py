"""Output sizes, 'same' padding and receptive fields (cnnlab.nn.geometry)."""

import itertools

import pytest
import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.nn.geometry import (
    LayerGeometry,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
    same_padding,
)


def test_non_integer_output_size_names_the_formula_and_the_numbers():
    with pytest.raises(GeometryError) as info:
        conv_output_size(7, 3, stride=3)
    message = str(info.value)
    assert "(7 − 3 + 2·0)/3 + 1 = 2.33 is not an integer" in message
    assert "padding=1 gives 3" in message
    assert "6 or 9" in message


def test_even_stride_with_odd_span_says_no_padding_fits():
    with pytest.raises(GeometryError, match="no padding fits stride 2"):
        conv_output_size(8, 3, stride=2)


def test_floor_flag_gives_pytorch_semantics():
    out = nn.Conv2d(1, 1, 3, stride=3)(torch.zeros(1, 1, 7, 7))
    assert conv_output_size(7, 3, stride=3, floor=True) == out.shape[-1] == 2


def test_conv_output_size_matches_pytorch_whenever_it_divides():
    for n, k, s, p, d in itertools.product((5, 8, 11), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)):
        f_eff = d * (k - 1) + 1
        if n + 2 * p < f_eff or (n + 2 * p - f_eff) % s:
            continue
        out = nn.Conv2d(1, 1, k, s, p, d)(torch.zeros(1, 1, n, n))
        assert conv_output_size(n, k, s, p, d) == out.shape[-1], (n, k, s, p, d)


def test_kernel_larger_than_padded_input_is_a_geometry_error():
    with pytest.raises(GeometryError, match="larger than the padded input"):
        conv_output_size(4, 5)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_pytorch(ceil_mode):
    for n, k, s, p in itertools.product((5, 6, 7, 13), (2, 3), (1, 2, 3), (0, 1)):
        out = nn.MaxPool2d(k, s, p, ceil_mode=ceil_mode)(torch.zeros(1, 1, n, n))
        assert pool_output_size(n, k, s, p, ceil_mode=ceil_mode) == out.shape[-1], (n, k, s, p)


def test_pool_stride_defaults_to_kernel():
    assert pool_output_size(55, 3, 2) == 27
    assert pool_output_size(28, 2) == 14


def test_conv_transpose_output_size_matches_pytorch():
    for n, k, s, p, op in itertools.product((3, 7), (2, 3, 4), (1, 2, 3), (0, 1), (0, 1)):
        if op >= s:
            continue
        out = nn.ConvTranspose2d(1, 1, k, s, p, op)(torch.zeros(1, 1, n, n))
        assert conv_transpose_output_size(n, k, s, p, op) == out.shape[-1]


def test_conv_transpose_rejects_output_padding_not_below_stride():
    with pytest.raises(GeometryError, match="output_padding"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)


@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (5, 3)])
def test_same_padding_keeps_size_for_odd_kernels(kernel, dilation):
    padding = same_padding(kernel, dilation)
    assert conv_output_size(17, kernel, 1, padding, dilation) == 17


def test_same_padding_of_an_even_kernel_explains_the_asymmetry():
    with pytest.raises(GeometryError, match="asymmetric: 1 before and 2 after"):
        same_padding(4)


def test_receptive_field_of_three_3x3_convolutions_is_7():
    assert receptive_field([(3, 1)] * 3) == (7, 1, 3.0)


def test_receptive_field_of_lenet5_c5_is_the_whole_32x32_input():
    assert receptive_field([(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)]).size == 32


def test_zero_stride_is_a_geometry_error():
    with pytest.raises(GeometryError, match="stride must be >= 1"):
        receptive_field([(3, 0)])


@pytest.mark.parametrize(
    "layers",
    [
        [(3, 1)] * 3,
        [(3, 1), (2, 2), (3, 1)],
        [(3, 1, 1, 1), (2, 2, 1, 0), (5, 1, 1, 2)],
        [(3, 1, 2), (3, 2), (3, 1, 3, 1)],
        [(5, 1), (2, 2), (5, 1), (2, 2)],
    ],
)
def test_receptive_field_is_where_the_gradient_of_one_unit_is_nonzero(layers):
    """Brute force: ∂y[i, i]/∂x is nonzero exactly on the unit's receptive field."""
    net = nn.Sequential(
        *(nn.Conv2d(1, 1, *geometry_as_conv(layer), bias=False) for layer in layers)
    ).double()
    for conv in net:
        nn.init.ones_(conv.weight)  # positive weights: no cancellation in the gradient
    x = torch.zeros(1, 1, 64, 64, dtype=torch.double, requires_grad=True)
    y = net(x)
    i = y.shape[-1] // 2
    y[0, 0, i, i].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero().flatten()
    size, jump, start = receptive_field(layers)
    centre = start + i * jump
    assert len(rows) == size
    assert rows[0].item() == centre - (size - 1) / 2
    assert rows[-1].item() == centre + (size - 1) / 2


def geometry_as_conv(layer):
    """(kernel, stride, dilation, padding) -> Conv2d's (kernel, stride, padding, dilation)."""
    kernel, stride, dilation, padding = LayerGeometry(*layer)
    return kernel, stride, padding, dilation
