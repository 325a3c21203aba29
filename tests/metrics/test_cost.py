"""Parameter, multiply-add (FLOP), size and latency counts of small models."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.errors import ConfigError
from cnnlab.metrics import (
    count_flops,
    count_parameters,
    measure_latency,
    model_cost,
    model_size_bytes,
    trace_macs,
)


@pytest.mark.parametrize(
    ("d", "k", "f", "stride", "padding", "size"),
    [(3, 8, 3, 1, 0, 16), (1, 6, 5, 1, 2, 28), (16, 4, 3, 2, 1, 15)],
)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_conv_flops_follow_the_hand_formula(d, k, f, stride, padding, size, batch_size):
    conv = nn.Conv2d(d, k, f, stride=stride, padding=padding)
    out = (size + 2 * padding - f) // stride + 1
    expected = 2 * k * f * f * d * out * out * batch_size
    assert count_flops(conv, (d, size, size), batch_size=batch_size) == expected


def test_linear_flops_are_two_per_weight_per_image():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))
    assert count_flops(model, (3, 4, 4), batch_size=2) == 2 * 48 * 10 * 2


def test_count_flops_restores_training_mode():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    count_flops(model, (1, 8, 8))
    assert model.training


def test_count_parameters_equals_sum_of_numel_and_respects_freezing():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4))
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    model[0].requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 16 + 8 * 4 + 4


def test_model_size_counts_parameters_and_buffers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    params = 8 * 3 * 9 + 8 + 16
    buffers = 16 * 4 + 8  # running mean/var in float32, num_batches_tracked in int64
    assert model_size_bytes(model) == 4 * params + buffers


def test_measure_latency_reports_positive_times():
    stats = measure_latency(nn.Conv2d(1, 2, 3), (1, 8, 8), batch_size=2, warmup=1, repeats=3)
    assert 0 < stats["min_ms"] <= stats["median_ms"] <= stats["max_ms"]
    assert stats["images_per_s"] > 0 and stats["repeats"] == 3


def test_model_cost_macs_are_half_the_flops():
    cost = model_cost(nn.Conv2d(1, 2, 3), (1, 5, 5))
    assert cost["flops"] == 2 * cost["macs"] == 2 * 2 * 9 * 9
    assert cost["parameters"] == cost["trainable_parameters"] == 20


def test_input_shape_must_exclude_the_batch():
    with pytest.raises(ConfigError, match="channels, height, width"):
        count_flops(nn.Conv2d(1, 2, 3), (1, 1, 8, 8))


def test_flops_follow_model_dtype():
    model = nn.Linear(4, 2).to(torch.float64)
    assert count_flops(nn.Sequential(nn.Flatten(), model), (1, 2, 2)) == 16


class _Scaled(nn.Module):
    """A container whose own forward does a matrix product besides its child's work."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.register_buffer("mix", torch.eye(4))

    def forward(self, x):
        y = self.conv(x).flatten(2).transpose(1, 2)
        return y @ self.mix


def test_each_call_gets_the_multiply_adds_it_runs_itself():
    model = nn.Sequential(_Scaled(), nn.Flatten(), nn.Linear(36 * 4, 3))
    calls = {call.name: call for call in trace_macs(model, torch.rand(2, 2, 8, 8))}
    assert calls["0.conv"].macs == 2 * 4 * 2 * 9 * 36
    assert calls["0"].macs == 2 * 36 * 4 * 4  # the product in its own forward, not the conv's
    assert calls["2"].macs == 2 * 36 * 4 * 3
    assert calls["1"].macs == calls[""].macs == 0
    assert calls["0.conv"].input_shape == (2, 2, 8, 8)
    assert calls["0.conv"].output_shape == (2, 4, 6, 6)


def test_multiply_adds_of_the_calls_add_up_to_torch_flop_counter():
    model = nn.Sequential(_Scaled(), nn.ReLU(), nn.Flatten(), nn.Linear(36 * 4, 3))
    x = torch.rand(3, 2, 8, 8)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert 2 * sum(call.macs for call in trace_macs(model, x)) == counter.get_total_flops()
    assert count_flops(model, (2, 8, 8), batch_size=3) == counter.get_total_flops()


class _Sparse(nn.Conv2d):
    """A convolution that declares only half of its multiply-adds as needed."""

    def multiply_adds(self, output):
        return self.weight.numel() * output.shape[0] * output.shape[-2] * output.shape[-1] // 2


def test_a_module_can_declare_the_multiply_adds_it_needs():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), _Sparse(2, 2, 3))
    dense = count_flops(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)), (1, 9, 9))
    calls = {call.name: call for call in trace_macs(model, torch.rand(1, 1, 9, 9))}
    assert calls["1"].macs == 2 * 2 * 9 * 5 * 5 // 2
    assert count_flops(model, (1, 9, 9)) == dense - 2 * calls["1"].macs


def test_tracing_restores_every_mode_and_leaves_no_hooks():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(), nn.BatchNorm2d(2)).train()
    model[1].eval()
    trace_macs(model, torch.rand(1, 1, 8, 8))
    assert [m.training for m in model] == [True, False, True]
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
