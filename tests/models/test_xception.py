"""Xception (cnnlab.models.xception), Chollet (2017)."""

import pytest
import torch
from torch import nn

import cnnlab.models.xception  # noqa: F401  (registers the builder)
from cnnlab.errors import GeometryError
from cnnlab.models import count_parameters, create_model
from cnnlab.nn.inception import XceptionBlock
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import meta_model


def stage_shapes(side: int, **kwargs) -> dict[str, tuple[int, ...]]:
    model = meta_model("xception", **kwargs).eval()
    shapes = {}
    with torch.device("meta"):
        x = torch.empty(1, 3, side, side)
        for name, layer in model.features.named_children():
            x = layer(x)
            shapes[name] = tuple(x.shape[1:])
    return shapes


def test_parameter_count_is_that_of_table_3():
    assert count_parameters(meta_model("xception")) == 22_855_952


def test_flows_have_the_grid_sizes_of_figure_5():
    shapes = stage_shapes(299)
    assert shapes["conv2"] == (64, 147, 147)
    assert shapes["block3"] == (728, 19, 19)
    assert shapes["block11"] == (728, 19, 19)
    assert shapes["block12"] == (1024, 10, 10)
    assert shapes["conv4"] == (2048, 10, 10)


def test_middle_flow_has_eight_identity_shortcut_modules_of_three_separable_convs():
    model = meta_model("xception")
    middle = [getattr(model.features, f"block{i}") for i in range(4, 12)]
    assert all(isinstance(b.shortcut, nn.Identity) for b in middle)
    assert all(len(b.main) == 3 for b in middle)
    assert not hasattr(model.features.block1.main.sep1, "act")
    assert isinstance(model.features.block2.main.sep1.act, nn.ReLU)


def test_xception_block_adds_main_path_and_shortcut():
    torch.manual_seed(0)
    block = XceptionBlock(8, (16, 16), stride=2).eval()
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        out = block(x)
        torch.testing.assert_close(out, block.main(x) + block.shortcut(x))
    assert out.shape == (2, 16, 5, 5)


def test_cifar_form_forward_and_backward_at_32x32():
    torch.manual_seed(0)
    model = create_model("xception", num_classes=10, in_chans=3, input_size=32)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([3, 4])).backward()
    assert all(p.grad is not None for p in model.parameters())
    shapes = stage_shapes(32, stem="cifar")
    assert shapes["block3"][1:] == (8, 8) and shapes["conv4"][1:] == (4, 4)


def test_fuse_conv_bn_keeps_the_outputs():
    torch.manual_seed(0)
    model = create_model("xception", num_classes=10, in_chans=3, stem="imagenet")
    fused = assert_fusion_keeps_outputs(randomize_batch_norm(model), torch.rand(2, 3, 48, 48))
    assert batch_norm_count(fused) == 0


def test_inputs_below_7_pixels_raise_geometry_error():
    with pytest.raises(GeometryError, match="7x7"):
        create_model("xception", in_chans=3, stem="imagenet", input_size=6)
    model = meta_model("xception", stem="imagenet").eval()
    with torch.device("meta"):
        with pytest.raises(GeometryError, match="7x7"):
            model(torch.empty(1, 3, 6, 6))
        assert model(torch.empty(1, 3, 7, 7)).shape == (1, 1000)


@pytest.mark.slow
def test_forward_and_backward_at_native_resolution():
    model = create_model("xception", num_classes=1000, in_chans=3)
    logits = model(torch.rand(2, 3, 299, 299))
    assert logits.shape == (2, 1000)
    logits.sum().backward()
