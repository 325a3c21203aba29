"""Robust accuracy, success rate, norms, ρ_adv, accuracy curves and the gradient-masking check."""

import itertools
import math

import pytest
import torch
from torch import nn

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.evaluate import (
    accuracy_curve,
    evaluate_attack,
    gradient_masking_check,
    masking_warnings,
    rho_adv,
    robust_accuracy,
)
from cnnlab.attack.gradient import FGSM, PGD
from cnnlab.attack.minimal import DeepFool


def predict(model, images):
    with torch.no_grad():
        return model(images).argmax(1)


def test_evaluate_attack_numbers_are_consistent(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:100], labels[:100]
    result = evaluate_attack(digits_model, PGD(0.05, steps=5), images, labels, batch_size=33)
    m = result.metrics
    clean = predict(digits_model, images)
    after = predict(digits_model, result.adversarial)
    assert torch.equal(result.clean_predictions, clean)
    assert torch.equal(result.adversarial_predictions, after)
    correct = clean == labels
    fooled = correct & (after != labels)
    assert m["num_images"] == 100
    assert m["clean_accuracy"] == pytest.approx(correct.float().mean().item())
    assert m["robust_accuracy"] == pytest.approx((after == labels).float().mean().item())
    assert m["success_rate"] == pytest.approx(fooled.sum().item() / correct.sum().item())
    robust_on_correct = (correct & (after == labels)).sum().item()
    assert m["success_rate"] == pytest.approx(1 - robust_on_correct / correct.sum().item())
    delta = result.adversarial - images
    for norm in ("linf", "l2", "l0"):
        expected = per_sample_norm(delta[fooled], norm).mean().item()
        assert m[f"mean_{norm}"] == pytest.approx(expected, rel=1e-5)
    assert m["mean_linf"] <= 0.05 + 1e-6
    assert m["seconds"] >= 0 and "PGD" in m["attack"]


def test_evaluate_attack_does_not_depend_on_the_batch_size(digits_model, digits_batch):
    images, labels = digits_batch
    small = evaluate_attack(digits_model, FGSM(0.1), images, labels, batch_size=5)
    large = evaluate_attack(digits_model, FGSM(0.1), images, labels, batch_size=64)
    assert torch.equal(small.adversarial, large.adversarial)
    assert robust_accuracy(digits_model, FGSM(0.1), images, labels) == pytest.approx(
        large.metrics["robust_accuracy"]
    )


def test_targeted_success_rate_counts_reaching_the_target(digits_model, digits_batch):
    images, labels = digits_batch
    targets = torch.full_like(labels, 3)
    result = evaluate_attack(
        digits_model, PGD(0.3, steps=10, targeted=True), images, labels, targets=targets
    )
    clean = predict(digits_model, images)
    eligible = (clean == labels) & (labels != 3)
    reached = (result.adversarial_predictions == 3) & eligible
    assert result.metrics["success_rate"] == pytest.approx(
        reached.sum().item() / eligible.sum().item()
    )
    assert result.metrics["success_rate"] >= 0.9


def test_success_rate_is_nan_without_correct_images(digits_model, digits_batch):
    images, _ = digits_batch
    wrong = (predict(digits_model, images) + 1) % 10
    m = evaluate_attack(digits_model, FGSM(0.1), images, wrong).metrics
    assert m["clean_accuracy"] == 0 and math.isnan(m["success_rate"])
    assert math.isnan(m["mean_l2"])


def test_rho_adv_is_the_mean_ratio_of_l2_norms():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(5, 1, 4, 4, generator=generator)
    adversarial = (images + 0.1 * torch.randn(5, 1, 4, 4, generator=generator)).clamp(0, 1)
    ratios = [
        ((a - x).flatten().norm() / x.flatten().norm()).item()
        for a, x in zip(adversarial, images, strict=True)
    ]
    assert rho_adv(images, adversarial) == pytest.approx(sum(ratios) / 5)
    mask = torch.tensor([True, False, True, False, False])
    assert rho_adv(images, adversarial, mask) == pytest.approx((ratios[0] + ratios[2]) / 2)
    assert rho_adv(images, images) == 0


def test_rho_adv_of_deepfool_is_small_but_positive(digits_model, digits_batch):
    images, labels = digits_batch
    adversarial = DeepFool()(digits_model, images, labels)
    fooled = predict(digits_model, adversarial) != labels
    assert 0 < rho_adv(images, adversarial, fooled) < 1


def test_accuracy_curve_for_pgd_is_non_increasing_in_eps(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:96], labels[:96]
    eps_values = [0, 0.02, 0.05, 0.1, 0.2]
    curve = accuracy_curve(digits_model, lambda eps: PGD(eps, steps=10), eps_values, images, labels)
    assert len(curve) == len(eps_values)
    assert curve[0] == pytest.approx((predict(digits_model, images) == labels).float().mean())
    assert all(b <= a for a, b in itertools.pairwise(curve))
    assert curve[-1] < 0.2


class MaskedGradients(nn.Module):
    """The model's outputs, but a zero input gradient: a textbook case of gradient masking."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x.detach()) + 0 * x.sum()


def test_gradient_masking_check_flags_zero_gradients(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:64], labels[:64]
    check = gradient_masking_check(
        MaskedGradients(digits_model), images, labels, 0.2, steps=5, queries=300
    )
    assert set(check.accuracies) == {"fgsm", "pgd", "square"}
    assert check.suspicious
    assert any("Square" in warning for warning in check.warnings)


def test_gradient_masking_check_passes_a_natural_model(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:64], labels[:64]
    check = gradient_masking_check(digits_model, images, labels, 0.1, steps=10, queries=100)
    assert not check.suspicious, check.warnings


def test_masking_warnings_when_fgsm_beats_pgd():
    assert masking_warnings({"fgsm": 0.5, "pgd": 0.51, "square": 0.52}) == []
    warnings = masking_warnings({"fgsm": 0.2, "pgd": 0.5})
    assert len(warnings) == 1 and "FGSM" in warnings[0]
    assert len(masking_warnings({"fgsm": 0.2, "pgd": 0.5, "square": 0.1})) == 2


def test_evaluate_attack_requires_targets_exactly_for_targeted_attacks(digits_model, digits_batch):
    from cnnlab.errors import ConfigError

    images, labels = digits_batch
    with pytest.raises(ConfigError, match="give targets"):
        evaluate_attack(digits_model, PGD(0.1, steps=1, targeted=True), images, labels)
    with pytest.raises(ConfigError, match="leave out targets"):
        evaluate_attack(digits_model, FGSM(0.1), images, labels, targets=labels)
