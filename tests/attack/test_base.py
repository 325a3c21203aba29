"""The contract every attack shares: pixel space, a frozen model restored afterwards."""

import pytest
import torch
from torch import nn

from cnnlab.attack.base import check_batch, frozen, per_sample_norm, project, random_in_ball
from cnnlab.attack.gradient import PGD
from cnnlab.errors import ConfigError, DataError


def test_attack_restores_training_mode_and_requires_grad(digits_model, digits_batch):
    images, labels = digits_batch
    model = digits_model
    model.train()
    first = next(model.parameters())
    first.requires_grad_(False)
    try:
        PGD(0.1, steps=2)(model, images[:4], labels[:4])
        assert model.training
        assert not first.requires_grad
        assert all(p.requires_grad for p in list(model.parameters())[1:])
    finally:
        first.requires_grad_(True)
        model.eval()


def test_attack_leaves_no_parameter_gradient_and_no_graph(digits_model, digits_batch):
    images, labels = digits_batch
    adversarial = PGD(0.1, steps=2)(digits_model, images[:4], labels[:4])
    assert all(p.grad is None for p in digits_model.parameters())
    assert not adversarial.requires_grad and adversarial.grad_fn is None


def test_frozen_restores_state_after_an_exception():
    model = nn.Linear(2, 2).train()
    with pytest.raises(RuntimeError), frozen(model):
        assert not model.training and not model.weight.requires_grad
        raise RuntimeError
    assert model.training and model.weight.requires_grad


def test_images_outside_unit_interval_are_rejected_with_a_hint():
    with pytest.raises(DataError, match="Normalize"):
        check_batch(torch.full((1, 1, 4, 4), 2.0), torch.tensor([0]))


def test_labels_of_the_wrong_length_are_rejected():
    with pytest.raises(DataError, match="labels"):
        check_batch(torch.zeros(2, 1, 4, 4), torch.tensor([0]))


def test_linf_eps_above_one_is_rejected_with_a_hint():
    with pytest.raises(ConfigError, match="8/255"):
        PGD(8)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_and_projection_stay_in_the_ball(norm):
    generator = torch.Generator().manual_seed(0)
    like = torch.zeros(64, 1, 8, 8)
    sample = random_in_ball(like, 0.3, norm, generator)
    assert (per_sample_norm(sample, norm) <= 0.3 + 1e-6).all()
    big = torch.randn(64, 1, 8, 8, generator=generator) * 5
    assert torch.allclose(per_sample_norm(project(big, 0.3, norm), norm), torch.full((64,), 0.3))
