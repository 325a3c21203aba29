"""Squeeze-and-excitation, CBAM and channel rounding (cnnlab.nn.attention)."""

import torch
from torchvision.models._utils import _make_divisible
from torchvision.ops import SqueezeExcitation

from cnnlab.nn.attention import CBAM, SqueezeExcite, make_divisible


def test_squeeze_excite_equals_torchvision():
    ours, theirs = SqueezeExcite(16, 4), SqueezeExcitation(16, 4)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x))


def test_squeeze_excite_rescales_each_channel_by_a_gate_in_zero_one():
    x = torch.rand(2, 8, 4, 4) + 0.1
    ratio = SqueezeExcite(8, 2)(x) / x
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio))
    assert ratio.min() > 0 and ratio.max() < 1


def test_make_divisible_equals_the_reference_rounding():
    for value in [3.2, 8, 15.9, 24 * 0.75, 100, 1280 * 1.4, 37 * 0.35]:
        assert make_divisible(value, 8) == _make_divisible(value, 8)


def test_cbam_matches_its_equations():
    torch.manual_seed(0)
    cbam = CBAM(8, reduction=2)
    x = torch.randn(2, 8, 6, 6)
    mlp = cbam.channel.mlp
    channel = x * torch.sigmoid(
        mlp(x.mean((2, 3), keepdim=True)) + mlp(x.amax((2, 3), keepdim=True))
    )
    pooled = torch.cat([channel.mean(1, keepdim=True), channel.amax(1, keepdim=True)], 1)
    torch.testing.assert_close(cbam(x), channel * torch.sigmoid(cbam.spatial.conv(pooled)))
