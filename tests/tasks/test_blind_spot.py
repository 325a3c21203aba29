"""Noise2Void's blind-spot masking: one pixel per stratum, a neighbour's value, loss there only."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.tasks.blind_spot import blind_spot, blind_spot_loss, stratum_side


def numbered(batch: int = 4, channels: int = 2, height: int = 28, width: int = 30):
    """Images whose every value names its pixel: value = y * width + x (+ a channel offset)."""
    positions = torch.arange(height * width, dtype=torch.float64).reshape(height, width)
    offsets = 10_000 * torch.arange(channels, dtype=torch.float64)[:, None, None]
    return (positions + offsets).expand(batch, channels, height, width).clone()


def masked_pixels(mask: torch.Tensor, image: int) -> list[tuple[int, int]]:
    return [tuple(p) for p in mask[image, 0].nonzero().tolist()]


def test_one_pixel_is_masked_in_every_stratum():
    noisy = numbered()
    _, mask = blind_spot(noisy, 0.016, 5, torch.Generator().manual_seed(0))
    side = stratum_side(0.016)
    assert side == 8
    counts = torch.zeros(4, 4)  # 28x30 in 8x8 strata: 4 x 4 of them (smaller at the edges)
    for y, x in masked_pixels(mask, 0):
        counts[y // side, x // side] += 1
    assert torch.equal(counts, torch.ones(4, 4))
    assert mask.sum((1, 2, 3)).tolist() == [16.0] * 4


def test_a_masked_pixel_takes_a_neighbours_value_never_its_own_and_nothing_else_changes():
    noisy = numbered(batch=64)
    masked, mask = blind_spot(noisy, 0.016, 5, torch.Generator().manual_seed(1))
    width = noisy.shape[-1]
    offsets = set()
    for image in range(64):
        for y, x in masked_pixels(mask, image):
            source = int(masked[image, 0, y, x].item())
            sy, sx = divmod(source, width)
            assert (sy, sx) != (y, x)
            assert abs(sy - y) <= 2 and abs(sx - x) <= 2  # inside the 5x5 window
            assert masked[image, 1, y, x] == noisy[image, 1, sy, sx]  # all channels alike
            offsets.add((sy - y, sx - x))
    assert len(offsets) == 24  # every position of the window but the centre is drawn
    unmasked = mask.expand_as(noisy) == 0
    assert torch.equal(masked[unmasked], noisy[unmasked])


def test_replacements_at_the_border_stay_inside_the_image():
    noisy = numbered(batch=64, channels=1, height=7, width=9)
    assert stratum_side(0.9) == 1  # 1x1 strata: every pixel, the border ones too, is masked
    masked, mask = blind_spot(noisy, 0.9, 5, torch.Generator().manual_seed(2))
    assert (mask == 1).all()
    sy, sx = masked[:, 0].long().div(9, rounding_mode="floor"), masked[:, 0].long() % 9
    y, x = torch.meshgrid(torch.arange(7), torch.arange(9), indexing="ij")
    assert ((sy != y) | (sx != x)).all()
    assert ((sy - y).abs() <= 2).all() and ((sx - x).abs() <= 2).all()
    assert (masked[:, 0] >= 0).all() and (masked[:, 0] < 63).all()


def test_the_same_generator_state_gives_the_same_masks():
    noisy = numbered()
    first = blind_spot(noisy, 0.02, 3, torch.Generator().manual_seed(5))
    again = blind_spot(noisy, 0.02, 3, torch.Generator().manual_seed(5))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_the_loss_sees_only_the_masked_pixels():
    noisy = numbered(batch=2, channels=1).float() / 1000
    _, mask = blind_spot(noisy, 0.016, 5, torch.Generator().manual_seed(0))
    output = torch.zeros_like(noisy, requires_grad=True)
    loss = blind_spot_loss(output, noisy, mask)
    loss.backward()
    assert torch.equal(output.grad != 0, (mask != 0) & (noisy != 0))
    chosen = mask.bool()
    assert loss.item() == pytest.approx(noisy[chosen].square().mean().item())


def test_an_even_or_too_large_window_is_refused():
    with pytest.raises(ConfigError, match="odd"):
        blind_spot(numbered(), 0.02, 4, torch.Generator())
    with pytest.raises(ConfigError, match="fit"):
        blind_spot(numbered(height=4, width=4), 0.02, 5, torch.Generator())
