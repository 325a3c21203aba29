import math

import pytest
import torch

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.train.optim import (
    OPTIMIZERS,
    build_optimizer,
    build_scheduler,
    exclude_from_decay,
)


def _params():
    return [torch.nn.Parameter(torch.ones(2))]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_reduces_a_quadratic(name):
    param = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    lr = 1.0 if name == "adadelta" else 0.05
    optimizer = build_optimizer(name, [param], lr)
    for _ in range(50):
        optimizer.zero_grad()
        (param**2).sum().backward()
        optimizer.step()
    assert (param**2).sum().item() < 13.0 * 0.9


def test_adamw_decays_weights_decoupled_from_the_gradient():
    param = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = build_optimizer("adamw", [param], 0.1, weight_decay=0.5)
    param.grad = torch.zeros(1)
    optimizer.step()
    assert param.item() == pytest.approx(1.0 - 0.1 * 0.5)


def _conv_bn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))


def test_no_bias_decay_leaves_biases_and_norm_parameters_alone():
    model = _conv_bn()
    before = [p.detach().clone() for p in model.parameters()]
    groups = exclude_from_decay(model.parameters())
    optimizer = build_optimizer("sgd", groups, 0.1, momentum=0.0, weight_decay=0.5)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    conv_weight, conv_bias, bn_weight, bn_bias = model.parameters()
    # SGD with zero gradient and L2 decay λ: w ← w − lr·λ·w.
    torch.testing.assert_close(conv_weight, before[0] * (1 - 0.1 * 0.5))
    for param, old in zip((conv_bias, bn_weight, bn_bias), before[1:], strict=True):
        torch.testing.assert_close(param, old)


def test_no_bias_decay_keeps_each_groups_own_options():
    model = _conv_bn()
    conv, bn = model
    groups = exclude_from_decay(
        [{"params": list(conv.parameters()), "lr": 0.01}, {"params": list(bn.parameters())}]
    )
    assert [(len(g["params"]), g.get("lr"), g.get("weight_decay")) for g in groups] == [
        (1, 0.01, None),
        (1, 0.01, 0.0),
        (2, None, 0.0),
    ]
    optimizer = build_optimizer("sgd", groups, 0.1, weight_decay=1e-4)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [1e-4, 0.0, 0.0]


def test_unknown_optimizer_lists_the_valid_names():
    with pytest.raises(UnknownNameError, match="adamw"):
        build_optimizer("sgdd", _params(), 0.1)


def test_negative_learning_rate_is_refused():
    with pytest.raises(ConfigError, match="lr must be > 0"):
        build_optimizer("sgd", _params(), -1.0)


def _lrs(name, epochs=4, steps=10, **kwargs):
    optimizer = build_optimizer("sgd", _params(), 1.0)
    scheduler = build_scheduler(name, optimizer, epochs=epochs, steps_per_epoch=steps, **kwargs)
    lrs = []
    for _ in range(epochs * steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_cosine_with_warmup_rises_linearly_then_follows_half_a_cosine():
    lrs = _lrs("cosine", warmup_epochs=1)
    assert lrs[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    expected = [0.5 * (1 + math.cos(math.pi * i / 30)) for i in range(30)]
    assert lrs[10:] == pytest.approx(expected)


def test_linear_with_warmup_rises_then_falls_in_a_straight_line_towards_zero():
    lrs = _lrs("linear", warmup_epochs=1)
    assert lrs[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert lrs[10:] == pytest.approx([1 - i / 30 for i in range(30)])
    assert _lrs("linear")[-1] == pytest.approx(1 / 40)  # the last step's rate, one step from 0


def test_step_schedule_divides_by_gamma_every_step_epochs():
    lrs = _lrs("step", step_epochs=2, gamma=0.1)
    assert lrs[0] == 1.0 and lrs[19] == 1.0
    assert lrs[20] == pytest.approx(0.1) and lrs[39] == pytest.approx(0.1)


def test_onecycle_peaks_at_the_given_rate():
    lrs = _lrs("onecycle")
    assert max(lrs) == pytest.approx(1.0, rel=1e-3)
    assert lrs[0] < 0.1 and lrs[-1] < 1e-3


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_use_pytorchs_fused_kernel_where_there_is_one(name):
    optimizer = build_optimizer(name, [torch.nn.Parameter(torch.ones(3))], 0.1)
    implementation = "fused" if name in ("sgd", "adagrad", "adam", "adamw") else "foreach"
    assert optimizer.defaults[implementation] is True


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "adagrad"])
def test_fused_steps_equal_the_reference_loop(name):
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(3)]
    fused = [torch.nn.Parameter(t.clone()) for t in start]
    loop = [torch.nn.Parameter(t.clone()) for t in start]
    options = {"lr": 0.05, "weight_decay": 1e-3}
    if name == "sgd":
        options.update(momentum=0.9, nesterov=True)
    reference = getattr(
        torch.optim, {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad"}[name]
    )(loop, foreach=False, **options)
    optimizer = build_optimizer(name, fused, **options)
    for _ in range(5):
        for params, opt in ((fused, optimizer), (loop, reference)):
            opt.zero_grad()
            (params[0].sin().sum() + (params[1] ** 2).sum()).backward()
            opt.step()
    for a, b in zip(fused, loop, strict=True):
        torch.testing.assert_close(a, b)
