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
    assert any(t.startswith("δ ×10") for t in titles)
    with pytest.raises(ConfigError):
        plot_adversarial_examples(images, adversarial[:2], [1], [2], names)


def test_accuracy_curves_have_one_line_per_attack():
    fig = plot_accuracy_curves({"pgd": ([0, 0.1], [0.9, 0.2]), "fgsm": ([0, 0.1], [0.9, 0.5])})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["pgd", "fgsm"]
    with pytest.raises(ConfigError, match="empty"):
        plot_accuracy_curves({})
