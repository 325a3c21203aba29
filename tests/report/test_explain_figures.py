"""Figures of explanations (cnnlab.report.explain_figures) render for every kind of output."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from cnnlab.explain.features import Patches, first_layer_filters, layer_activations
from cnnlab.explain.metrics import deletion_insertion
from cnnlab.report.explain_figures import (
    heatmap,
    plot_activations,
    plot_attributions,
    plot_faithfulness,
    plot_filters,
    plot_neighbours,
    plot_patches,
    plot_style_transfer,
    plot_tsne,
)
from tests.explain.conftest import tiny_cnn


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_heatmap_is_the_channel_maximum_of_nonnegative_maps_and_the_sum_of_signed_ones():
    positive = torch.rand(2, 3, 4, 4)
    signed = positive - 0.5
    torch.testing.assert_close(heatmap(positive), positive.amax(1))
    torch.testing.assert_close(heatmap(signed), signed.sum(1))


def test_every_figure_renders(images):
    model, classes = tiny_cnn(), torch.tensor([0, 2])
    figures = [
        plot_attributions(images, images - 0.5, ["a", "b"]),
        plot_attributions(images[:1], images[:1, :1]),
        plot_filters(first_layer_filters(model)),
        plot_activations(layer_activations(model, images[:1])),
        plot_patches({0: Patches(images, torch.ones(2), torch.arange(2), torch.zeros(2, 2))}),
        plot_neighbours(images[:1], images, torch.tensor([[1, 0]])),
        plot_tsne(torch.rand(2, 2).numpy(), images),
        plot_style_transfer(images[0], torch.rand(3, 5, 9), images[1]),
        plot_faithfulness(
            {"random": deletion_insertion(model, images, classes, torch.rand_like(images), 4)}
        ),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
