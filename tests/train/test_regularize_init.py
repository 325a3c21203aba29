"""Weight penalties, constraints and initialization schemes."""

import math

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.train.init import initialize
from cnnlab.train.regularize import apply_max_norm, l1_penalty


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8, 4))


def test_l1_penalty_sums_conv_and_linear_weights_only():
    net = _net()
    expected = net[0].weight.abs().sum() + net[3].weight.abs().sum()
    torch.testing.assert_close(l1_penalty(net), expected)


def test_max_norm_caps_each_units_weight_vector_and_leaves_small_ones():
    net = _net()
    with torch.no_grad():
        net[3].weight.mul_(torch.tensor([100.0, 1.0, 100.0, 1e-3])[:, None])
    small_row = net[3].weight[3].clone()
    apply_max_norm(net, 0.5)
    norms = net[3].weight.norm(dim=1)
    assert norms.max() <= 0.5 + 1e-6
    assert torch.equal(net[3].weight[3], small_row)
    assert net[0].weight.flatten(1).norm(dim=1).max() <= 0.5 + 1e-6


def _fans(weight):
    receptive = weight[0, 0].numel() if weight.ndim > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@pytest.mark.parametrize(
    ("scheme", "variance"),
    [
        ("normal", lambda fi, fo: 1e-4),
        ("xavier_normal", lambda fi, fo: 2 / (fi + fo)),
        ("xavier_uniform", lambda fi, fo: 2 / (fi + fo)),
        ("kaiming_normal", lambda fi, fo: 2 / fi),
        ("kaiming_uniform", lambda fi, fo: 2 / fi),
    ],
)
def test_initializations_have_their_papers_variance(scheme, variance):
    torch.manual_seed(0)
    layer = nn.Linear(400, 300)
    initialize(layer, scheme)
    fan_in, fan_out = _fans(layer.weight)
    assert layer.weight.var().item() == pytest.approx(variance(fan_in, fan_out), rel=0.05)
    assert torch.all(layer.bias == 0)


def test_orthogonal_initialization_gives_orthonormal_rows():
    layer = initialize(nn.Linear(64, 32), "orthogonal")
    torch.testing.assert_close(layer.weight @ layer.weight.T, torch.eye(32), atol=1e-5, rtol=0)


def test_lsuv_gives_unit_output_variance_in_every_layer():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(50, 100), nn.Tanh(), nn.Linear(100, 100), nn.Tanh())
    data = torch.randn(256, 50) * 5
    initialize(net, "lsuv", data=data, tol=0.01)
    first = net[0](data)
    second = net[2](net[1](first))
    assert first.var().item() == pytest.approx(1.0, abs=0.03)
    assert second.var().item() == pytest.approx(1.0, abs=0.03)


def test_lsuv_measures_the_layer_output_before_an_in_place_relu():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(50, 100), nn.ReLU(inplace=True))
    data = torch.randn(256, 50) * 5
    initialize(net, "lsuv", data=data, tol=0.01)
    assert net[0](data).var().item() == pytest.approx(1.0, abs=0.03)


def test_lsuv_without_data_and_unknown_schemes_are_refused():
    with pytest.raises(ConfigError, match="batch of data"):
        initialize(nn.Linear(2, 2), "lsuv")
    with pytest.raises(UnknownNameError, match="xavier_normal"):
        initialize(nn.Linear(2, 2), "glorot")


def test_small_normal_init_collapses_deep_tanh_activations_and_xavier_does_not():
    """The lecture's experiment: 10 layers of 500 tanh units, std 0.01 vs Xavier."""
    torch.manual_seed(0)
    layers = [m for _ in range(10) for m in (nn.Linear(500, 500), nn.Tanh())]
    x = torch.randn(1000, 500)
    stds = {}
    for scheme in ("normal", "xavier_normal"):
        net = initialize(nn.Sequential(*layers), scheme)
        stds[scheme] = net(x).std().item()
    assert stds["normal"] < 1e-6
    assert stds["xavier_normal"] > 0.05
    assert math.isfinite(stds["xavier_normal"])
