"""Highway networks (cnnlab.models.highway), Srivastava, Greff & Schmidhuber (2015)."""

import pytest
import torch
from torch import nn

import cnnlab.models.highway  # noqa: F401  (registers the builders)
from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import count_parameters, create_model
from cnnlab.nn.residual import Highway
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)


def highway_layers(model: nn.Module) -> list[Highway]:
    return [m for m in model.modules() if isinstance(m, Highway)]


def test_highway_mlp_has_a_plain_layer_then_depth_minus_one_gated_layers():
    model = create_model("highway_mlp", depth=10)
    layers = highway_layers(model)
    assert len(layers) == 9
    # Each layer: H and T, both 50x50 + 50 (Sec. 4.1: about 5000 parameters per layer).
    assert {count_parameters(layer) for layer in layers} == {2 * (50 * 50 + 50)}
    assert count_parameters(model) == (784 * 50 + 50) + 9 * 5100 + (50 * 10 + 10)


def test_transform_gates_start_at_the_negative_bias():
    model = create_model("highway_mlp", depth=5, gate_bias=-3.0)
    assert all((layer.gate.bias == -3.0).all() for layer in highway_layers(model))


def test_closed_gates_carry_the_input_through_a_deep_network():
    model = create_model("highway_cnn", widths=(8,), depth=20, gate_bias=-30.0).eval()
    stage = model.features.stage1
    x = torch.rand(2, 8, 8, 8)
    torch.testing.assert_close(stage[1:](x), x)


def test_highway_mlp_forward_and_backward():
    torch.manual_seed(0)
    model = create_model("highway_mlp", depth=20)
    logits = model(torch.rand(2, 1, 28, 28))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_highway_mlp_names_the_input_size_it_was_built_for():
    model = create_model("highway_mlp")
    with pytest.raises(GeometryError, match="1x28x28"):
        model(torch.rand(2, 1, 32, 32))
    assert create_model("highway_mlp", input_size=32, in_chans=3)(torch.rand(1, 3, 32, 32)).shape


def test_highway_cnn_forward_and_backward_on_cifar_images():
    torch.manual_seed(0)
    model = create_model("highway_cnn", num_classes=10, in_chans=3, depth=2)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_highway_cnn_takes_odd_and_tiny_inputs():
    model = create_model("highway_cnn", in_chans=3, depth=1).eval()
    for side in (1, 7):
        assert model(torch.rand(1, 3, side, side)).shape == (1, 10)


def test_fuse_conv_bn_keeps_the_outputs_with_batch_norm():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("highway_cnn", in_chans=3, depth=2, norm="batch"))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 16, 16))
    assert batch_norm_count(fused) == 0


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("highway_mlp", {"depth": 0}),
        ("highway_cnn", {"widths": ()}),
        ("highway_cnn", {"depth": -1}),
    ],
)
def test_bad_sizes_are_config_errors(name, kwargs):
    with pytest.raises(ConfigError):
        create_model(name, **kwargs)
