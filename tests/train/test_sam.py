"""Sharpness-aware minimization: the ascent step against NumPy, and one Trainer step."""

import copy

import numpy as np
import pytest
import torch
from tests.train.conftest import NanAfter, small_digits, small_sgd_config
from torch import nn

from cnnlab import Trainer
from cnnlab.data import make_loader
from cnnlab.errors import ConfigError, TrainingDivergedError
from cnnlab.runs import load_state
from cnnlab.train import sam


def _quadratic_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1, bias=False))


def test_ascent_moves_the_weights_by_rho_along_the_normalized_gradient_and_back():
    model = _quadratic_model()
    x = torch.randn(5, 3)
    model(x).pow(2).mean().backward()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    rho = 0.3
    with sam.ascent(model, rho):
        for p, w, g in zip(model.parameters(), before, grads, strict=True):
            np.testing.assert_allclose(p.detach().numpy(), w + rho * g / norm, rtol=1e-6)
            assert p.grad is None
        model(x).pow(2).mean().backward()
        perturbed_grads = [p.grad.clone() for p in model.parameters()]
    for p, w in zip(model.parameters(), before, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), w, atol=1e-7)
    for p, g in zip(model.parameters(), perturbed_grads, strict=True):
        torch.testing.assert_close(p.grad, g)  # the gradient at w + ε̂ is what stays


def test_ascent_gradient_matches_the_closed_form_of_a_quadratic():
    """L(w) = ½ wᵀAw: SAM's gradient is A(w + ρ Aw / ‖Aw‖)."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    a = m @ m.T + np.eye(4)
    w0 = rng.normal(size=4)
    weight = nn.Parameter(torch.tensor(w0))
    holder = nn.Module()
    holder.weight = weight
    matrix = torch.tensor(a)
    loss = lambda: 0.5 * weight @ matrix @ weight  # noqa: E731
    loss().backward()
    with sam.ascent(holder, 0.1):
        loss().backward()
    g = a @ w0
    np.testing.assert_allclose(weight.grad.numpy(), a @ (w0 + 0.1 * g / np.linalg.norm(g)))
    np.testing.assert_allclose(weight.detach().numpy(), w0)


def test_ascent_leaves_batch_norm_statistics_to_the_first_pass():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.BatchNorm2d(2, momentum=None))
    x = torch.randn(4, 1, 6, 6)
    model(x).sum().backward()
    state = copy.deepcopy(model.state_dict())
    with sam.ascent(model, 0.05):
        model(x + 1).sum().backward()
    for name, value in model.state_dict().items():
        if "running" in name or "num_batches" in name:
            torch.testing.assert_close(value, state[name])
    assert model[1].momentum == 0.1 and model[2].momentum is None


def test_a_trainer_step_with_sam_steps_along_the_gradient_at_the_perturbed_weights(tmp_path):
    """One full-batch SGD step: w' = w − lr ∇L(w + ρ g/‖g‖), g = ∇L(w) (Foret et al. Alg. 1)."""
    data, rho, lr = small_digits(64), 0.2, 0.5
    config = small_sgd_config(sam=rho, lr=lr, batch_size=64)
    trainer = Trainer(config, tmp_path / "sam", quiet=True, data=data)
    model = copy.deepcopy(trainer.model)
    trainer.fit()

    images, labels = next(iter(make_loader(data.train, 64, shuffle=False)))
    params = list(model.parameters())

    def gradient():
        loss = nn.functional.cross_entropy(model(images), labels)
        return [g.double().numpy() for g in torch.autograd.grad(loss, params)]

    w = [p.detach().double().numpy().copy() for p in params]
    g = gradient()
    norm = np.sqrt(sum((gi**2).sum() for gi in g))
    with torch.no_grad():
        for p, wi, gi in zip(params, w, g, strict=True):
            p.copy_(torch.from_numpy(wi + rho * gi / norm))
    g_sam = gradient()
    expected = [wi - lr * gi for wi, gi in zip(w, g_sam, strict=True)]
    plain_step = [wi - lr * gi for wi, gi in zip(w, g, strict=True)]
    for p, e in zip(trainer.model.parameters(), expected, strict=True):
        np.testing.assert_allclose(p.detach().double().numpy(), e, rtol=1e-4, atol=1e-6)
    assert any(
        not np.allclose(p.detach().double().numpy(), plain, atol=1e-6)
        for p, plain in zip(trainer.model.parameters(), plain_step, strict=True)
    )


def test_a_non_finite_loss_at_the_perturbed_weights_stops_the_run_and_names_sam(tmp_path):
    config = small_sgd_config(sam=0.05, epochs=2)
    trainer = Trainer(config, tmp_path / "run", quiet=True, data=small_digits(64))
    # Two batches an epoch, two passes a batch: call 6 is epoch 2, batch 1, second pass.
    trainer.task.criterion = NanAfter(2 * trainer.steps_per_epoch + 2)
    with pytest.raises(TrainingDivergedError, match=r"SAM-perturbed.*epoch 2, step 1.*--sam"):
        trainer.fit()
    saved = load_state(tmp_path / "run" / "last.safetensors")
    assert saved["trainer"]["epoch"] == 1
    for name, weight in trainer.model.state_dict().items():  # back at w, no NaN step taken
        torch.testing.assert_close(weight, saved["model"][name])


@pytest.mark.parametrize(
    "options", [dict(sam=-0.1), dict(sam=0.05, accumulate=2), dict(sam=0.05, precision="fp16")]
)
def test_bad_sam_settings_are_refused(options):
    with pytest.raises(ConfigError):
        small_sgd_config(**options)
