"""Activation registry (cnnlab.nn.act)."""

import math

import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.nn.act import Maxout, get_act, list_acts

X = torch.linspace(-5, 5, 101, dtype=torch.double)

REFERENCES = {
    "identity": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
    "scaled_tanh": lambda x: 1.7159 * torch.tanh(2 * x / 3),
    "relu": lambda x: x.clamp(min=0),
    "relu6": lambda x: x.clamp(0, 6),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.01 * x),
    "prelu": lambda x: torch.where(x > 0, x, 0.25 * x),
    "elu": lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
    "selu": lambda x: (
        1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * torch.expm1(x))
    ),
    "gelu": lambda x: x * 0.5 * (1 + torch.erf(x / math.sqrt(2))),
    "silu": lambda x: x * torch.sigmoid(x),
    "swish": lambda x: x * torch.sigmoid(x),
    "hard_swish": lambda x: x * (x + 3).clamp(0, 6) / 6,
    "hard_sigmoid": lambda x: (x + 3).clamp(0, 6) / 6,
    "mish": lambda x: x * torch.tanh(F.softplus(x)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_its_formula(name):
    act = get_act(name).double()
    torch.testing.assert_close(act(X), REFERENCES[name](X))


def test_registry_lists_every_activation():
    assert set(list_acts()) == set(REFERENCES) | {"maxout"}


def test_scaled_tanh_maps_plus_minus_one_to_about_plus_minus_one():
    act = get_act("scaled_tanh")
    assert act.amplitude == 1.7159 and act.slope == pytest.approx(2 / 3)
    torch.testing.assert_close(
        act(torch.tensor([-1.0, 1.0])), torch.tensor([-1.0, 1.0]), atol=1e-4, rtol=0
    )


def test_keyword_options_reach_the_module():
    act = get_act("leaky_relu", negative_slope=0.2)
    assert act(torch.tensor([-1.0])).item() == pytest.approx(-0.2)


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="relu"):
        get_act("relu", slope=3)


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(UnknownNameError, match=r"Unknown activation 'rleu'.*mish, prelu, relu"):
        get_act("rleu")


def test_each_call_returns_a_new_module():
    assert get_act("prelu") is not get_act("prelu")


def test_maxout_takes_the_maximum_of_consecutive_channel_groups():
    x = torch.tensor([1.0, 5.0, -2.0, -3.0, 0.0, 4.0]).view(1, 6, 1, 1)
    out = get_act("maxout", pieces=3)(x)
    assert out.flatten().tolist() == [5.0, 4.0]


def test_maxout_needs_channels_divisible_by_pieces():
    with pytest.raises(ConfigError, match="divisible by 2"):
        Maxout(2)(torch.zeros(1, 3, 2, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["tanh", "scaled_tanh"])
def test_tanh_through_the_sigmoid_equals_torch_tanh_with_its_gradient(name, dtype):
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(4, 3, 7, 7, dtype=dtype, generator=generator) * 3).requires_grad_(True)
    act = get_act(name)
    amplitude, slope = (1.7159, 2 / 3) if name == "scaled_tanh" else (1.0, 1.0)
    y = act(x)
    reference = amplitude * torch.tanh(slope * x)
    tolerance = {"atol": 1e-6, "rtol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(y, reference, **tolerance)
    grad = torch.randn(y.shape, dtype=dtype, generator=generator)
    (got,) = torch.autograd.grad(y, x, grad)
    (expected,) = torch.autograd.grad(reference, x, grad)
    torch.testing.assert_close(got, expected, **tolerance)


def test_tanh_through_the_sigmoid_passes_gradcheck_and_refuses_double_backward():
    x = torch.randn(10, dtype=torch.double, requires_grad=True)
    act = get_act("scaled_tanh")
    assert torch.autograd.gradcheck(act, (x,))
    (grad,) = torch.autograd.grad(act(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad.sum().backward()
