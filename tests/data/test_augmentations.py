"""Geometric, photometric, erasing, mixing and policy augmentations, with oracles."""

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from cnnlab.data import erasing, geometric, mixing, photometric
from cnnlab.data.transforms import AUGMENTATIONS, Augment, Samples


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _images(batch=8, chans=3, size=12, seed=0):
    return torch.rand(batch, chans, size, size, generator=_gen(seed))


def test_affine_rotation_by_90_degrees_is_rot90():
    images = _images()
    theta = geometric.affine_matrices(
        torch.full((8,), 90.0), torch.zeros(8, 2), torch.ones(8), torch.zeros(8)
    )
    rotated = geometric.warp_affine(images, theta)
    torch.testing.assert_close(rotated, torch.rot90(images, k=1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_affine_translation_by_whole_pixels_is_a_shift_with_zero_fill():
    images = _images(size=10)
    shift = torch.tensor([[2 * 3 / 10, 0.0]]).expand(8, 2)  # 3 px right, in normalized units
    moved = geometric.warp_affine(
        images, geometric.affine_matrices(torch.zeros(8), shift, torch.ones(8), torch.zeros(8))
    )
    torch.testing.assert_close(moved[..., 3:], images[..., :-3], atol=1e-5, rtol=0)
    assert moved[..., :3].abs().max() < 1e-6


def test_zero_strength_geometric_transforms_are_the_identity():
    images = _images()
    same = geometric.random_affine(images, _gen(), degrees=0, translate=0, scale=0, shear=0)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)
    torch.testing.assert_close(geometric.lens_distortion(images, torch.zeros(8)), images)
    full = geometric.random_resized_crop(images, _gen(), min_area=1.0, ratio=(1.0, 1.0))
    torch.testing.assert_close(full, images, atol=1e-5, rtol=0)


def test_barrel_distortion_keeps_the_centre_and_pulls_in_the_corners():
    images = torch.zeros(1, 1, 9, 9)
    images[..., 4, 4] = 1.0
    images[..., 0, 0] = 1.0
    out = geometric.lens_distortion(images, torch.tensor([0.5]))
    assert out[0, 0, 4, 4] == pytest.approx(1.0)
    assert out[0, 0, 0, 0] < 0.5  # the corner now samples from outside the image


def test_random_resized_crop_zooms_in():
    images = torch.zeros(64, 1, 16, 16)
    images[..., 7:9, 7:9] = 1.0
    out = geometric.random_resized_crop(images, _gen(), min_area=0.1)
    assert out.sum() > images.sum()  # the centre square is magnified in most images


def _factors(spread, n, seed):
    return 1 + spread * (2 * torch.rand(n, generator=_gen(seed)) - 1)


@pytest.mark.parametrize(
    ("transform", "oracle"),
    [
        (photometric.random_brightness, TF.adjust_brightness),
        (photometric.random_contrast, TF.adjust_contrast),
        (photometric.random_saturation, TF.adjust_saturation),
    ],
)
def test_colour_jitter_matches_torchvision_per_image(transform, oracle):
    images = _images()
    out = transform(images, _gen(3), spread=0.5)
    for image, got, factor in zip(images, out, _factors(0.5, 8, 3), strict=True):
        torch.testing.assert_close(got, oracle(image, float(factor)), atol=1e-5, rtol=0)


def test_hue_rotation_matches_torchvision_per_image():
    images = _images()
    out = photometric.random_hue(images, _gen(4), spread=0.3)
    shifts = 0.3 * (2 * torch.rand(8, generator=_gen(4)) - 1)
    for image, got, shift in zip(images, out, shifts, strict=True):
        torch.testing.assert_close(got, TF.adjust_hue(image, float(shift)), atol=1e-4, rtol=0)


def test_hsv_round_trip_is_the_identity():
    images = _images(batch=32)
    torch.testing.assert_close(
        photometric.hsv_to_rgb(photometric.rgb_to_hsv(images)), images, atol=1e-5, rtol=0
    )


def test_single_channel_images_have_no_saturation_or_hue():
    grey = _images(chans=1)
    assert torch.equal(photometric.random_saturation(grey, _gen(), 0.5), grey)
    assert torch.equal(photometric.random_hue(grey, _gen(), 0.3), grey)


def test_lighting_basis_is_the_eigen_decomposition_of_the_colour_covariance():
    images = (torch.rand(20, 3, 8, 8, generator=_gen()) * 255).to(torch.uint8)
    values, vectors = photometric.lighting_basis(images)
    pixels = images.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy() / 255
    expected_values, expected_vectors = np.linalg.eigh(np.cov(pixels.T))
    np.testing.assert_allclose(values.numpy(), expected_values, rtol=1e-4)
    np.testing.assert_allclose(np.abs(vectors.numpy()), np.abs(expected_vectors), atol=1e-4)


def test_pca_lighting_adds_one_colour_shift_per_image():
    images = torch.full((4, 3, 5, 5), 0.5)
    basis = (torch.tensor([0.01, 0.02, 0.2]), torch.eye(3))
    out = photometric.pca_lighting(images, _gen(), basis, std=0.1)
    shift = out - images
    assert torch.allclose(shift, shift[..., :1, :1].expand_as(shift))
    assert shift.abs().max() > 0


def test_cutout_zeros_one_square_per_image_and_nothing_else():
    images = torch.ones(32, 1, 16, 16)
    out = erasing.cutout(images, _gen(), size=4)
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # whole square, or clipped at the border
    assert torch.equal(out[out != 0], images[out != 0])


def test_random_erasing_respects_its_probability():
    images = torch.ones(400, 1, 16, 16)
    assert torch.equal(erasing.random_erasing(images, _gen(), probability=0.0), images)
    changed = (erasing.random_erasing(images, _gen(), probability=0.5) != 1).flatten(1).any(1)
    assert 150 < int(changed.sum()) < 250


@pytest.mark.parametrize("mix", [mixing.mixup, mixing.cutmix])
def test_mixed_targets_sum_to_one_and_match_the_mixed_pixels(mix):
    labels = torch.arange(16) % 4
    images = labels.float()[:, None, None, None].expand(16, 1, 8, 8).clone()  # pixel = label
    mixed, targets = mix(images, labels, 4, _gen(1), alpha=1.0)
    torch.testing.assert_close(targets.sum(1), torch.ones(16))
    expected_mean = targets @ torch.arange(4.0)  # the average label a pixel comes from
    torch.testing.assert_close(mixed.mean(dim=(1, 2, 3)), expected_mean, atol=1e-5, rtol=0)


def test_mix_batch_uses_both_methods_when_both_are_on():
    labels = torch.arange(8) % 2
    images = _images(batch=8)
    kinds = set()
    for seed in range(20):
        mixed, _ = mixing.mix_batch(images, labels, 2, _gen(seed), 0.4, 1.0)
        kinds.add(
            "cutmix" if bool(((mixed == images) | (mixed == images.roll(1, 0))).all()) else "x"
        )
    assert len(kinds) == 2


@pytest.mark.parametrize("spec", ["autoaugment:cifar10", "randaugment:2", "trivialaugment"])
@pytest.mark.parametrize("chans", [1, 3])
def test_policies_are_repeatable_and_stay_in_range(spec, chans):
    images = _images(batch=6, chans=chans, size=16)
    augment = Augment([spec])
    first, second = augment(images, _gen(7)), augment(images, _gen(7))
    assert torch.equal(first, second)
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 1


@pytest.mark.parametrize("name", sorted(set(AUGMENTATIONS) - {"lighting"}))
def test_every_named_augmentation_keeps_shape_and_range(name):
    images = _images(batch=4, size=16)
    out = Augment([name])(images, _gen(), Samples(torch.arange(4), epoch=1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0 and out.max() <= 1


def test_lighting_must_be_fitted_first():
    augment = Augment(["lighting:0.1"])
    with pytest.raises(Exception, match=r"Augment\.fit"):
        augment(_images(), _gen())
    fitted = augment.fit((_images(batch=4) * 255).to(torch.uint8))
    assert fitted(_images(), _gen()).shape == (8, 3, 12, 12)


@pytest.mark.parametrize("mix", [mixing.mixup, mixing.cutmix])
def test_mixing_is_seeded_and_leaves_the_global_generator_alone(mix):
    labels = torch.arange(8) % 4
    images = _images(batch=8)
    state = torch.get_rng_state()
    first, second = mix(images, labels, 4, _gen(3)), mix(images, labels, 4, _gen(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(mix(images, labels, 4, _gen(4))[1], first[1])


def test_mixup_is_the_papers_convex_combination_with_the_batch_neighbour():
    labels = torch.arange(6) % 3
    images = _images(batch=6)
    mixed, targets = mixing.mixup(images, labels, 3, _gen(5), alpha=0.4)
    lam = float(targets[0, labels[0]])  # eq. 1: ỹ = λ y_i + (1 − λ) y_{i-1}
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images.roll(1, 0))
    expected = lam * torch.eye(3)[labels] + (1 - lam) * torch.eye(3)[labels.roll(1, 0)]
    torch.testing.assert_close(targets, expected)
