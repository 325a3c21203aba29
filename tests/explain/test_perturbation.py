"""Occlusion and LIME: captum agreement and finding the informative region."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import Occlusion
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.explain.perturbation import grid_segments, lime, occlusion, superpixels


class RegionModel(nn.Module):
    """Class 0 = 4·mean of the pixels in rows 0-3, columns 4-7 (the informative region); class 1
    = 0.1·mean of the whole image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        region = x[:, :, 0:4, 4:8].mean((1, 2, 3))
        return torch.stack([4 * region, 0.1 * x.mean((1, 2, 3))], 1)


def region_mask() -> torch.Tensor:
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[0:4, 4:8] = True
    return mask


def test_occlusion_matches_captum(model, images, classes):
    expected = Occlusion(model).attribute(
        images, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), baselines=0.0, target=classes
    )
    ours = occlusion(model, images, classes, window=4, stride=2)
    expected = expected.double()  # captum accumulates occlusion sums in float32
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_occlusion_does_not_depend_on_batch_size(model, images, classes):
    torch.testing.assert_close(
        occlusion(model, images, classes, window=4, stride=2, batch_size=3),
        occlusion(model, images, classes, window=4, stride=2, batch_size=1000),
    )


def test_occlusion_finds_the_informative_region():
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) + 0.1
    heat = occlusion(RegionModel(), x, 0, window=2, stride=2)[:, 0]
    assert (heat[:, region_mask()] > 0).all()
    assert (heat[:, ~region_mask()] == 0).all()


def test_occlusion_rejects_a_window_larger_than_the_image(model, images):
    with pytest.raises(ConfigError, match="larger than"):
        occlusion(model, images, 0, window=9)


def test_grid_segments_tile_the_image_in_equal_cells():
    labels = grid_segments(8, 8, 4)
    assert labels.unique().tolist() == list(range(16))
    assert (labels.flatten().bincount() == 4).all()


def test_superpixels_fall_back_to_a_grid_or_use_slic():
    # 16 x 16 noise: SLIC (when installed) finds one region, so 'auto' takes the 4 x 4 grid.
    labels = superpixels(torch.rand(3, 16, 16), segments=16)
    assert labels.shape == (16, 16)
    assert labels.min() == 0 and labels.max() >= 1


def test_auto_superpixels_are_slic_on_an_image_with_structure():
    pytest.importorskip("skimage", reason="SLIC needs scikit-image (the explain extra)")
    from skimage.segmentation import slic

    image = torch.zeros(3, 32, 32)
    image[:, :, 16:] = 1.0  # two flat halves
    image[0, :16] = torch.linspace(0, 0.5, 16)[:, None]
    labels = superpixels(image, segments=8)
    expected = slic(image.double().numpy().transpose(1, 2, 0), n_segments=8, start_label=0)
    assert labels.max() >= 1
    relabelled = np.unique(expected, return_inverse=True)[1].reshape(expected.shape)
    np.testing.assert_array_equal(labels.numpy(), relabelled)
    assert not (labels[:, :16, None] == labels[:, None, 16:]).any()  # no region crosses the edge


def test_lime_finds_the_informative_region():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64) + 0.5
    segments = grid_segments(8, 8, 4)
    weights = lime(RegionModel(), x, 0, segments=segments, samples=300, alpha=1e-4)[0, 0]
    assert weights[region_mask()].min() > 0.01
    assert weights[~region_mask()].abs().max() < 0.25 * weights[region_mask()].min()


def test_lime_is_reproducible_with_a_seed(model, images, classes):
    first = lime(model, images, classes, samples=50, seed=1)
    torch.testing.assert_close(first, lime(model, images, classes, samples=50, seed=1))


def test_lime_rejects_segments_of_the_wrong_shape(model, images):
    with pytest.raises(ConfigError, match="segments"):
        lime(model, images, 0, segments=torch.zeros(4, 4, dtype=torch.long))


def test_slic_without_scikit_image_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr("cnnlab.explain.perturbation._have_skimage", lambda: False)
    with pytest.raises(ConfigError, match="pip install scikit-image"):
        superpixels(torch.rand(3, 8, 8), "slic")
    assert superpixels(torch.rand(3, 8, 8), "auto", segments=4).max() == 3
