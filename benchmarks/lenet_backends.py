"""LeNet-5 training throughput of cnnlab's Trainer under its speed options.

The foundation issue asks for 3x the PyTorch tutorial's images/s
(``benchmarks/lenet.py``).  This script measures whether the Trainer's own
options get closer: ``--precision bf16`` (autocast; oneDNN has bfloat16
kernels on CPUs with AVX512-BF16) and ``--compile`` (``torch.compile``, the
inductor backend).  Same data (Fashion-MNIST), model (paper-faithful
``lenet5``), batch and recipe (the tutorial's Adadelta) in all three; the
options are alternated epoch by epoch and each one's best epoch counts, so the
ratios hold on a noisy machine.  ``--compile`` also reports its first epoch,
which includes the compilation.

Usage::

    python benchmarks/lenet_backends.py --data-dir ../shared/datasets/fashion-mnist

Prints a Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer
from cnnlab.data import load_data
from lenet import TUTORIAL_RECIPE, trainer_epoch_speed

OPTIONS = {
    "fp32 (default)": {},
    "--precision bf16": {"precision": "bf16"},
    "--compile": {"compile": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternated epochs per option")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_data("fashion-mnist", args.data_dir, seed=0)
    recipe = {**TUTORIAL_RECIPE, "batch_size": args.batch_size}
    speeds: dict[str, list[float]] = {name: [] for name in OPTIONS}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name, option in OPTIONS.items():
            config = TrainConfig(
                model="lenet5", dataset="fashion-mnist", epochs=args.rounds, **recipe, **option
            )
            trainers[name] = Trainer(
                config, Path(tmp) / f"option{len(trainers)}", quiet=True, data=data
            )
            trainers[name]._start_run_dir()
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                speeds[name].append(trainer_epoch_speed(trainer))
    base = max(speeds["fp32 (default)"])
    print(f"Trainer, lenet5, batch {args.batch_size}, {args.rounds} alternated epochs each:\n")
    print("| option | first epoch (images/s) | best epoch (images/s) | best / fp32 |")
    print("|---|---|---|---|")
    for name, values in speeds.items():
        print(f"| {name} | {values[0]:.0f} | {max(values):.0f} | {max(values) / base:.2f}x |")


if __name__ == "__main__":
    main()
