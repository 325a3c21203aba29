"""Adversarial training batches and the TRADES loss."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.attack.base import per_sample_norm
from cnnlab.attack.defense import (
    TRADES,
    AdversarialExamples,
    adversarial_batch,
    adversarial_training,
    trades_loss,
)
from cnnlab.errors import ConfigError
from cnnlab.train.config import TrainConfig


@pytest.mark.parametrize("method", ["fgsm-rs", "pgd"])
def test_adversarial_batch_is_in_the_ball_and_keeps_the_model_mode(
    digits_model, digits_batch, method
):
    images, labels = digits_batch
    digits_model.train()
    try:
        adversarial = adversarial_batch(digits_model, images, labels, method, 0.1, steps=3)
        assert digits_model.training
    finally:
        digits_model.eval()
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert (per_sample_norm(adversarial - images, "linf") <= 0.1 + 1e-6).all()
    assert all(p.requires_grad for p in digits_model.parameters())
    with torch.no_grad():
        assert F.cross_entropy(digits_model(adversarial), labels) > F.cross_entropy(
            digits_model(images), labels
        )


def test_trades_with_beta_zero_is_the_clean_loss(digits_model, digits_batch):
    images, labels = digits_batch
    logits, loss = trades_loss(digits_model, images, labels, 0.1, beta=0.0, steps=2)
    torch.testing.assert_close(loss, F.cross_entropy(digits_model(images), labels))
    assert logits.shape == (len(images), 10)
    _, robust = trades_loss(digits_model, images, labels, 0.1, beta=6.0, steps=2)
    assert robust > loss and robust.requires_grad


def test_adversarial_training_checks_its_options():
    with pytest.raises(ConfigError):
        AdversarialExamples("free", eps=0.1, steps=1)
    with pytest.raises(ConfigError, match="8/255"):
        AdversarialExamples("pgd", eps=8, steps=1)
    with pytest.raises(ConfigError, match="8/255"):
        TRADES(eps=8, steps=1, beta=1.0)


def test_adversarial_training_is_chosen_by_the_config():
    assert adversarial_training(TrainConfig()) is None
    assert isinstance(adversarial_training(TrainConfig(adv_train="trades")), TRADES)
    chosen = adversarial_training(TrainConfig(adv_train="fgsm-rs", adv_eps=0.1))
    assert isinstance(chosen, AdversarialExamples) and chosen.method == "fgsm-rs"
