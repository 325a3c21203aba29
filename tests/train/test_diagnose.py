"""Per-layer activation and gradient diagnostics."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.train.diagnose import diagnose, init_experiment


class Boom(nn.Module):
    def forward(self, x):
        raise ValueError("boom")


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(inplace=True), nn.Linear(8, 3))


def test_tanh_activations_collapse_with_small_weights_and_not_with_xavier():
    results = init_experiment()
    assert results["tanh, N(0, 0.01²)"][9].std < 1e-6
    assert results["tanh, Xavier"][9].std > 0.05
    assert results["ReLU, He"][9].std > 10 * results["ReLU, Xavier"][9].std
    assert [len(stats) for stats in results.values()] == [10, 10, 10, 10]


def test_dead_relu_fraction_is_exact_for_units_with_a_negative_bias():
    layer = nn.Linear(4, 6)
    with torch.no_grad():
        layer.weight[:2] = 0.0
        layer.bias[:2] = -1.0  # units 0 and 1 output relu(-1) = 0 for every input
        layer.weight[2:] = 0.1
        layer.bias[2:] = 10.0  # the others are always positive
    stats = diagnose(nn.Sequential(layer, nn.ReLU()), torch.randn(32, 4))
    relu = stats[1]
    assert relu.type == "ReLU" and relu.is_activation
    assert relu.dead_fraction == pytest.approx(2 / 6, abs=1e-7)
    assert relu.zero_fraction == pytest.approx(2 / 6, abs=1e-7)
    assert stats[0].dead_fraction is None  # only after ReLU-like activations


def test_gradient_statistics_equal_a_manual_autograd_computation():
    model = _mlp()
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    stats = diagnose(model, x, y)
    assert [s.name for s in stats] == ["0", "1", "2", "3"]

    reference = _mlp().train()
    h = reference[0](x)
    b = reference[1](h)
    r = F.relu(b)
    out = reference[3](r)
    for tensor in (h, b, r, out):
        tensor.retain_grad()
    F.cross_entropy(out, y).backward()
    for s, tensor in zip(stats, (h, b, r, out), strict=True):
        assert s.grad_std == pytest.approx(tensor.grad.std(correction=0).item(), rel=1e-5)
        assert s.std == pytest.approx(tensor.detach().std(correction=0).item(), rel=1e-5)
    fc = reference[0]
    expected = torch.cat([fc.weight.grad.flatten(), fc.bias.grad]).norm().item()
    assert stats[0].grad_norm == pytest.approx(expected, rel=1e-5)
    assert stats[2].grad_norm is None


def test_the_model_is_left_as_it_was():
    model = _mlp().eval()
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    diagnose(model, torch.randn(16, 5))
    assert not model.training
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules())


def test_hooks_are_removed_after_an_error():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), Boom())
    with pytest.raises(ValueError, match="boom"):
        diagnose(model, torch.randn(2, 5))
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training


def test_each_call_of_a_shared_module_is_a_layer_of_its_own():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(3, 3), relu, nn.Linear(3, 3), relu)
    names = [s.name for s in diagnose(model, torch.randn(4, 3))]
    assert names == ["0", "1", "2", "1#2"]


def test_each_call_of_a_shared_module_gets_the_gradient_of_its_own_output():
    torch.manual_seed(0)
    tanh = nn.Tanh()
    model = nn.Sequential(nn.Linear(3, 3), tanh, nn.Linear(3, 3), tanh)
    x, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    stats = {s.name: s for s in diagnose(model, x, labels)}
    first = torch.tanh(model[0](x))
    second = torch.tanh(model[2](first))
    grads = torch.autograd.grad(F.cross_entropy(second, labels), [first, second])
    assert stats["1"].grad_std == pytest.approx(grads[0].std(correction=0).item(), rel=1e-5)
    assert stats["1#2"].grad_std == pytest.approx(grads[1].std(correction=0).item(), rel=1e-5)


def test_histograms_count_every_value_also_outside_a_fixed_range():
    stats = diagnose(nn.Sequential(nn.Linear(3, 7)), torch.randn(5, 3), hist_range=(-0.1, 0.1))
    assert stats[0].hist_counts.sum().item() == 35
    assert len(stats[0].hist_edges) == len(stats[0].hist_counts) + 1


def test_a_model_without_layers_to_record_is_refused():
    with pytest.raises(ConfigError, match="no layers"):
        diagnose(nn.Flatten(), torch.randn(2, 3, 4))


def test_integer_images_are_refused_with_a_hint():
    with pytest.raises(ConfigError, match="float"):
        diagnose(nn.Sequential(nn.Linear(3, 2)), torch.zeros(2, 3, dtype=torch.uint8))
