"""Transposed-convolution geometry: exact up-sampling, reachable sizes, checkerboard overlap."""

import pytest
import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.nn.geometry import (
    conv_transpose_output_padding,
    conv_transpose_output_size,
    transposed_overlap,
    upsample_geometry,
)


def test_transposed_output_size_by_hand():
    # (H − 1)·s − 2p + d·(k − 1) + output_padding + 1
    assert conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert conv_transpose_output_size(5, 3, stride=1, padding=0, dilation=2) == 9
    assert conv_transpose_output_size(7, 4, stride=2, padding=1) == 14


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 5, 8, 16, 32])
@pytest.mark.parametrize("n", [1, 2, 7])
def test_upsample_geometry_multiplies_the_size_exactly(scale, n):
    k, s, d, p = upsample_geometry(scale)
    assert conv_transpose_output_size(n, k, s, p, 0, d) == scale * n
    layer = nn.ConvTranspose2d(1, 1, k, s, p)
    assert layer(torch.zeros(1, 1, n, n)).shape[-1] == scale * n


def test_upsample_geometry_is_fcns():
    assert upsample_geometry(2) == (4, 2, 1, 1)
    assert upsample_geometry(32) == (64, 32, 1, 16)  # FCN-32s: 64x64 kernel, stride 32


@pytest.mark.parametrize(
    ("kernel", "stride", "expected"),
    [(3, 2, [2, 1]), (4, 2, [2, 2]), (5, 3, [2, 2, 1]), (2, 2, [1, 1]), (1, 2, [1, 0])],
)
def test_transposed_overlap_counts_taps_per_phase(kernel, stride, expected):
    assert transposed_overlap(kernel, stride) == expected


@pytest.mark.parametrize(("kernel", "stride"), [(3, 2), (4, 2), (5, 3), (6, 3)])
def test_transposed_overlap_is_the_checkerboard_of_an_all_ones_deconvolution(kernel, stride):
    """Odena et al. 2016: a constant input through a constant kernel shows the overlap."""
    layer = nn.ConvTranspose2d(1, 1, (1, kernel), (1, stride), bias=False)
    nn.init.ones_(layer.weight)
    out = layer(torch.ones(1, 1, 1, 12))[0, 0, 0]
    counts = transposed_overlap(kernel, stride)
    for j in range(kernel, 11 * stride):  # away from the borders, output j gets counts[j mod S]
        assert out[j] == counts[j % stride]
    assert (len(set(counts)) == 1) == (kernel % stride == 0)


@pytest.mark.parametrize(
    ("n", "target", "kernel", "stride", "padding", "expected"),
    [(4, 8, 3, 2, 1, 1), (4, 7, 3, 2, 1, 0), (5, 10, 4, 2, 1, 0)],
)
def test_output_padding_that_reaches_a_target(n, target, kernel, stride, padding, expected):
    op = conv_transpose_output_padding(n, target, kernel, stride, padding)
    assert op == expected
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding=op)
    assert layer(torch.zeros(1, 1, n, n)).shape[-1] == target


def test_an_impossible_output_size_is_a_geometry_error():
    with pytest.raises(GeometryError, match=r"7\.\.8, never 9"):
        conv_transpose_output_padding(4, 9, 3, stride=2, padding=1)
    with pytest.raises(GeometryError, match="output_padding must be in"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)
