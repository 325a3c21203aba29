"""Residual units, shortcuts and highway layers (cnnlab.nn.residual)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.attention import CBAM, SqueezeExcite
from cnnlab.nn.drop import DropPath
from cnnlab.nn.residual import (
    BasicBlock,
    BlockOptions,
    Bottleneck,
    Highway,
    PreActBasicBlock,
    PreActBottleneck,
    ZeroPadShortcut,
)
from tests.batchnorm_helpers import randomize_batch_norm


def test_basic_block_is_relu_of_branch_plus_identity():
    block = randomize_batch_norm(BasicBlock(8, 8))
    x = torch.randn(2, 8, 6, 6)
    conv1, conv2 = block.branch.conv1, block.branch.conv2
    expected = torch.relu(conv2.bn(conv2.conv(conv1(x))) + x)
    torch.testing.assert_close(block(x), expected)
    assert isinstance(block.shortcut, nn.Identity)


def test_bottleneck_expands_four_times_and_subsamples_in_its_3x3_convolution():
    block = Bottleneck(64, 64, stride=2)
    assert block.out_channels == 256
    assert block.branch.conv1.conv.stride == (1, 1)
    assert block.branch.conv2.conv.stride == (2, 2)
    assert block(torch.randn(1, 64, 8, 8)).shape == (1, 256, 4, 4)


def test_stride_in_1x1_subsamples_in_the_first_convolution_as_the_paper():
    block = Bottleneck(64, 64, stride=2, options=BlockOptions(stride_in_1x1=True))
    assert block.branch.conv1.conv.stride == (2, 2)
    assert block.branch.conv2.conv.stride == (1, 1)


@pytest.mark.parametrize(
    ("groups", "width_per_group", "width"),
    [(1, 64, 64), (32, 4, 128), (32, 8, 256), (64, 4, 256), (1, 128, 128)],
)
def test_bottleneck_width_is_planes_times_d_over_64_times_cardinality(
    groups, width_per_group, width
):
    options = BlockOptions(groups=groups, width_per_group=width_per_group)
    conv = Bottleneck(256, 64, options=options).branch.conv2.conv
    assert (conv.in_channels, conv.out_channels, conv.groups) == (width, width, groups)


def test_conv1_ratio_halves_the_first_1x1_as_in_senet154():
    options = BlockOptions(groups=64, width_per_group=4, conv1_ratio=0.5)
    block = Bottleneck(128, 64, options=options)
    assert block.branch.conv1.conv.out_channels == 128
    assert block.branch.conv2.conv.out_channels == 256


def test_option_a_shortcut_subsamples_and_pads_zero_channels():
    shortcut = ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = shortcut(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert (y[:, 16:] == 0).all()
    assert sum(p.numel() for p in shortcut.parameters()) == 0


def test_option_a_block_has_the_parameters_of_its_plain_block():
    def count(shortcut):
        block = BasicBlock(16, 32, 2, BlockOptions(shortcut=shortcut))
        return sum(p.numel() for p in block.parameters())

    assert count("A") == count("none")
    assert count("B") == count("none") + 16 * 32 + 2 * 32


@pytest.mark.parametrize(
    ("shortcut", "in_ch", "stride", "kind"),
    [
        ("B", 16, 1, nn.Identity),
        ("B", 8, 1, nn.Sequential),
        ("B", 16, 2, nn.Sequential),
        ("C", 16, 1, nn.Sequential),
        ("A", 8, 2, ZeroPadShortcut),
        ("A", 16, 1, nn.Identity),
    ],
)
def test_shortcut_options_of_the_paper(shortcut, in_ch, stride, kind):
    block = BasicBlock(in_ch, 16, stride, BlockOptions(shortcut=shortcut))
    assert isinstance(block.shortcut, kind)
    if kind is nn.Sequential:  # a projection: 1x1 conv + BN, fused by fuse_conv_bn
        assert block.shortcut.conv.kernel_size == (1, 1)
        assert isinstance(block.shortcut.bn, nn.BatchNorm2d)


def test_plain_block_has_no_shortcut():
    block = randomize_batch_norm(BasicBlock(8, 8, options=BlockOptions(shortcut="none")))
    x = torch.randn(2, 8, 5, 5)
    assert block.shortcut is None
    torch.testing.assert_close(block(x), torch.relu(block.branch(x)))


def test_preact_unit_adds_the_untouched_input_and_has_no_activation_after_the_sum():
    block = randomize_batch_norm(PreActBasicBlock(8, 8))
    x = torch.randn(2, 8, 5, 5)
    y = block(x)
    torch.testing.assert_close(y - x, block.branch(block.preact(x)), rtol=1e-5, atol=1e-5)
    assert (y < 0).any()


def test_preact_projection_sees_the_preactivated_input():
    block = randomize_batch_norm(PreActBottleneck(16, 16, stride=2))
    x = torch.randn(2, 16, 8, 8)
    a = block.preact(x)
    assert isinstance(block.shortcut, nn.Conv2d) and block.shortcut.bias is None
    torch.testing.assert_close(block(x), block.branch(a) + block.shortcut(a))


@pytest.mark.parametrize(("attention", "kind"), [("se", SqueezeExcite), ("cbam", CBAM)])
def test_attention_rescales_the_branch_before_the_addition(attention, kind):
    block = Bottleneck(64, 16, options=BlockOptions(attention=attention))
    assert isinstance(block.branch[-1], kind)
    assert block(torch.randn(2, 64, 4, 4)).shape == (2, 64, 4, 4)


def test_squeeze_excite_uses_the_reduction_ratio():
    se = Bottleneck(256, 64, options=BlockOptions(attention="se", reduction=16)).branch.attention
    assert (se.fc1.in_channels, se.fc1.out_channels) == (256, 16)


def test_dropout_sits_before_the_last_convolution():
    basic = BasicBlock(8, 8, options=BlockOptions(dropout=0.3))
    assert list(basic.branch._modules) == ["conv1", "drop", "conv2"]
    preact = PreActBasicBlock(8, 8, options=BlockOptions(dropout=0.3))
    assert list(preact.branch.conv2._modules) == ["bn", "act", "drop", "conv"]


def test_drop_path_drops_whole_branches_in_training_only():
    torch.manual_seed(0)
    block = PreActBasicBlock(4, 4, drop_path=0.5)
    assert isinstance(block.branch[-1], DropPath)
    x = torch.randn(64, 4, 3, 3)
    dropped = (block.train()(x) == x).flatten(1).all(dim=1)
    assert 0 < int(dropped.sum()) < 64
    torch.testing.assert_close(
        block.eval()(x), x + block.branch[:-1](block.preact(x)), rtol=1e-5, atol=1e-5
    )


def test_stochastic_depth_needs_a_shortcut():
    with pytest.raises(ConfigError, match="shortcut"):
        BasicBlock(8, 8, options=BlockOptions(shortcut="none"), drop_path=0.1)


def test_basic_blocks_cannot_be_grouped_or_widened():
    with pytest.raises(ConfigError, match="groups"):
        BasicBlock(64, 64, options=BlockOptions(groups=32, width_per_group=4))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shortcut": "D"},
        {"attention": "eca"},
        {"groups": 0},
        {"dropout": 1.0},
        {"projection_kernel": 2},
        {"conv1_ratio": 0},
    ],
)
def test_bad_block_options_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        BlockOptions(**kwargs)


def test_zero_padding_shortcut_cannot_remove_channels():
    with pytest.raises(ConfigError, match="shortcut='B'"):
        ZeroPadShortcut(32, 16)


def test_highway_gate_starts_biased_to_carry():
    layer = Highway(nn.Linear(5, 5), nn.Linear(5, 5), gate_bias=-2.0)
    assert (layer.gate.bias == -2.0).all()


@pytest.mark.parametrize(("bias", "expect_carry"), [(-100.0, True), (100.0, False)])
def test_highway_carries_when_the_gate_is_closed_and_transforms_when_open(bias, expect_carry):
    layer = Highway(nn.Linear(5, 5), nn.Linear(5, 5), gate_bias=bias)
    nn.init.zeros_(layer.gate.weight)
    x = torch.randn(3, 5)
    expected = x if expect_carry else layer.transform(x)
    torch.testing.assert_close(layer(x), expected)


def test_highway_is_h_times_t_plus_x_times_one_minus_t():
    torch.manual_seed(0)
    layer = Highway(nn.Linear(5, 5), nn.Linear(5, 5))
    x = torch.randn(3, 5)
    t = torch.sigmoid(layer.gate(x))
    torch.testing.assert_close(layer(x), layer.transform(x) * t + x * (1 - t))


def test_highway_gate_needs_a_bias():
    with pytest.raises(ConfigError, match="bias"):
        Highway(nn.Linear(5, 5), nn.Linear(5, 5, bias=False))
