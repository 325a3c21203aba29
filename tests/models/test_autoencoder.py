"""The undercomplete conv autoencoder and Noise2Void's U-Net."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import GeometryError
from cnnlab.models import count_parameters, create_model
from cnnlab.models.registry import create_model_for_input


def test_the_autoencoder_has_the_hand_counted_parameters():
    model = create_model("conv_autoencoder", num_classes=1, in_chans=1, input_size=28)
    flat = 64 * 7 * 7  # two stride-2 stages: 28 -> 14 -> 7
    expected = (
        (1 * 32 * 9 + 2 * 32)  # conv 3x3 (no bias before BN) + BN
        + (32 * 64 * 9 + 2 * 64)
        + (flat * 16 + 16)  # code
        + (16 * flat + flat)  # back to the maps
        + (64 * 32 * 16 + 2 * 32)  # transposed conv 4x4 (no bias) + BN
        + (32 * 32 * 16 + 2 * 32)
        + (32 * 1 * 9 + 1)  # head
    )
    assert count_parameters(model) == expected


def test_the_decoder_sees_only_the_code():
    torch.manual_seed(0)
    model = create_model("conv_autoencoder", num_classes=3, in_chans=3, input_size=32, latent_dim=8)
    model.eval()
    x = torch.rand(5, 3, 32, 32)
    code = model.encode(x)
    assert code.shape == (5, 8)
    assert torch.allclose(model.decode(code), model(x), atol=1e-6)
    shifted = code.clone()
    shifted[0] += 1
    changed = (model.decode(shifted) - model(x)).abs().flatten(1).amax(1)
    assert changed[0] > 0 and torch.equal(changed[1:], torch.zeros(4))


def test_create_model_for_input_fills_in_the_image_size():
    model = create_model_for_input("conv_autoencoder", 1, (1, 32, 32))
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_an_image_side_the_stages_cannot_halve_is_refused():
    with pytest.raises(GeometryError, match="multiple of 4"):
        create_model("conv_autoencoder", num_classes=1, in_chans=1, input_size=30)


def test_the_noise2void_unet_has_depth_two_and_32_first_maps():
    model = create_model("unet_n2v", num_classes=1, in_chans=1)
    assert [stage[0].conv.out_channels for stage in model.down] == [32, 64, 128]
    assert model(torch.rand(1, 1, 28, 28)).shape == (1, 1, 28, 28)  # 28 = 4 x 7 fits depth 2
    narrow = create_model("unet_n2v", num_classes=3, in_chans=3, widths=(8, 16))
    assert [stage[0].conv.out_channels for stage in narrow.down] == [8, 16]
