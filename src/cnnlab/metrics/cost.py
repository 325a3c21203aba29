"""What a model costs: parameters, memory, floating-point operations, latency.

Multiply-adds (MACs) are counted in one place, `trace_macs`: one forward
pass under `torch.utils.flop_counter.FlopCounterMode`, which counts the
matrix multiplications and convolutions (a multiply-accumulate is 2 FLOPs;
element-wise operations such as activations, normalization and bias additions
are not counted), attributed to the module call that runs them.  A convolution
with ``K`` filters of size ``F x F`` over ``D`` input channels producing an
``H_out x W_out`` map costs ``K F^2 D H_out W_out`` MACs per image.  A module
whose forward pass computes more than its architecture needs (a connection
table run as a dense convolution with zero kernels,
`cnnlab.nn.conv.PartialConv2d`) says what it needs with a method
``multiply_adds(output) -> int``, which replaces what was measured for its
call.  `count_flops` (the whole pass) and the layer table
(`cnnlab.models.summary.layer_table`, per layer) are sums of these calls.

References
----------
Canziani, A., Paszke, A. and Culurciello, E. (2016). An analysis of deep neural
network models for practical applications. arXiv:1605.07678.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.errors import ConfigError, check_positive
from cnnlab.nn.hooks import hooks


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once).

    Parameters
    ----------
    model : nn.Module
    trainable_only : bool
        Count only parameters with ``requires_grad`` (e.g. after freezing a backbone).

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_size_bytes(model: nn.Module) -> int:
    """Memory taken by the parameters and buffers (e.g. BatchNorm running statistics).

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    int
        Bytes, at the tensors' current dtypes; roughly the size of the saved weights.
    """
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and give every module its own mode back afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _example_input(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> torch.Tensor:
    """A random batch in [0, 1] on the model's device and floating dtype."""
    if len(input_shape) != 3:
        raise ConfigError(
            f"input_shape must be (channels, height, width) without the batch, got {input_shape}."
        )
    check_positive("batch_size", batch_size)
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    return torch.rand(batch_size, *input_shape, device=device, dtype=dtype)


@dataclass(frozen=True)
class ModuleCall:
    """One call of a module in `trace_macs`' forward pass.

    Attributes
    ----------
    name
        the module's name in ``model.named_modules()`` (``""``: the model itself).
    module
        the module.
    input_shape
        shape of its first positional argument; None if that is not a tensor.
    output_shape
        shape of its output; None if that is not a tensor.
    macs
        multiply-adds of the operations the call runs outside the calls of its
        submodules (its own ones), or what the module declares (see the module docstring).
    """

    name: str
    module: nn.Module
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    macs: int


def _shape(value: Any) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


class _MacTracer:
    """Pre- and forward hooks that attribute the counter's MACs to the call that ran them."""

    def __init__(self, counter: FlopCounterMode):
        self.counter = counter
        self.calls: list[ModuleCall] = []
        # Per unfinished call: MACs counted when it started, MACs of its finished submodule calls.
        self.open: list[list[int]] = []
        self.declared = 0  # declared minus measured MACs of the calls finished so far

    def counted(self) -> int:
        return self.counter.get_total_flops() // 2 + self.declared

    def start(self, module: nn.Module, args: tuple) -> None:
        self.open.append([self.counted(), 0])

    def finish(self, name: str, module: nn.Module, args: tuple, output: Any) -> None:
        started, inner = self.open.pop()
        own = self.counted() - started - inner
        declare = getattr(module, "multiply_adds", None)
        if callable(declare) and isinstance(output, torch.Tensor):
            declared = int(declare(output))
            self.declared += declared - own
            own = declared
        if self.open:
            self.open[-1][1] += inner + own
        first = args[0] if args else None
        self.calls.append(ModuleCall(name, module, _shape(first), _shape(output), own))


def trace_macs(model: nn.Module, x: torch.Tensor) -> list[ModuleCall]:
    """Every module call of one forward pass of ``x``, with its own multiply-adds.

    The calls' ``macs`` add up to the whole pass.  Calls are listed in the order
    they finish (a module after its submodules, the model itself last).  Runs in
    eval mode without gradients; every module's mode is restored and the hooks
    are removed, also on error.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor
        A batch, on the model's device (the ``meta`` device works: nothing is computed).

    Returns
    -------
    list of ModuleCall
    """
    counter = FlopCounterMode(display=False)
    tracer = _MacTracer(counter)
    names = [name for name, _ in model.named_modules()]
    finish = {name: partial(tracer.finish, name) for name in names}
    start = dict.fromkeys(names, tracer.start)
    with hooks(model, finish, pre=start), _eval_mode(model), torch.no_grad(), counter:
        model(x)
    return tracer.calls


def count_flops(model: nn.Module, input_shape: Sequence[int], batch_size: int = 1) -> int:
    """Floating-point operations of one forward pass (in eval mode).

    Parameters
    ----------
    model : nn.Module
    input_shape : (channels, height, width)
        Shape of one input image.
    batch_size : int
        Images per forward pass; FLOPs grow linearly with it.

    Returns
    -------
    int
        FLOPs (2 per multiply-accumulate).  Multiply-accumulates (MACs, the
        unit many papers report) are ``count_flops(...) // 2``; per module call
        they are in `trace_macs`.
    """
    x = _example_input(model, input_shape, batch_size)
    return 2 * sum(call.macs for call in trace_macs(model, x))


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    batch_size: int = 1,
    warmup: int = 5,
    repeats: int = 20,
) -> dict[str, float]:
    """Wall-clock time of a forward pass under `torch.inference_mode`.

    Runs on the model's device; CUDA work is synchronized before each clock
    reading so that the time covers the computation, not just its launch.

    Parameters
    ----------
    model : nn.Module
    input_shape : (channels, height, width)
        Shape of one input image.
    batch_size : int
        Images per forward pass.
    warmup : int
        Untimed passes first (memory allocation, kernel selection, caches).
    repeats : int
        Timed passes.

    Returns
    -------
    dict
        ``median_ms``, ``mean_ms``, ``std_ms``, ``min_ms``, ``max_ms`` per
        forward pass, ``images_per_s`` (from the median), ``batch_size``,
        ``repeats``.
    """
    check_positive("warmup", warmup, allow_zero=True)
    check_positive("repeats", repeats)
    x = _example_input(model, input_shape, batch_size)
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times_ms = []
    with _eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            model(x)
            sync()
            times_ms.append(1000.0 * (time.perf_counter() - start))
    median = statistics.median(times_ms)
    return {
        "median_ms": median,
        "mean_ms": statistics.fmean(times_ms),
        "std_ms": statistics.pstdev(times_ms),
        "min_ms": min(times_ms),
        "max_ms": max(times_ms),
        "images_per_s": 1000.0 * batch_size / median,
        "batch_size": batch_size,
        "repeats": repeats,
    }


def model_cost(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """Parameters, size and compute of a model for one image, in one dictionary.

    Parameters
    ----------
    model : nn.Module
    input_shape : (channels, height, width)

    Returns
    -------
    dict
        ``parameters``, ``trainable_parameters``, ``size_bytes``, ``flops``
        and ``macs`` (per image).
    """
    flops = count_flops(model, input_shape)
    return {
        "parameters": count_parameters(model),
        "trainable_parameters": count_parameters(model, trainable_only=True),
        "size_bytes": model_size_bytes(model),
        "flops": flops,
        "macs": flops // 2,
    }
