"""Adversarial training through the Trainer (cnnlab.attack.defense)."""

import pytest
import torch

from cnnlab import TrainConfig, Trainer
from cnnlab.attack.gradient import PGD
from cnnlab.errors import ConfigError


def _robust_accuracy(trainer, eps):
    model = trainer.eval_model.eval()
    images = trainer.data.test.images[:200].float() / 255
    labels = trainer.data.test.labels[:200]
    adversarial = PGD(eps, steps=10, seed=0)(model, images, labels)
    with torch.no_grad():
        return (model(adversarial).argmax(1) == labels).float().mean().item()


@pytest.mark.parametrize("method", ["fgsm-rs", "pgd", "trades"])
def test_adversarial_training_trains_and_records_its_options(method, tmp_path):
    config = TrainConfig(epochs=1, adv_train=method, adv_eps=0.1, adv_steps=3, seed=1)
    trainer = Trainer(config, tmp_path / method, quiet=True)
    trainer.fit()
    assert trainer.history[0]["train_loss"] < 2.3  # learning, below the loss of chance
    assert (tmp_path / method / "config.yaml").read_text().count(f"adv_train: {method}") == 1


def test_pgd_training_is_more_robust_than_standard_training(tmp_path):
    common = dict(epochs=4, seed=2, augment=[])
    standard = Trainer(TrainConfig(**common), tmp_path / "std", quiet=True)
    standard.fit()
    robust = Trainer(
        TrainConfig(adv_train="pgd", adv_eps=0.1, adv_steps=5, **common),
        tmp_path / "adv",
        quiet=True,
    )
    robust.fit()
    assert _robust_accuracy(robust, 0.1) > _robust_accuracy(standard, 0.1) + 0.1


@pytest.mark.parametrize(
    "options",
    [
        {"adv_train": "free"},
        {"adv_train": "pgd", "adv_eps": 2.0},
        {"adv_train": "trades", "mixup": 0.2},
    ],
)
def test_bad_adversarial_training_options_are_refused(options):
    with pytest.raises(ConfigError):
        TrainConfig(**options)
