"""What a model costs: parameters, memory, floating-point operations, latency.

FLOPs are counted by running one forward pass under
:class:`torch.utils.flop_counter.FlopCounterMode`, which counts the matrix
multiplications and convolutions (a multiply-accumulate is 2 FLOPs; element-wise
operations such as activations, normalization and bias additions are not
counted).  A convolution with ``K`` filters of size ``F x F`` over ``D`` input
channels producing an ``H_out x W_out`` map costs ``2 K F^2 D H_out W_out``
FLOPs per image.

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

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.errors import ConfigError, check_positive


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
    """Put ``model`` in eval mode and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


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
        unit many papers report) are ``count_flops(...) // 2``.
    """
    x = _example_input(model, input_shape, batch_size)
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), torch.no_grad(), counter:
        model(x)
    return int(counter.get_total_flops())


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    batch_size: int = 1,
    warmup: int = 5,
    repeats: int = 20,
) -> dict[str, float]:
    """Wall-clock time of a forward pass under :func:`torch.inference_mode`.

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
