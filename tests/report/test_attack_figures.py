"""Figures of attacks (cnnlab.report.attack_figures): example grids and accuracy curves."""

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.report.attack_figures import plot_accuracy_curves, plot_adversarial_examples


def test_example_grid_titles_name_both_predictions_and_the_perturbation():
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    adversarial = (images + 0.05).clamp(0, 1)
    names = [str(i) for i in range(10)]
    fig = plot_adversarial_examples(images, adversarial, [1, 2, 3], [4, 5, 6], names)
    titles = [ax.get_title() for ax in fig.axes]
    assert "clean: 1" in titles and "adversarial: 6" in titles
    assert "δ: L∞ 0.050, L2 0.40" in titles
    with pytest.raises(ConfigError):
        plot_adversarial_examples(images, adversarial[:2], [1], [2], names)


def test_the_perturbation_map_is_symmetric_about_zero_and_spans_eps():
    images = torch.full((2, 3, 8, 8), 0.5)
    adversarial = images + 0.02 * torch.sign(torch.randn(2, 3, 8, 8))
    fig = plot_adversarial_examples(images, adversarial, [0, 1], [1, 0], ["a", "b"], eps=0.1)
    deltas = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "RdBu_r"]
    assert len(deltas) == 2 and all(im.get_clim() == (-0.1, 0.1) for im in deltas)


def test_accuracy_curves_have_one_line_per_attack():
    fig = plot_accuracy_curves({"pgd": ([0, 0.1], [0.9, 0.2]), "fgsm": ([0, 0.1], [0.9, 0.5])})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["pgd", "fgsm"]
    with pytest.raises(ConfigError, match="empty"):
        plot_accuracy_curves({})
