"""How close training comes to the machine: measured fp32 matmul peak and training FLOP/s.

A convolution network's training step is mostly matrix products (oneDNN
lowers convolutions onto GEMM-like kernels), so the fp32 matrix-multiply rate
of the host is the ceiling a step can approach.  ``matmul_peak`` measures it
(2·n³ floating-point operations per n×n product, the median of repeated
calls); ``training_speed`` measures a model's training steps (forward, backward
and an SGD update at a batch size, channels-last optionally) and counts the
FLOPs of one step with `torch.utils.flop_counter.FlopCounterMode`, so
their ratio is the fraction of peak the step achieves.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.errors import ConfigError
from cnnlab.models.registry import create_model_for_input


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """fp32 GFLOP/s of an n×n matrix product on ``threads`` threads (median of ``repeats``)."""
    if size < 1 or repeats < 1:
        raise ConfigError(f"size and repeats must be >= 1, got {size} and {repeats}.")
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    torch.mm(a, b)  # warm-up: thread pool, packing buffers
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        seconds.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(seconds) / 1e9


@dataclass
class TrainingSpeed:
    """Training steps of one model: images/s and achieved GFLOP/s."""

    model: str
    batch_size: int
    channels_last: bool
    images_per_second: float
    gflop_per_step: float  # forward + backward, counted by FlopCounterMode

    @property
    def gflops(self) -> float:
        return self.gflop_per_step * self.images_per_second / self.batch_size


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    optimizer.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def training_speed(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    batch_size: int = 128,
    channels_last: bool = True,
    threads: int = 2,
    steps: int = 10,
) -> TrainingSpeed:
    """Median images/s of ``steps`` SGD steps of the registered model ``name`` on random data."""
    if batch_size < 1 or steps < 1:
        raise ConfigError(f"batch size and steps must be >= 1, got {batch_size} and {steps}.")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model_for_input(name, num_classes, input_shape).train()
    x = torch.rand(batch_size, *input_shape)
    y = torch.randint(num_classes, (batch_size,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    counter = FlopCounterMode(display=False)
    with counter:
        _step(model, optimizer, x, y)
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        _step(model, optimizer, x, y)
        seconds.append(time.perf_counter() - start)
    return TrainingSpeed(
        name,
        batch_size,
        channels_last,
        batch_size / statistics.median(seconds),
        counter.get_total_flops() / 1e9,
    )


__all__ = ["TrainingSpeed", "matmul_peak", "training_speed"]
