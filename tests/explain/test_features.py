"""Filters, activations, receptive fields, maximal patches, codes, neighbours, t-SNE."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.explain.features import (
    codes,
    first_layer_filters,
    layer_activations,
    layer_receptive_field,
    max_activating_patches,
    nearest_neighbours,
    tsne_embedding,
)


def test_first_layer_filters_are_a_copy_of_the_first_conv_weights(model):
    filters = first_layer_filters(model)
    torch.testing.assert_close(filters, model.features.c1.weight)
    filters += 1
    assert not torch.equal(filters, model.features.c1.weight)


def test_activations_of_every_layer_in_execution_order(model, images):
    outputs = layer_activations(model, images[:1])
    assert list(outputs) == [
        "features.c1", "features.r1", "features.p1", "features.c2", "features.r2", "gap", "flat",
        "fc",
    ]  # fmt: skip
    assert outputs["features.p1"].shape == (1, 4, 4, 4)


def test_receptive_field_follows_the_conv_pool_chain(model, images):
    # 3x3 conv (r=3), 2x2/2 pool (r=4, jump 2), 3x3 conv (r=4+2·2=8).
    assert layer_receptive_field(model, "features.c1", images).size == 3
    assert layer_receptive_field(model, "features.p1", images).size == 4
    field = layer_receptive_field(model, "features.c2", images)
    assert (field.size, field.jump) == (8, 2)


def test_max_patches_pick_the_images_that_excite_the_unit_most(model):
    x = torch.rand(6, 3, 8, 8, dtype=torch.float64) * 0.1
    with torch.no_grad():
        strength = model.features(x)[:, 0].flatten(1).amax(1)
    found = max_activating_patches(model, x, "features.c2", [0, 5], k=3, batch_size=4)
    patches = found[0]
    assert patches.indices.tolist() == strength.topk(3).indices.tolist()
    assert list(found) == [0, 5]
    assert patches.images.shape == (3, 3, 8, 8)
    torch.testing.assert_close(patches.activations, strength.topk(3).values)


def test_patch_of_a_first_layer_unit_is_its_receptive_field_around_the_peak(model):
    x = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    x[0, :, 5, 2] = 1.0
    patches = max_activating_patches(model, x, "features.c1", [0], k=1)[0]
    row, col = patches.positions[0].tolist()
    torch.testing.assert_close(patches.images[0], x[0, :, row - 1 : row + 2, col - 1 : col + 2])


def test_max_patches_reject_a_unit_the_layer_does_not_have(model, images):
    with pytest.raises(ConfigError, match="units must be"):
        max_activating_patches(model, images, "features.c2", [6])


def test_codes_are_the_input_of_the_last_linear_layer(model, images):
    with torch.no_grad():
        expected = model.flat(model.gap(model.features(images)))
    torch.testing.assert_close(codes(model, images, batch_size=1), expected)


def test_nearest_neighbour_of_a_database_image_is_itself():
    database = torch.rand(10, 4, dtype=torch.float64)
    indices, distances = nearest_neighbours(database[[3, 7]], database, k=2)
    assert indices[:, 0].tolist() == [3, 7]
    assert distances[:, 0].abs().max() < 1e-6


def test_tsne_is_two_dimensional_and_reproducible():
    data = torch.rand(12, 5)
    points = tsne_embedding(data, seed=1)
    assert points.shape == (12, 2)
    assert (points == tsne_embedding(data, seed=1)).all()
