"""Convolution layers (cnnlab.nn.conv)."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, GeometryError, UnknownNameError
from cnnlab.nn.conv import (
    ConvNormAct,
    FullConv2d,
    PartialConv2d,
    SeparableConv2d,
    conv2d,
    conv_transpose2d,
)
from cnnlab.nn.geometry import conv_transpose_output_size

TORCH_PAD_MODE = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


@pytest.mark.parametrize("mode", sorted(TORCH_PAD_MODE))
def test_padding_mode_equals_explicit_pad_then_convolution(mode):
    torch.manual_seed(0)
    conv = conv2d(2, 3, 3, padding=2, padding_mode=mode)
    x = torch.randn(2, 2, 7, 6)
    expected = F.conv2d(F.pad(x, (2, 2, 2, 2), mode=TORCH_PAD_MODE[mode]), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_same_padding_keeps_size_at_stride_1_and_gives_ceil_at_stride_2():
    x = torch.zeros(1, 1, 9, 9)
    assert conv2d(1, 1, 5, padding="same")(x).shape[-1] == 9
    assert conv2d(1, 1, 3, stride=2, padding="same")(x).shape[-1] == 5
    assert conv2d(1, 1, 4, padding="same")(x).shape[-1] == 9


def test_same_padding_of_even_kernel_at_stride_2_is_a_geometry_error():
    with pytest.raises(GeometryError, match="asymmetric"):
        conv2d(1, 1, 4, stride=2, padding="same")


def test_valid_padding_is_no_padding():
    assert conv2d(1, 1, 3, padding="valid").padding == (0, 0)


def test_groups_must_divide_both_channel_counts():
    with pytest.raises(ConfigError, match="groups=4 must divide both in_ch=6"):
        conv2d(6, 8, 3, groups=4)


def test_unknown_padding_mode_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="circular, reflect, replicate, zeros"):
        conv2d(1, 1, 3, padding_mode="mirror")


def test_conv_norm_act_children_and_bias():
    block = ConvNormAct(3, 8, norm="batch", act="relu")
    assert [name for name, _ in block.named_children()] == ["conv", "bn", "act"]
    assert block.conv.bias is None
    plain = ConvNormAct(3, 8, norm=None, act=None)
    assert [name for name, _ in plain.named_children()] == ["conv"]
    assert plain.conv.bias is not None
    grouped = ConvNormAct(3, 8, norm="group", act="gelu")
    assert [name for name, _ in grouped.named_children()] == ["conv", "norm", "act"]


def test_group_norm_groups_must_divide_channels():
    with pytest.raises(ConfigError, match="divisible by 32"):
        ConvNormAct(3, 48, norm="group")


def test_separable_conv_has_depthwise_plus_pointwise_parameters():
    block = SeparableConv2d(16, 32, 3)
    assert sum(p.numel() for p in block.parameters()) == 16 * 9 + 16 * 32 + 32
    assert block(torch.zeros(1, 16, 8, 8)).shape == (1, 32, 8, 8)


def test_partial_conv_equals_dense_conv_with_zeroed_kernels():
    torch.manual_seed(0)
    table = [[True, False, True], [False, True, True]]  # 2 inputs x 3 outputs
    conv = PartialConv2d(table, 3)
    assert conv.weight.shape == (4, 3, 3)
    x = torch.randn(2, 2, 6, 6)
    dense = conv.full_weight()
    assert (dense[0, 1] == 0).all() and (dense[1, 0] == 0).all()
    torch.testing.assert_close(conv(x), F.conv2d(x, dense, conv.bias))


def test_partial_conv_output_ignores_unconnected_inputs():
    conv = PartialConv2d([[True, False], [False, True]], 3)
    x = torch.randn(1, 2, 5, 5)
    changed = x.clone()
    changed[:, 1] += 1  # input 1 feeds output 1 only
    torch.testing.assert_close(conv(x)[:, 0], conv(changed)[:, 0])
    assert not torch.allclose(conv(x)[:, 1], conv(changed)[:, 1])


def test_conv_transpose_output_size_follows_the_formula():
    up = conv_transpose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    out = up(torch.zeros(1, 4, 7, 7))
    assert out.shape[-1] == conv_transpose_output_size(7, 3, 2, 1, 1) == 14


def test_conv_transpose_rejects_output_padding_not_below_stride():
    with pytest.raises(GeometryError, match="output_padding"):
        conv_transpose2d(4, 2, 3, stride=2, output_padding=2)


def test_partial_conv_builds_on_the_meta_device():
    from cnnlab.nn.conv import PartialConv2d

    with torch.device("meta"):
        layer = PartialConv2d([[True, False], [True, True]], kernel=3)
    assert layer.weight.is_meta and layer.weight.shape == (3, 3, 3)


def test_full_conv_is_the_convolution_as_a_matrix_product_and_convolves_larger_inputs():
    layer = FullConv2d(16, 120, 5).double()
    assert sum(p.numel() for p in layer.parameters()) == 48_120  # LeNet-5's C5
    x = torch.randn(8, 16, 5, 5, dtype=torch.double).to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    grad = torch.randn(8, 120, 1, 1, dtype=torch.double)
    got = torch.autograd.grad(layer(x), (x, layer.weight, layer.bias), grad)
    reference = F.conv2d(x, layer.weight, layer.bias)
    torch.testing.assert_close(layer(x), reference)
    expected = torch.autograd.grad(reference, (x, layer.weight, layer.bias), grad)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)
    larger = torch.randn(2, 16, 7, 6, dtype=torch.double)
    torch.testing.assert_close(layer(larger), F.conv2d(larger, layer.weight, layer.bias))
