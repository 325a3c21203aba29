"""Universal adversarial perturbations and their transfer matrix."""

import pytest
import torch

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.universal import (
    UniversalPerturbation,
    fooling_rate,
    transfer_matrix,
    universal_perturbation,
)
from cnnlab.errors import ConfigError


@pytest.mark.parametrize(("norm", "xi"), [("linf", 0.15), ("l2", 3.0)])
def test_universal_perturbation_respects_xi_and_reports_its_fooling_rate(
    digits_model, digits_test, norm, xi
):
    images = digits_test[0][:48]
    result = universal_perturbation(digits_model, images, xi=xi, norm=norm, max_passes=2)
    assert isinstance(result, UniversalPerturbation)
    assert result.perturbation.shape == images.shape[1:]
    assert per_sample_norm(result.perturbation[None], norm).item() <= xi + 1e-5
    assert 1 <= result.passes <= 2
    assert result.fooling_rate == pytest.approx(
        fooling_rate(digits_model, images, result.perturbation)
    )
    with torch.no_grad():
        clean = digits_model(images).argmax(1)
        fooled = digits_model(result.apply(images)).argmax(1) != clean
    assert result.fooling_rate == pytest.approx(fooled.float().mean().item())
    assert result.fooling_rate > 0.2
    assert result.apply(images).min() >= 0 and result.apply(images).max() <= 1


def test_universal_perturbation_stops_at_the_target_fooling_rate(digits_model, digits_test):
    images = digits_test[0][:64]
    result = universal_perturbation(
        digits_model, images, xi=0.5, norm="linf", delta=0.9, max_passes=5
    )
    assert result.fooling_rate >= 0.1 and result.passes == 1


def test_universal_perturbation_checks_its_options(digits_model, digits_test):
    images = digits_test[0][:4]
    with pytest.raises(ConfigError, match="delta"):
        universal_perturbation(digits_model, images, delta=1.0)
    with pytest.raises(ConfigError, match="eps"):
        universal_perturbation(digits_model, images, xi=2.0, norm="linf")
    with pytest.raises(ConfigError, match="at least one image"):
        universal_perturbation(digits_model, images[:0])


def test_transfer_matrix_shape_and_diagonal(digits_model, digits_test):
    images = digits_test[0][:64]
    torch.manual_seed(0)
    other = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(images[0].numel(), 10)).eval()
    models = {"lenet": digits_model, "linear": other}
    perturbations = {
        name: universal_perturbation(model, images, xi=0.15, max_passes=1).perturbation
        for name, model in models.items()
    }
    perturbations["zero"] = torch.zeros_like(images[0])
    matrix = transfer_matrix(models, perturbations, images)
    assert list(matrix) == ["lenet", "linear", "zero"]
    assert all(list(row) == ["lenet", "linear"] for row in matrix.values())
    for name, model in models.items():
        assert matrix[name][name] == pytest.approx(fooling_rate(model, images, perturbations[name]))
    assert matrix["zero"] == {"lenet": 0.0, "linear": 0.0}
    assert all(0 <= rate <= 1 for row in matrix.values() for rate in row.values())
