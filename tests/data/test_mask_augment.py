"""Mask-aware augmentation: every label moves exactly with its pixel."""

import pytest
import torch

from cnnlab.data.mask_augment import MaskAugment
from cnnlab.errors import ConfigError


def _pair(batch=16, channels=3, size=12):
    """Images whose every channel is mask / 10: a pixel's label can be read off the image."""
    masks = torch.randint(0, 5, (batch, size, size), generator=torch.Generator().manual_seed(0))
    images = (masks[:, None] / 10).expand(-1, channels, -1, -1).contiguous()
    return images, masks


@pytest.mark.parametrize("specs", ["flip", "crop:3", "crop_reflect:3", "flip,crop:5"])
def test_geometric_moves_carry_the_labels_exactly(specs):
    images, masks = _pair()
    out_images, out_masks = MaskAugment(specs)(images, masks, torch.Generator().manual_seed(1))
    assert out_masks.dtype == masks.dtype and out_masks.shape == masks.shape
    assert torch.equal((out_images * 10).round().long(), out_masks[:, None].expand_as(out_images))
    assert not torch.equal(out_masks, masks)  # something moved


def test_flip_mirrors_the_mask_of_the_flipped_images_only():
    images, masks = _pair()
    _, out_masks = MaskAugment("flip")(images, masks, torch.Generator().manual_seed(2))
    flipped = (out_masks != masks).flatten(1).any(1)
    assert 0 < flipped.sum() < len(masks)
    assert torch.equal(out_masks[flipped], masks[flipped].flip(-1))
    assert torch.equal(out_masks[~flipped], masks[~flipped])


def test_zero_padding_of_a_crop_is_background():
    images, masks = _pair()
    masks.fill_(3)
    images.fill_(0.3)
    out_images, out_masks = MaskAugment("crop:4")(images, masks, torch.Generator().manual_seed(3))
    assert set(out_masks.unique().tolist()) == {0, 3}
    assert torch.equal(out_masks == 0, out_images[:, 0] == 0)


def test_photometric_transforms_change_the_images_but_not_the_masks():
    images, masks = _pair()
    images = images + 0.2
    augment = MaskAugment("brightness:0.5,contrast:0.5,saturation:0.5,hue:0.1")
    out_images, out_masks = augment(images, masks, torch.Generator().manual_seed(4))
    assert torch.equal(out_masks, masks)
    assert not torch.allclose(out_images, images)


def test_the_same_generator_gives_the_same_augmentation():
    images, masks = _pair()
    augment = MaskAugment("flip,crop:4,brightness")
    first = augment(images, masks, torch.Generator().manual_seed(5))
    again = augment(images, masks, torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize("name", ["rotate", "scale:0.2", "cutout:4", "randaugment", "lighting"])
def test_transforms_that_interpolate_or_erase_labels_are_refused(name):
    with pytest.raises(ConfigError, match=f"{name.split(':')[0]} would interpolate or erase"):
        MaskAugment(f"flip,{name}")


def test_no_specs_is_no_augmentation():
    assert not MaskAugment([])
