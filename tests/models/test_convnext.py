"""ConvNeXt T/S/B/L/XL (cnnlab.models.convnext), Liu et al. (2022)."""

import itertools

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import convnext, create_model  # noqa: F401  (registers the family)
from cnnlab.models.convnext import ConvNeXt, ConvNeXtBlock, ConvNeXtConfig, LayerNorm2d
from cnnlab.nn.drop import DropPath
from cnnlab.nn.fuse import fuse_conv_bn
from tests.models.zoo_checks import (
    assert_same_logits_as_torchvision,
    meta_model,
    multiply_adds,
    parameter_count,
)

VARIANTS = ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "convnext_xlarge"]


def test_tiny_gives_the_same_logits_as_torchvision(tmp_path):
    assert_same_logits_as_torchvision("convnext_tiny", tmp_path, input_size=32)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["convnext_small", "convnext_base", "convnext_large"])
def test_larger_variants_give_the_same_logits_as_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


def test_xlarge_has_the_width_and_cost_of_the_paper():
    # Liu et al. 2022, Table 1: ConvNeXt-XL, C = 256, 350M params, 60.9G FLOPs at 224.
    model = meta_model("convnext_xlarge")
    assert model.features.stem.conv.out_channels == 256
    assert parameter_count(model) == pytest.approx(350e6, rel=0.01)
    assert multiply_adds(model, (3, 224, 224)) == pytest.approx(60.9e9, rel=0.01)


def small_convnext(**kwargs) -> ConvNeXt:
    """The ConvNeXt architecture with fewer, narrower blocks: cheap to run on the CPU."""
    return ConvNeXt(ConvNeXtConfig((1, 1, 2, 1), (8, 16, 32, 64), 0.1), **kwargs)


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_trains_on_32x32_images_with_a_cifar_stem(name):
    model = meta_model(name, num_classes=10, in_chans=3, input_size=32)
    assert model.features.stem.conv.stride == (2, 2)
    with torch.device("meta"):
        x = torch.empty(2, 3, 32, 32)
        assert model.features(x).shape[-2:] == (2, 2)
        logits = model(x)
        logits.sum().backward()
    assert logits.shape == (2, 10)
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_takes_224x224_images_with_the_patchify_stem(name):
    model = meta_model(name)
    assert model.features.stem.conv.stride == (4, 4)
    with torch.device("meta"):
        assert model.features(torch.empty(1, 3, 224, 224)).shape[-2:] == (7, 7)


def test_forward_and_backward_compute_finite_gradients():
    torch.manual_seed(0)
    model = small_convnext(num_classes=10, in_chans=1, stem="cifar")
    logits = model(torch.rand(2, 1, 32, 32))
    nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.slow
def test_native_resolution_forward():
    model = create_model("convnext_tiny", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_block_is_layer_scaled_and_starts_close_to_identity():
    block = ConvNeXtBlock(8, layer_scale=1e-6).eval()
    assert torch.all(block.layer_scale == 1e-6)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), x, atol=1e-4, rtol=0)


def test_stochastic_depth_rises_linearly_to_the_variant_rate():
    model = meta_model("convnext_tiny")
    rates = [m.drop_prob for m in model.modules() if isinstance(m, DropPath)]
    assert len(rates) == 18 and rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)
    assert all(b > a for a, b in itertools.pairwise(rates))
    custom = meta_model("convnext_tiny", drop_path=0.3)
    assert max(m.drop_prob for m in custom.modules() if isinstance(m, DropPath)) == 0.3


def test_layer_norm_2d_normalizes_over_channels_only():
    norm = LayerNorm2d(4, eps=1e-6)
    y = norm(torch.randn(2, 4, 3, 3) * 5 + 2)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(2, 3, 3), atol=1e-5, rtol=0)


def test_too_small_input_is_a_geometry_error_naming_the_minimum():
    with pytest.raises(GeometryError, match="at least 32x32"):
        meta_model("convnext_tiny", input_size=16, stem="imagenet")
    with pytest.raises(GeometryError, match="at least 16x16"):
        meta_model("convnext_tiny", input_size=8)
    model = small_convnext(stem="cifar")
    with pytest.raises(GeometryError, match="at least 16x16"):
        model(torch.rand(1, 3, 8, 8))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("convnext_tiny", in_chans=0)
    with pytest.raises(ConfigError, match="stem"):
        create_model("convnext_tiny", stem="patchify")


def test_fuse_conv_bn_leaves_a_network_without_batch_norm_unchanged():
    model = small_convnext(num_classes=10, stem="cifar").eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(model)(x), model(x), rtol=1e-5, atol=1e-6)
