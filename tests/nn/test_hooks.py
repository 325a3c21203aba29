"""Hooks that are always removed (cnnlab.nn.hooks): captured values, gradients, clean-up."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from cnnlab.errors import UnknownNameError
from cnnlab.nn.hooks import (
    capture_activations,
    capture_gradients,
    capture_inputs,
    get_layer,
    hooks,
    trace_outputs,
)


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    layers = OrderedDict(
        conv=nn.Conv2d(2, 3, 3, padding=1),
        relu=nn.ReLU(inplace=True),  # overwrites conv's output: captures must not see that
        pool=nn.MaxPool2d(2),
        flat=nn.Flatten(),
        fc=nn.Linear(3 * 4 * 4, 5),
    )
    return nn.Sequential(layers).double()


def _hooks_left(model: nn.Module) -> list[str]:
    return [
        name
        for name, m in model.named_modules()
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
    ]


def _manual_forward(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's output, computed one layer after the other (out of place)."""
    outputs, value = {}, x
    for name, layer in model.named_children():
        value = torch.relu(value) if name == "relu" else layer(value)
        outputs[name] = value
    return outputs


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(4, 2, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_captured_activations_equal_a_manual_forward_pass(x):
    model = _model()
    expected = _manual_forward(model, x)
    names = ["conv", "relu", "pool", "fc"]
    with capture_activations(model, names) as store:
        output = model(x)
    assert list(store) == names
    for name in names:
        torch.testing.assert_close(store[name], expected[name])
    torch.testing.assert_close(output, expected["fc"])


def test_captured_activations_stay_in_the_graph(x):
    model = _model()
    with capture_activations(model, ["pool"]) as store:
        score = model(x).sum()
    (grad,) = torch.autograd.grad(score, store["pool"])
    expected = model.fc.weight.sum(0).view(3, 4, 4).expand_as(grad)
    torch.testing.assert_close(grad, expected)


def test_layers_may_be_given_as_modules(x):
    model = _model()
    with capture_activations(model, [model.conv]) as store:
        model(x)
    torch.testing.assert_close(store[model.conv], _manual_forward(model, x)["conv"])


def test_captured_inputs_are_what_the_layer_received(x):
    model = _model()
    with capture_inputs(model, ["fc"]) as store:
        model(x)
    torch.testing.assert_close(store["fc"], _manual_forward(model, x)["flat"])


def test_captured_gradients_equal_autograd(x):
    model = _model()
    with capture_gradients(model, ["conv", "pool", "fc"]) as store:
        output = model(x)
        loss = output.square().sum()
        loss.backward()
    expected = _manual_forward(model, x)
    wanted = [expected[name] for name in ("conv", "pool", "fc")]
    grads = torch.autograd.grad(expected["fc"].square().sum(), wanted)
    for name, grad in zip(("conv", "pool", "fc"), grads, strict=True):
        torch.testing.assert_close(store[name], grad)


def test_gradient_hooks_number_the_calls_of_a_module():
    layer = nn.Linear(3, 3).double()
    model = nn.Sequential(OrderedDict(a=layer, b=nn.Tanh(), c=layer))  # layer runs twice
    seen: dict[int, torch.Tensor] = {}
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    with hooks(model, gradient={"a": lambda module, call, grad: seen.update({call: grad})}):
        model(x).sum().backward()
    first = layer(x)
    second = layer(torch.tanh(first))
    g2 = torch.ones_like(second)
    g1 = torch.autograd.grad(second, first, g2)[0]
    assert sorted(seen) == [1, 2]
    torch.testing.assert_close(seen[2], g2)
    torch.testing.assert_close(seen[1], g1)


def test_hooks_are_removed_after_the_block(x):
    model = _model()
    calls = []
    with hooks(
        model,
        {"conv": lambda *_: calls.append("forward")},
        pre={"": lambda *_: calls.append("pre")},
        gradient={"fc": lambda *_: calls.append("gradient")},
    ):
        model(x).sum().backward()
    assert calls == ["pre", "forward", "gradient"]
    assert _hooks_left(model) == []
    model(x).sum().backward()
    assert calls == ["pre", "forward", "gradient"]


def test_hooks_are_removed_when_the_block_raises(x):
    model = _model()
    with pytest.raises(RuntimeError), capture_activations(model, ["conv", "fc"]):
        model(torch.randn(1, 5, 8, 8, dtype=torch.float64))  # wrong channel count
    assert _hooks_left(model) == []
    with pytest.raises(ValueError), capture_gradients(model, ["conv"]), capture_inputs(model, [""]):
        raise ValueError
    assert _hooks_left(model) == []


def test_gradient_hooks_on_outputs_are_removed_with_the_block(x):
    model = _model()
    with capture_gradients(model, ["fc"]) as store:
        loss = model(x).sum()
    loss.backward()  # after the block: nothing is recorded any more
    assert store == {}


def test_an_unknown_layer_registers_nothing(x):
    model = _model()
    with pytest.raises(UnknownNameError, match="conv"), capture_activations(model, ["fc", "nope"]):
        pass
    assert _hooks_left(model) == []


def test_get_layer_names_the_valid_layers():
    model = _model()
    assert get_layer(model, "fc") is model.fc
    with pytest.raises(UnknownNameError, match="pool"):
        get_layer(model, "")


def test_trace_outputs_lists_calls_in_the_order_they_finish(x):
    model = _model()
    calls = trace_outputs(model, x, lambda module, output: output.dim() == 4)
    assert [name for name, _ in calls] == ["conv", "relu", "pool"]
    assert _hooks_left(model) == []
