"""The learning-rate range test (Smith 2017, Sec. 3.3)."""

import copy
import math

import pytest
import torch

from cnnlab import TrainConfig, Trainer
from cnnlab.compose import lr_find
from cnnlab.data import load_data
from cnnlab.errors import ConfigError
from cnnlab.train.lr_find import geometric_lrs, lr_range_test, smooth_losses, suggest_lr

TINY = {"model": "simple_cnn", "model_kwargs": {"channels": [4, 8]}, "batch_size": 16}


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", seed=0)


def test_suggestion_is_the_steepest_descent_of_a_monotone_toy_loss():
    lrs = geometric_lrs(1e-6, 1.0, 121)
    # Falls from 2 to 0, fastest at log10(lr) = -3.
    losses = [1.0 - math.tanh(2.0 * (math.log10(lr) + 3.0)) for lr in lrs]
    suggestion, min_loss_lr = suggest_lr(lrs, losses)
    assert 1e-3 / 1.1 < suggestion < 1e-3 * 1.1
    assert min_loss_lr == pytest.approx(1.0 / 10)


def test_bias_corrected_smoothing_keeps_a_constant_loss_constant():
    assert smooth_losses([2.0, 2.0, 2.0], beta=0.98) == pytest.approx([2.0, 2.0, 2.0])


def test_a_rate_range_that_does_not_grow_is_refused():
    with pytest.raises(ConfigError, match="larger than start_lr"):
        geometric_lrs(1.0, 0.1, 10)
    with pytest.raises(ConfigError, match="steps"):
        geometric_lrs(1e-7, 10.0, 1)


def test_lrs_are_geometric_from_start_to_end(digits):
    config = TrainConfig(**TINY, optimizer="sgd")
    result = lr_find(config, start_lr=1e-5, end_lr=1e-2, steps=10, data=digits)
    assert len(result.lrs) == len(result.losses) == 10
    assert result.lrs[0] == pytest.approx(1e-5)
    assert result.lrs[-1] == pytest.approx(1e-2)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert ratios == pytest.approx([1e3 ** (1 / 9)] * 9)
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]


def test_divergence_stops_the_test_early(digits):
    config = TrainConfig(**TINY, optimizer="sgd")
    result = lr_find(config, start_lr=1e-3, end_lr=1e4, steps=60, data=digits)
    assert 2 <= len(result.lrs) < 60


def test_weights_optimizer_and_rng_are_restored(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(TrainConfig(**TINY, optimizer="adam", ema=0.9), quiet=True, data=digits)
    weights = copy.deepcopy(trainer.model.state_dict())
    optimizer = copy.deepcopy(trainer.optimizer.state_dict())
    ema = copy.deepcopy(trainer.technique("ema").state_dict())
    rng = torch.get_rng_state()
    lr_range_test(trainer, start_lr=1e-4, end_lr=1.0, steps=8)
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    for key, value in trainer.technique("ema").state_dict().items():
        assert torch.equal(value, ema[key]), key
    assert trainer.optimizer.state_dict() == optimizer  # no Adam moments, the same lr
    assert all(p.grad is None for p in trainer.model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
    assert not any(tmp_path.iterdir())  # the run directory is never created


def test_the_batches_are_the_trainers_epoch_after_epoch(digits):
    config = TrainConfig(**TINY, augment=["alternating_flip", "crop:2"], mixup=0.2)
    trainer = Trainer(config, quiet=True, data=digits)
    expected = []
    for epoch in range(2):
        loader, generator = trainer.training_epoch(epoch)
        expected += [(b.inputs, b.targets) for b in trainer.training_batches(loader, generator)]
    stream = trainer.batch_stream()
    for x, t in expected:
        batch, _ = next(stream)
        assert torch.equal(batch.inputs, x) and torch.equal(batch.targets, t)
