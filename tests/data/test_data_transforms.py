import numpy as np
import pytest
import torch

from cnnlab.data.geometric import alternating_flip, random_crop, random_flip, sample_coins
from cnnlab.data.transforms import Augment, Samples
from cnnlab.errors import ConfigError, UnknownNameError


def _images(batch=64, size=6):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_random_crop_is_a_translation_with_zero_fill():
    images = _images()
    out = random_crop(images, torch.Generator().manual_seed(1), padding=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(len(images)):
        offsets = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 6, dx : dx + 6])
        ]
        assert offsets, f"image {i} is not a crop of its padded self"


def test_reflect_crop_is_a_window_of_numpys_reflection_padding_at_the_zero_crops_offset():
    images = _images()
    zero = random_crop(images, torch.Generator().manual_seed(1), padding=2)
    reflect = random_crop(images, torch.Generator().manual_seed(1), padding=2, mode="reflect")
    mirrored = np.pad(images.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    zero_padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(len(images)):
        # The same generator draws the same offset in both modes; find it from the zero crop.
        (dy, dx), *_ = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(zero[i], zero_padded[i, :, dy : dy + 6, dx : dx + 6])
        ]
        np.testing.assert_array_equal(reflect[i].numpy(), mirrored[i, :, dy : dy + 6, dx : dx + 6])
    assert not torch.equal(zero, reflect)  # some images were shifted into the border


def test_reflect_crop_refuses_a_padding_as_large_as_the_image():
    with pytest.raises(ConfigError, match="under 6"):
        random_crop(_images(), torch.Generator().manual_seed(0), padding=6, mode="reflect")
    with pytest.raises(ConfigError, match="under 6"):
        Augment(["crop_reflect:6"])(_images(), torch.Generator().manual_seed(0))


def test_random_crop_draws_different_offsets_per_image():
    images = torch.ones(256, 1, 4, 4)
    out = random_crop(images, torch.Generator().manual_seed(0), padding=2)
    assert len({tuple(o.flatten().tolist()) for o in out}) > 10


def test_random_flip_flips_about_half_and_keeps_the_rest():
    images = _images(batch=1000)
    out = random_flip(images, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, images, strict=True)])
    assert bool((flipped | kept).all())
    assert 400 < int(flipped.sum()) < 600


def test_same_generator_seed_gives_the_same_augmentation():
    augment = Augment(["flip", "crop:3"])
    first = augment(_images(), torch.Generator().manual_seed(5))
    second = augment(_images(), torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


def test_augment_specs_are_validated():
    with pytest.raises(UnknownNameError, match="crop"):
        Augment(["twirl"])
    with pytest.raises(ConfigError, match=r"\[0.0, 0.5\]"):
        Augment(["hue:0.7"])
    with pytest.raises(ConfigError, match="takes no value"):
        Augment(["flip:3"])
    with pytest.raises(ConfigError, match="crop:4"):
        Augment(["crop:x"])
    assert not Augment([])


def _flipped(out: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Which images of ``out`` are mirror images of ``images`` (the rest must be unchanged)."""
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, images, strict=True)])
    assert bool((flipped ^ kept).all())
    return flipped


def test_alternating_flip_shows_every_image_both_ways_in_any_two_consecutive_epochs():
    images, indices = _images(batch=1000), torch.randperm(1000)
    flips = [_flipped(alternating_flip(images, indices, e, seed=7), images) for e in range(4)]
    assert 450 < int(flips[0].sum()) < 550  # epoch 0: a random half, like 'flip'
    for e in range(3):
        assert bool((flips[e] ^ flips[e + 1]).all())  # the other way round from the last epoch
    assert torch.equal(flips[0], flips[2]) and torch.equal(flips[1], flips[3])


def test_a_samples_flip_depends_on_its_index_and_seed_not_on_its_batch():
    coins = sample_coins(torch.arange(50_000), seed=0).float()
    per_block = coins.view(10, 5000).mean(1)  # a class stored in one block gets fair coins too
    assert bool(((per_block - 0.5).abs() < 0.03).all())
    indices = torch.tensor([5, 17, 123, 40_001])
    alone = sample_coins(indices, seed=0)
    assert torch.equal(alone, sample_coins(torch.arange(50_000), seed=0)[indices])
    other_seed = sample_coins(torch.arange(50_000), seed=1).float()
    assert 0.45 < float((coins == other_seed).float().mean()) < 0.55


def test_augment_passes_the_samples_to_alternating_flip_and_needs_them():
    images, indices = _images(batch=32), torch.arange(100, 132)
    augment = Augment(["alternating_flip", "crop:0"])
    out = augment(images, torch.Generator(), Samples(indices, epoch=5, seed=2))
    assert torch.equal(out, alternating_flip(images, indices, 5, seed=2))
    with pytest.raises(ConfigError, match="sample indices and the epoch"):
        augment(images, torch.Generator())
    with pytest.raises(ConfigError, match="one index per image"):
        augment(images, torch.Generator(), Samples(indices[:3], epoch=0))
    with pytest.raises(ConfigError, match="takes no value"):
        Augment(["alternating_flip:2"])
