"""Channel shuffle and ShuffleNet units (cnnlab.nn.shuffle), Zhang et al. (2018), Ma et al.
(2018)."""

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nn.shuffle import ChannelShuffle, ShuffleUnit, ShuffleV2Block, channel_shuffle


def _channel_ids(channels):
    return torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)


def test_channel_shuffle_interleaves_the_groups():
    # Groups (0 1) (2 3) (4 5) -> one channel of each group in turn (Zhang et al. 2018, Fig. 1c).
    out = channel_shuffle(_channel_ids(6), groups=3)
    assert out.flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_shuffling_with_c_over_g_groups_undoes_a_shuffle_with_g_groups():
    x = torch.rand(2, 12, 3, 3)
    assert torch.equal(channel_shuffle(channel_shuffle(x, 3), 4), x)


def test_channel_shuffle_needs_divisible_channels():
    with pytest.raises(ConfigError, match="divisible by 4"):
        channel_shuffle(torch.rand(1, 6, 2, 2), 4)


def test_channel_shuffle_with_one_group_is_the_identity():
    x = torch.rand(2, 5, 3, 3)
    assert ChannelShuffle(1)(x) is x


def test_a_stride_one_shuffle_unit_keeps_the_shape():
    unit = ShuffleUnit(240, 240, stride=1, groups=3, bottleneck=60)
    assert unit(torch.rand(2, 240, 7, 7)).shape == (2, 240, 7, 7)
    assert unit.gconv1.conv.groups == 3 and unit.gconv2.conv.groups == 3
    assert unit.dwconv.conv.groups == 60


def test_a_stride_two_shuffle_unit_concatenates_the_pooled_input():
    unit = ShuffleUnit(24, 240, stride=2, groups=3, bottleneck=60, group_first=False).eval()
    x = torch.rand(2, 24, 8, 8)
    out = unit(x)
    assert out.shape == (2, 240, 4, 4)
    assert unit.gconv1.conv.groups == 1 and unit.gconv2.conv.out_channels == 240 - 24
    torch.testing.assert_close(out[:, :24], torch.relu(unit.shortcut(x)))


@pytest.mark.parametrize("in_ch, out_ch, stride", [(24, 48, 1), (48, 48, 2), (24, 48, 3)])
def test_shuffle_unit_refuses_mismatched_channels_and_strides(in_ch, out_ch, stride):
    with pytest.raises(ConfigError):
        ShuffleUnit(in_ch, out_ch, stride, groups=1, bottleneck=12)


def test_a_stride_one_v2_block_keeps_half_of_the_channels_unchanged():
    """Channel split: the first half passes through and lands on the even channels after the
    two-group shuffle (Ma et al. 2018, Fig. 3c)."""
    block = ShuffleV2Block(8, 8, stride=1).eval()
    x = torch.rand(2, 8, 5, 5)
    out = block(x)
    assert out.shape == x.shape
    assert torch.equal(out[:, 0::2], x[:, :4])
    assert not hasattr(block, "branch1")


def test_a_stride_two_v2_block_transforms_the_whole_input_in_two_branches():
    block = ShuffleV2Block(24, 116, stride=2)
    assert block(torch.rand(2, 24, 8, 8)).shape == (2, 116, 4, 4)
    assert block.branch1.dw.conv.groups == 24 and block.branch2.dw.conv.groups == 58


@pytest.mark.parametrize("in_ch, out_ch, stride", [(8, 9, 2), (8, 16, 1), (8, 8, 3)])
def test_v2_block_refuses_odd_widths_and_mismatched_strides(in_ch, out_ch, stride):
    with pytest.raises(ConfigError):
        ShuffleV2Block(in_ch, out_ch, stride)
