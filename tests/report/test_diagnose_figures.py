"""Figures of the per-layer diagnosis (cnnlab.report.diagnose_figures)."""

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.report.diagnose_figures import plot_diagnostics, plot_init_experiment
from cnnlab.train.diagnose import diagnose, init_experiment


def test_diagnostics_figure_draws_statistics_and_histograms():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    fig = plot_diagnostics(diagnose(model, torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])))
    assert isinstance(fig, Figure)
    assert len(fig.subfigs) == 2


def test_init_experiment_figure_has_a_row_per_initialization():
    results = init_experiment(depth=3, width=20, samples=50)
    fig = plot_init_experiment(results)
    assert len(fig.axes) == len(results) * (3 + 1)


def test_empty_statistics_are_refused():
    with pytest.raises(ConfigError, match="No layer statistics"):
        plot_diagnostics([])
    with pytest.raises(ConfigError, match="No experiment results"):
        plot_init_experiment({})
