"""Network in Network (Lin, Chen & Yan 2014), cnnlab.models.nin."""

import pytest
import torch
from torch import nn

import cnnlab.models.nin  # noqa: F401  (registers the builder)
from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import count_parameters, create_model, layer_table
from cnnlab.models.nin import MLPConv
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)

# Parameters of the blocks of the CIFAR-10 model (widths of the authors' released model).
BLOCKS = {
    "mlpconv1": (5 * 5 * 3 * 192 + 192) + (192 * 160 + 160) + (160 * 96 + 96),
    "mlpconv2": (5 * 5 * 96 * 192 + 192) + 2 * (192 * 192 + 192),
    "mlpconv3": (3 * 3 * 192 * 192 + 192) + (192 * 192 + 192),
}


def test_blocks_have_the_parameters_of_the_cifar10_model():
    model = create_model("nin", num_classes=10, in_chans=3)
    for name, expected in BLOCKS.items():
        assert count_parameters(model.features.get_submodule(name)) == expected, name
    assert count_parameters(model.head) == 192 * 10 + 10
    assert count_parameters(model) == sum(BLOCKS.values()) + 1930 == 966_986


def test_mlpconv_is_a_convolution_followed_by_1x1_convolutions_with_relus():
    block = MLPConv(3, (192, 160, 96), kernel=5)
    assert [n for n, _ in block.named_children()] == ["conv", "cccp1", "cccp2"]
    assert [b.conv.kernel_size for b in block] == [(5, 5), (1, 1), (1, 1)]
    assert all(isinstance(b.act, nn.ReLU) for b in block)


def test_no_fully_connected_layer_and_global_average_pooling_gives_the_scores():
    model = create_model("nin", num_classes=10, in_chans=3).eval()
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    rows = {r.name: r.output_shape for r in layer_table(model, (3, 32, 32))}
    assert rows["features.pool1"] == (96, 16, 16) and rows["features.pool2"] == (192, 8, 8)
    assert rows["head.classes.conv"] == (10, 8, 8) and rows["head.gap"] == (10,)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        class_maps = model.head.classes(model.features(x))
        torch.testing.assert_close(model(x), class_maps.mean(dim=(2, 3)))


def test_forward_and_backward_on_cifar_images():
    torch.manual_seed(0)
    model = create_model("nin", num_classes=10, in_chans=3)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([4, 2])).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_other_classes_and_channels_change_only_the_first_and_last_layers():
    model = create_model("nin", num_classes=100, in_chans=1)
    assert model.features.mlpconv1.conv.conv.in_channels == 1
    assert model.head.classes.conv.out_channels == 100
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 100)


def test_fused_batch_norm_gives_the_same_outputs():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("nin", in_chans=3, bn=True))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_too_small_inputs_name_the_minimum_size():
    assert create_model("nin", in_chans=3, input_size=6)(torch.rand(1, 3, 6, 6)).shape == (1, 10)
    with pytest.raises(GeometryError, match="at least 6x6"):
        create_model("nin", in_chans=3, input_size=4)
    with pytest.raises(GeometryError, match="at least 6x6"):
        create_model("nin", in_chans=3)(torch.rand(1, 3, 5, 5))


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="num_classes"):
        create_model("nin", num_classes=0)
    with pytest.raises(ConfigError, match="Bad options"):
        create_model("nin", width=2)
