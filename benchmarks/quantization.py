"""Int8 against fp32: test accuracy of a trained run, and batch-1 latency of zoo models (issue 30).

Part 1 trains a CIFAR ResNet-20 on Fashion-MNIST (or uses ``--run``), then
quantizes it post-training (``cnnlab quantize``: PT2E, torchao's x86
quantizer, 512 calibration images) and compares fp32 and int8 on the whole
test split.  The target: a top-1 drop of at most 1 point.

Part 2 times batch-1 and batch-32 inference of ``--models`` at 224x224 with
``cnnlab bench``'s engines, alternated call by call in this process: eager
torchvision, cnnlab eager, cnnlab's inference path and the compiled int8
model.  The target: int8 at least 2x fp32 eager on ResNet-18 and ResNet-50.

Usage::

    python benchmarks/quantization.py --data-dir ../shared/datasets/fashion-mnist \
        [--epochs 3] [--run RUN] [--models resnet18 resnet50] [--threads 2]

Prints Markdown for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer
from cnnlab.deploy.bench import bench_model, format_table, host_description
from cnnlab.deploy.quantize import quantize_run


def trained_run(args: argparse.Namespace, folder: Path) -> Path:
    if args.run:
        return Path(args.run)
    run_dir = folder / "resnet20-fashion-mnist"
    config = TrainConfig(
        model="resnet20",
        dataset="fashion-mnist",
        data_dir=args.data_dir,
        epochs=args.epochs,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        augment=["crop:2"],
        seed=0,
    )
    Trainer(config, run_dir, quiet=True).fit()
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/datasets/fashion-mnist")
    parser.add_argument("--run", help="a trained classification run instead of training one")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=["resnet18", "resnet50"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"({datetime.date.today()}, {host_description(args.threads)})\n")
    with tempfile.TemporaryDirectory() as folder:
        run = trained_run(args, Path(folder))
        result = quantize_run(run)
        print("| model | test images | fp32 top-1 | int8 top-1 | drop (points) | same class |")
        print("|---|---:|---:|---:|---:|---:|")
        print(
            f"| {run.name} (int8 layers {result.int8_layers}/{result.layers}) | "
            f"{result.num_images} | {100 * result.fp32_accuracy:.2f} | "
            f"{100 * result.int8_accuracy:.2f} | "
            f"{100 * (result.fp32_accuracy - result.int8_accuracy):.2f} | "
            f"{100 * result.agreement:.1f} % |"
        )
    for name in args.models:
        results = bench_model(
            name,
            (3, 224, 224),
            1000,
            threads=args.threads,
            onnx=False,
            int8=True,
            repeats=args.repeats,
            batch_size=32,
            batch_repeats=3,
        )
        print(f"\n{name} at 3x224x224, load average now {os.getloadavg()[0]:.1f}\n")
        print(format_table(results, baseline="torchvision eager"))


if __name__ == "__main__":
    main()
