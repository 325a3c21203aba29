"""Inception modules and their relatives (cnnlab.nn.inception)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.nn.inception import (
    BN_EPS,
    Conv,
    InceptionModule,
    Pool,
    Residual,
    ScaledResidual,
    SeparableConvBN,
    build_layer,
    conv_bn,
)
from tests.batchnorm_helpers import assert_fusion_keeps_outputs, randomize_batch_norm

GOOGLENET_3A = {  # Szegedy et al. 2015, Table 1, inception (3a)
    "branch1": [Conv(64)],
    "branch2": [Conv(96), Conv(128, 3)],
    "branch3": [Conv(16), Conv(32, 5)],
    "branch4": [Pool("max"), Conv(32)],
}


def test_module_concatenates_its_branches_in_order():
    torch.manual_seed(0)
    module = InceptionModule(192, GOOGLENET_3A).eval()
    x = torch.randn(2, 192, 7, 7)
    with torch.no_grad():
        out = module(x)
        expected = torch.cat(
            [module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)], dim=1
        )
    assert module.out_channels == 256 and out.shape == (2, 256, 7, 7)
    torch.testing.assert_close(out, expected)


def test_branch_layers_are_numbered_from_one_and_the_pool_is_named_pool():
    module = InceptionModule(192, GOOGLENET_3A)
    assert list(module.branch2._modules) == ["1", "2"]
    assert list(module.branch4._modules) == ["pool", "1"]
    assert module.branch3[1].conv.kernel_size == (5, 5)


def test_nested_mapping_splits_a_branch_into_parallel_convolutions():
    split = {"a": [Conv(6, (1, 3))], "b": [Conv(6, (3, 1))]}
    module = InceptionModule(4, {"branch": [Conv(8), split]})
    assert module.out_channels == 12
    assert module.branch._modules["2"].a._modules["1"].conv.kernel_size == (1, 3)
    assert module(torch.randn(1, 4, 5, 5)).shape == (1, 12, 5, 5)


def test_pool_only_branch_passes_the_channels_through():
    module = InceptionModule(8, {"conv": [Conv(4, 3, 2, 0)], "pool": [Pool("max", 3, 2, 0)]})
    assert module.out_channels == 12
    assert module(torch.randn(1, 8, 9, 9)).shape == (1, 12, 4, 4)


def test_average_pool_can_ignore_the_padding_like_tensorflow():
    x = torch.ones(1, 1, 4, 4)
    tf_style = Pool("avg", count_include_pad=False).build()
    counted = Pool("avg").build()
    assert torch.equal(tf_style(x), x)
    assert counted(x)[0, 0, 0, 0] == pytest.approx(4 / 9)


def test_conv_bn_uses_tensorflow_epsilon_and_no_bias():
    layer = conv_bn(3, 8, 3)
    assert layer.bn.eps == BN_EPS and layer.conv.bias is None
    plain = conv_bn(3, 8, 3, bn=False)
    assert not hasattr(plain, "bn") and plain.conv.bias is not None


def test_scaled_residual_adds_the_scaled_projection_of_the_branches():
    torch.manual_seed(0)
    block = ScaledResidual(8, {"b": [Conv(4)]}, scale=0.2).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        expected = torch.relu(x + 0.2 * block.proj(block.branches(x)))
        torch.testing.assert_close(block(x), expected)
    linear = ScaledResidual(8, {"b": [Conv(4)]}, scale=1.0, act=False)
    assert isinstance(linear.act, nn.Identity)


def test_build_layer_builds_every_kind_of_description():
    module, channels = build_layer(8, Residual({"b": [Conv(4)]}, scale=0.1))
    assert isinstance(module, ScaledResidual) and channels == 8
    module, channels = build_layer(8, Pool("max", 3, 2, 0))
    assert isinstance(module, nn.MaxPool2d) and channels == 8


def test_bad_descriptions_raise_config_errors():
    with pytest.raises(ConfigError, match="at least one branch"):
        InceptionModule(4, {})
    with pytest.raises(ConfigError, match="at most one pooling"):
        InceptionModule(4, {"b": [Pool("max"), Pool("avg")]})
    with pytest.raises(ConfigError, match="scale"):
        ScaledResidual(4, {"b": [Conv(4)]}, scale=0.0)
    with pytest.raises(UnknownNameError):
        Pool("median").build()


def test_separable_conv_bn_fuses_pointwise_and_batch_norm():
    torch.manual_seed(0)
    layer = randomize_batch_norm(SeparableConvBN(4, 6, act="before"))
    assert list(layer._modules) == ["act", "depthwise", "pointwise", "bn"]
    assert_fusion_keeps_outputs(layer, torch.randn(2, 4, 6, 6), atol=1e-5)
    assert list(SeparableConvBN(4, 6, act="after")._modules)[-1] == "act"
