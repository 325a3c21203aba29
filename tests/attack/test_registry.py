"""Every attack of the registry, built as the command line builds it."""

import pytest
import torch

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.registry import ATTACKS, create_attack, parse_eps
from cnnlab.errors import ConfigError

FEW_STEPS = {"square": 20, "lbfgs": 5, "autoattack": 3}


@pytest.mark.parametrize("method", sorted(ATTACKS))
def test_every_attack_stays_in_the_box_and_its_ball(digits_model, digits_batch, method):
    images, labels = digits_batch
    images, labels = images[:6], labels[:6]
    info = ATTACKS[method]
    steps = None if method == "fgsm" else FEW_STEPS.get(method, 3)
    eps = 0.3 if info.bounded else None  # large: AutoAttack's Square has little left to do
    for norm in info.norms:
        radius = eps if norm == "linf" or eps is None else 3.0
        attack = create_attack(method, eps=radius, norm=norm, steps=steps)
        adversarial = attack(digits_model, images, labels)
        assert adversarial.shape == images.shape
        assert adversarial.min() >= 0 and adversarial.max() <= 1
        if info.bounded:
            assert (per_sample_norm(adversarial - images, norm) <= radius + 1e-5).all()


def test_parse_eps():
    assert parse_eps("8/255") == pytest.approx(8 / 255)
    assert parse_eps(" 0.3 ") == 0.3
    for bad in ("1/0", "eight", ""):
        with pytest.raises(ConfigError, match="8/255"):
            parse_eps(bad)


def test_targeted_attacks_are_built_targeted():
    for method, info in ATTACKS.items():
        if info.targeted:
            eps = 0.1 if info.bounded else None
            assert create_attack(method, eps=eps, targeted=True).targeted, method


def test_random_attacks_follow_the_seed(digits_model, digits_batch):
    images, labels = digits_batch
    first = create_attack("pgd", eps=0.1, steps=2, seed=3)(digits_model, images, labels)
    second = create_attack("pgd", eps=0.1, steps=2, seed=3)(digits_model, images, labels)
    assert torch.equal(first, second)
