"""ROAD (Rong et al. 2022): noisy linear imputation and MoRF/LeRF curves."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.explain.road import DIAGONAL, DIRECT, noisy_linear_imputation, road


def test_one_removed_pixel_is_the_weighted_mean_of_its_neighbours():
    image = torch.rand(2, 5, 5, dtype=torch.float64)
    removed = torch.zeros(5, 5, dtype=torch.bool)
    removed[2, 3] = True
    out = noisy_linear_imputation(image, removed, noise=0.0)
    patch = image[:, 1:4, 2:5].numpy()
    weights = np.array(
        [[DIAGONAL, DIRECT, DIAGONAL], [DIRECT, 0, DIRECT], [DIAGONAL, DIRECT, DIAGONAL]]
    )
    expected = (patch * weights).sum((1, 2)) / weights.sum()
    np.testing.assert_allclose(out[:, 2, 3].numpy(), expected)
    kept = ~removed
    assert torch.equal(out[:, kept], image[:, kept])


def test_a_linear_ramp_is_imputed_exactly_inside_the_image():
    ys, xs = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    image = (0.3 * ys - 0.2 * xs + 1.0)[None].double()
    removed = torch.zeros(12, 12, dtype=torch.bool)
    removed[3:9, 4:8] = True  # a block: its pixels depend on each other
    removed[5, 1] = True
    out = noisy_linear_imputation(image, removed, noise=0.0)
    torch.testing.assert_close(out, image)
    noisy = noisy_linear_imputation(image, removed, noise=0.05)
    spread = (noisy - image)[0, removed].std().item()
    assert 0.02 < spread < 0.1 and torch.equal(noisy[0, ~removed], image[0, ~removed])


def test_morf_falls_below_lerf_for_the_exact_attribution_of_a_linear_model():
    torch.manual_seed(0)
    weight = torch.randn(1, 1, 10, 10)
    linear = nn.Linear(100, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([torch.zeros(100), weight.flatten()]))
    model = nn.Sequential(nn.Flatten(), linear).eval()
    x = torch.rand(4, 1, 10, 10)
    exact = weight * x  # each pixel's contribution to the class-1 logit
    curves = road(model, x, 1, exact, fractions=(0.2, 0.4, 0.6))
    assert curves.morf.shape == (4, 3)
    assert (curves.morf_auc < curves.lerf_auc).all()
    reversed_map = road(model, x, 1, -exact, fractions=(0.2, 0.4, 0.6))
    torch.testing.assert_close(reversed_map.morf, curves.lerf, atol=0.05, rtol=0)


def test_bad_inputs_are_config_errors():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ConfigError, match="do not match"):
        road(model, x, 0, torch.rand(1, 1, 3, 3))
    with pytest.raises(ConfigError, match="fractions"):
        road(model, x, 0, torch.rand(1, 1, 4, 4), fractions=(0.5, 1.0))
    with pytest.raises(ConfigError, match="mask"):
        noisy_linear_imputation(x[0], torch.zeros(3, 3, dtype=torch.bool))
