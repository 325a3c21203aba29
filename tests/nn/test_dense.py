"""Dense layers, dense blocks and transitions (cnnlab.nn.dense), Huang et al. (2017), Sec. 3."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.dense import DenseBlock, DenseLayer, Transition, compressed_channels
from tests.batchnorm_helpers import assert_fusion_keeps_outputs, randomize_batch_norm


def test_a_dense_block_adds_growth_rate_maps_per_layer():
    block = DenseBlock(num_layers=3, in_ch=8, growth_rate=4)
    out = block(torch.rand(2, 8, 6, 6))
    assert block.out_channels == 8 + 3 * 4
    assert out.shape == (2, 20, 6, 6)


def test_each_dense_layer_sees_the_maps_of_all_earlier_layers():
    block = DenseBlock(num_layers=4, in_ch=8, growth_rate=4)
    widths = [layer.norm1.num_features for layer in block.children()]
    assert widths == [8, 12, 16, 20]


def test_a_dense_block_passes_its_input_through_unchanged():
    block = DenseBlock(num_layers=2, in_ch=5, growth_rate=3).eval()
    x = torch.rand(2, 5, 4, 4)
    assert torch.equal(block(x)[:, :5], x)


def test_a_bottleneck_layer_is_bn_relu_conv1x1_4k_then_bn_relu_conv3x3_k():
    layer = DenseLayer(in_ch=24, growth_rate=12, bn_size=4)
    assert list(layer._modules) == ["norm1", "relu1", "conv1", "norm2", "relu2", "conv2"]
    assert (layer.conv1.out_channels, layer.conv1.kernel_size) == (48, (1, 1))
    assert (layer.conv2.out_channels, layer.conv2.kernel_size) == (12, (3, 3))
    assert layer.conv1.bias is None and layer.conv2.bias is None


def test_a_basic_layer_is_one_bn_relu_conv3x3():
    layer = DenseLayer(in_ch=16, growth_rate=12, bn_size=0)
    assert list(layer._modules) == ["norm1", "relu1", "conv1"]
    assert layer.conv1.kernel_size == (3, 3)


def test_drop_rate_adds_dropout_on_the_new_maps():
    assert isinstance(DenseLayer(8, 4, drop_rate=0.2).drop, nn.Dropout)
    assert "drop" not in DenseLayer(8, 4)._modules


def test_a_transition_compresses_the_maps_and_halves_the_side():
    transition = Transition(in_ch=342, out_ch=compressed_channels(342, 0.5))
    assert transition(torch.rand(2, 342, 8, 8)).shape == (2, 171, 4, 4)
    assert compressed_channels(215, 0.5) == 107


@pytest.mark.parametrize("compression", [0.0, 1.5])
def test_compression_outside_zero_one_is_refused(compression):
    with pytest.raises(ConfigError, match="compression"):
        compressed_channels(100, compression)


@pytest.mark.parametrize("kwargs", [{"growth_rate": 0}, {"bn_size": -1}, {"drop_rate": 1.0}])
def test_bad_dense_layer_options_are_refused(kwargs):
    with pytest.raises(ConfigError):
        DenseLayer(8, **{"growth_rate": 4, **kwargs})


def test_an_empty_dense_block_is_refused():
    with pytest.raises(ConfigError, match="at least one layer"):
        DenseBlock(0, 8, 4)


def test_only_the_bottleneck_conv_folds_into_the_batch_norm_after_it():
    """norm1 comes before its convolution (pre-activation), so it stays; conv1 -> norm2 folds."""
    torch.manual_seed(0)
    layer = randomize_batch_norm(DenseLayer(in_ch=8, growth_rate=4))
    fused = assert_fusion_keeps_outputs(layer, torch.rand(2, 8, 5, 5), atol=1e-5)
    assert list(fused._modules) == ["norm1", "relu1", "conv1", "relu2", "conv2"]
