"""Model-parameter randomization test (Adebayo et al. 2018, "Sanity checks for saliency maps",
Sec. 3.1): a map that explains the model must change when the model's weights are randomized."""

from __future__ import annotations

import pytest
import torch

from cnnlab.explain.methods import ATTRIBUTIONS
from tests.explain.conftest import tiny_cnn

METHODS = {
    "saliency": {},
    "integrated-gradients": {},
    "grad-cam": {},
    "guided-backprop": {},
    "occlusion": {"window": 2, "stride": 2},
}


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's ρ of the two maps' absolute values (the statistic of Adebayo et al.)."""
    ranks = [v.abs().flatten().argsort().argsort().double() for v in (a, b)]
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


@pytest.mark.parametrize("name", METHODS)
def test_randomizing_the_weights_changes_the_map(name):
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    method, options = ATTRIBUTIONS[name], METHODS[name]
    trained, randomized = tiny_cnn(seed=0), tiny_cnn(seed=1)
    original = method(trained, x, 0, **options)
    assert rank_correlation(original, method(trained, x, 0, **options)) == pytest.approx(1.0)
    assert rank_correlation(original, method(randomized, x, 0, **options)) < 0.9
