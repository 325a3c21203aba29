"""Pooling layers (cnnlab.nn.pool) and normalization factory (cnnlab.nn.norm)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import UnknownNameError
from cnnlab.nn.norm import get_norm
from cnnlab.nn.pool import (
    FractionalMaxPool2d,
    GlobalAvgPool2d,
    SpatialPyramidPool,
    Subsample2d,
    get_pool,
)


def test_get_pool_builds_max_and_average_pooling_with_stride_defaulting_to_kernel():
    assert isinstance(get_pool("max", 3), nn.MaxPool2d) and get_pool("max", 3).stride == 3
    assert isinstance(get_pool("avg", 2, 1), nn.AvgPool2d)
    with pytest.raises(UnknownNameError, match="avg, max"):
        get_pool("min")


def test_subsample_has_a_coefficient_and_a_bias_per_map():
    assert sum(p.numel() for p in Subsample2d(6).parameters()) == 12
    assert sum(p.numel() for p in Subsample2d(16).parameters()) == 32


def test_subsample_is_coefficient_times_window_mean_plus_bias():
    layer = Subsample2d(2)
    x = torch.randn(3, 2, 6, 6)
    torch.testing.assert_close(layer(x), F.avg_pool2d(x, 2))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([2.0, -1.0]))
        layer.bias.copy_(torch.tensor([0.5, 1.0]))
    expected = F.avg_pool2d(x, 2) * torch.tensor([2.0, -1.0]).view(1, 2, 1, 1)
    expected = expected + torch.tensor([0.5, 1.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(layer(x), expected)


def test_subsample_gradients_equal_those_of_the_pooling_formula():
    x = torch.randn(4, 3, 8, 8, dtype=torch.double, requires_grad=True)
    layer = Subsample2d(3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -2.0, 1.5]))
        layer.bias.copy_(torch.tensor([0.1, 0.0, -0.3]))
    grad = torch.randn(4, 3, 4, 4, dtype=torch.double)
    got = torch.autograd.grad(layer(x), (x, layer.weight, layer.bias), grad)
    w, b = layer.weight, layer.bias
    formula = F.avg_pool2d(x, 2) * w.view(1, 3, 1, 1) + b.view(1, 3, 1, 1)
    expected = torch.autograd.grad(formula, (x, w, b), grad)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)


def test_global_average_pooling_averages_each_map():
    x = torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(GlobalAvgPool2d()(x), x.mean(dim=(2, 3)))
    assert GlobalAvgPool2d(flatten=False)(x).shape == (2, 3, 1, 1)


def test_spatial_pyramid_pooling_gives_a_fixed_length_for_any_size():
    spp = SpatialPyramidPool((1, 2, 4))
    for size in (8, 13, 20):
        x = torch.randn(2, 3, size, size + 1)
        out = spp(x)
        assert out.shape == (2, spp.output_features(3)) == (2, 3 * 21)
        torch.testing.assert_close(out[:, :3], x.amax(dim=(2, 3)))


def test_fractional_max_pooling_repeats_with_the_same_seed():
    x = torch.randn(2, 3, 16, 16)
    a, b = FractionalMaxPool2d(seed=7)(x), FractionalMaxPool2d(seed=7)(x)
    torch.testing.assert_close(a, b)
    assert a.shape == (2, 3, 11, 11)  # floor(16 / sqrt(2))
    different = [FractionalMaxPool2d(seed=s)(x) for s in range(1, 5)]
    assert any(not torch.equal(a, d) for d in different)


@pytest.mark.parametrize(
    ("name", "kind", "groups"),
    [("batch", nn.BatchNorm2d, None), ("group", nn.GroupNorm, 32), ("layer", nn.GroupNorm, 1)],
)
def test_get_norm_builds_the_named_normalization(name, kind, groups):
    layer = get_norm(name, 64)
    assert isinstance(layer, kind)
    if groups is not None:
        assert layer.num_groups == groups
