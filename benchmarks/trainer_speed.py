"""Training throughput of the Trainer: this tree against another version of cnnlab.

Measures images per second of ``Trainer`` epochs (training steps only: no
validation, no checkpoint) for two workloads:

- ``lenet5``: LeNet-5 on Fashion-MNIST at the tutorial's batch 64 (Adadelta,
  as the same-batch rows of the LeNet-5 table) and at the defaults' batch 96;
- ``resnet20``: ResNet-20 on 500 CIFAR-10 images per class (JPEG training set),
  batch 128, flip + crop:4, SGD with momentum.

With ``--against DIR`` (the ``src`` folder of another checkout, e.g. a
``git worktree`` of the commit before a change) every workload runs in fresh
processes that alternate between the two trees, ``--rounds`` times each, and the
table reports each tree's best epoch and their ratio.  Each process loads its
data once (not timed), trains ``--epochs`` epochs, and reports its best.

Usage::

    git worktree add /tmp/before 8d9a53f
    python benchmarks/trainer_speed.py --against /tmp/before/src \\
        --fashion ../shared/datasets/fashion-mnist \\
        --cifar ../shared/datasets/cifar10-jpg/train.tar.gz

Prints a Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recipes import TUTORIAL_RECIPE

WORKLOADS = {
    "lenet5-b64": dict(model="lenet5", dataset="fashion-mnist", **TUTORIAL_RECIPE),
    "lenet5-b96": dict(model="lenet5", dataset="fashion-mnist"),
    "resnet20-b128": dict(
        model="resnet20",
        dataset="imagefolder",
        per_class=500,
        batch_size=128,
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        augment=["flip", "crop:4"],
    ),
}


def worker(name: str, data_dir: str, epochs: int) -> None:
    """Print ``{"images_per_s": best epoch}`` of one workload with the cnnlab on sys.path."""
    import torch

    from cnnlab import TrainConfig, Trainer

    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    config = TrainConfig(**WORKLOADS[name], data_dir=data_dir, epochs=epochs)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(config, Path(scratch) / "run", quiet=True)
        step = getattr(trainer, "train_epoch", None) or trainer._train_epoch  # before: private
        best = 0.0
        for _ in range(epochs):
            started = time.perf_counter()
            step()
            best = max(best, len(trainer.data.train) / (time.perf_counter() - started))
    print(json.dumps({"images_per_s": best}))


def measure(src: str, name: str, data_dir: str, epochs: int) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    command = [sys.executable, __file__, "--worker", name, "--data-dir", data_dir]
    result = subprocess.run(
        [*command, "--epochs", str(epochs)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="src folder of the cnnlab to compare with")
    parser.add_argument("--fashion", help="Fashion-MNIST folder")
    parser.add_argument("--cifar", help="CIFAR-10 JPEG archive")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data_dir, args.epochs)
        return
    here = str(Path(__file__).resolve().parents[1] / "src")
    trees = {"this tree": here, **({"against": args.against} if args.against else {})}
    data = {"lenet5-b64": args.fashion, "lenet5-b96": args.fashion, "resnet20-b128": args.cifar}
    print("| workload | " + " | ".join(f"{t} (images/s)" for t in trees) + " | ratio |")
    print("|---|" + "---|" * (len(trees) + 1))
    for name, data_dir in data.items():
        if data_dir is None:
            continue
        best = {tree: 0.0 for tree in trees}
        for _ in range(args.rounds):
            for tree, src in trees.items():
                best[tree] = max(best[tree], measure(src, name, data_dir, args.epochs))
        ratio = best["this tree"] / best["against"] if "against" in best else float("nan")
        cells = " | ".join(f"{best[t]:.0f}" for t in trees)
        print(f"| {name} | {cells} | {ratio:.3f}x |", flush=True)


if __name__ == "__main__":
    main()
