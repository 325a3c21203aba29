"""The Square attack and the AutoAttack-style ensemble."""

import pytest
import torch

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.blackbox import Square, square_fraction
from cnnlab.attack.ensemble import AutoAttack
from cnnlab.attack.gradient import APGD


def correct(model, images, labels):
    with torch.no_grad():
        return model(images).argmax(1) == labels


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_square_stays_in_the_ball_and_the_unit_box(digits_model, digits_batch, eps):
    images, labels = digits_batch
    adversarial = Square(eps, queries=100)(digits_model, images, labels)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (per_sample_norm(adversarial - images, "linf") <= eps + 1e-6).all()


def test_square_never_increases_robust_accuracy(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:128], labels[:128]
    adversarial = Square(0.1, queries=200)(digits_model, images, labels)
    clean = correct(digits_model, images, labels)
    robust = correct(digits_model, adversarial, labels)
    assert robust.float().mean() < clean.float().mean()
    # per image: nothing the model got wrong becomes right
    assert not (robust & ~clean).any()


def test_square_leaves_misclassified_images_unchanged(digits_model, digits_batch):
    images, _ = digits_batch
    with torch.no_grad():
        wrong = (digits_model(images).argmax(1) + 1) % 10
    assert torch.equal(Square(0.1, queries=20)(digits_model, images, wrong), images)


def test_square_fraction_halves_on_the_schedule():
    assert square_fraction(0.8, 0, 10_000) == 0.8
    assert square_fraction(0.8, 11, 10_000) == 0.4
    assert square_fraction(0.8, 51, 10_000) == 0.2
    assert square_fraction(0.8, 9_999, 10_000) == pytest.approx(0.8 / 2**9)


def test_autoattack_is_the_worst_case_of_its_components(digits_model, digits_test):
    images, labels = digits_test
    images, labels = images[:96], labels[:96]
    eps = 0.08
    ensemble = AutoAttack(eps, steps=10, queries=100)
    adversarial = ensemble(digits_model, images, labels)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (per_sample_norm(adversarial - images, "linf") <= eps + 1e-6).all()
    robust = correct(digits_model, adversarial, labels)
    components = [
        APGD(eps, steps=10, loss="ce"),
        APGD(eps, steps=10, loss="dlr"),
        Square(eps, queries=100),
    ]
    accuracies = [
        correct(digits_model, attack(digits_model, images, labels), labels).float().mean()
        for attack in components
    ]
    assert robust.float().mean() <= min(accuracies) + 1e-6
    assert not (robust & ~correct(digits_model, images, labels)).any()


def test_autoattack_l2_has_no_square(digits_model, digits_batch):
    ensemble = AutoAttack(1.0, norm="l2", steps=5)
    assert [type(a).__name__ for a in ensemble.attacks] == ["APGD", "APGD"]
    images, labels = digits_batch
    adversarial = ensemble(digits_model, images, labels)
    assert (per_sample_norm(adversarial - images, "l2") <= 1.0 + 1e-5).all()


def test_targeted_square_moves_towards_the_target(digits_model, digits_batch):
    images, labels = digits_batch
    with torch.no_grad():
        predicted = digits_model(images).argmax(1)
    targets = (labels + 1) % 10
    targets[:4] = predicted[:4]  # already reached: left unchanged
    adversarial = Square(0.3, queries=300, targeted=True)(digits_model, images, targets)
    assert torch.equal(adversarial[:4], images[:4])
    assert (per_sample_norm(adversarial - images, "linf") <= 0.3 + 1e-6).all()
    with torch.no_grad():
        reached = (digits_model(adversarial).argmax(1) == targets).float().mean()
    assert reached > 0.5
