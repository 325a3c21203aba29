"""The CPU kernels behind cnnlab's LeNet-5 training step, each against the obvious form.

Every pair is timed in the same process, alternating the two forms over several
rounds and keeping each one's best round, so that the ratio survives a noisy
machine.  Shapes are those of LeNet-5 at batch 64 on 28x28 inputs:

* tanh: ``torch.tanh`` against 2·σ(2x) − 1 (cnnlab's CPU ``tanh``/``scaled_tanh``);
* subsampling (S2): average pooling, then coefficient and bias, against one
  depthwise 2x2 convolution of stride 2 (``Subsample2d``);
* C5: the 5x5 convolution of a 5x5 input against the matrix product (``FullConv2d``);
* the Adam step over LeNet-5's parameters: PyTorch's per-tensor loop (its CPU
  default) against the fused kernel (``build_optimizer``).

Usage::

    python benchmarks/kernels.py [--threads 2]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from cnnlab.models import create_model
from cnnlab.nn.act import get_act
from cnnlab.nn.conv import FullConv2d
from cnnlab.nn.pool import Subsample2d


def round_time(fn: Callable[[], object], calls: int) -> float:
    """Mean seconds per call over ``calls`` back-to-back calls (one round)."""
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def compare(baseline: Callable, candidate: Callable, rounds: int, calls: int) -> tuple:
    """Best per-call time of each, alternating rounds (after a warm-up of both)."""
    for fn in (baseline, candidate):
        round_time(fn, 10)
    times = ([], [])
    for _ in range(rounds):
        for i, fn in enumerate((baseline, candidate)):
            times[i].append(round_time(fn, calls))
    return min(times[0]), min(times[1])


def forward_backward(fn: Callable, *inputs: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        out = fn(*inputs)
        out.backward(torch.ones_like(out))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []

    x = torch.randn(64, 6, 28, 28).requires_grad_(True)
    tanh = get_act("tanh")
    rows.append(
        ("tanh, forward", *compare(lambda: torch.tanh(x), lambda: tanh(x), args.rounds, 200))
    )
    rows.append(
        (
            "tanh, forward + backward",
            *compare(forward_backward(torch.tanh, x), forward_backward(tanh, x), args.rounds, 100),
        )
    )

    subsample = Subsample2d(6)
    w, b = subsample.weight, subsample.bias

    def pooled(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, 2) * w[:, None, None] + b[:, None, None]

    for layout in (torch.contiguous_format, torch.channels_last):
        xl = x.detach().contiguous(memory_format=layout).requires_grad_(True)
        name = "NCHW" if layout == torch.contiguous_format else "channels-last"
        rows.append(
            (
                f"S2 subsampling ({name}), forward + backward",
                *compare(
                    forward_backward(pooled, xl),
                    forward_backward(subsample, xl),
                    args.rounds,
                    100,
                ),
            )
        )

    c5 = FullConv2d(16, 120, 5)
    x5 = torch.randn(64, 16, 5, 5).contiguous(memory_format=torch.channels_last)
    x5.requires_grad_(True)
    weight = c5.weight.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    rows.append(
        (
            "C5 (16x5x5 → 120), forward + backward",
            *compare(
                forward_backward(lambda t: F.conv2d(t, weight, c5.bias), x5),
                forward_backward(c5, x5),
                args.rounds,
                200,
            ),
        )
    )

    model = create_model("lenet5", input_size=28)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    loop = torch.optim.Adam(params, lr=1e-6, foreach=False)
    fused = torch.optim.Adam(params, lr=1e-6, fused=True)
    rows.append(
        ("Adam step, LeNet-5's 14 tensors", *compare(loop.step, fused.step, args.rounds, 200))
    )

    print(f"## CPU kernels of the LeNet-5 step ({args.threads} threads, batch 64, 28x28)\n")
    print("| operation | obvious form (µs) | cnnlab (µs) | speed-up |")
    print("|---|---|---|---|")
    for name, slow, fast in rows:
        print(f"| {name} | {slow * 1e6:.0f} | {fast * 1e6:.0f} | {slow / fast:.2f}x |")


if __name__ == "__main__":
    main()
