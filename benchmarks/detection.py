"""Detectors on the glyph canvases: mAP@0.5 and COCO mAP against training time (issue 27).

Trains one detector (``yolov1``, ``retinanet`` or ``fasterrcnn``) on
``det-canvas`` (2000 training canvases of 96x96 with 1-5 digits of 3 classes,
400 test canvases whose digit images no training canvas uses) with the
Trainer and the default monitor ``val_map50``, then evaluates the best epoch's
weights on the test split.  It prints the training wall time and the CPU time
of the process (on a shared host the wall time depends on the other
processes; the CPU time of a one-thread run is the honest figure: at most
900 CPU seconds on one thread means at most 15 minutes on 2 cores), the
validation mAP@0.5 per epoch, and the test split's mAP@0.5 and mAP@[.5:.95].
Targets: one-stage mAP@0.5 >= 0.80 and YOLOv1 >= 0.60, each trained in <= 15
minutes on 2 cores; two-stage recorded.

Batches of 16 by default: on 1800 training canvases an epoch is then 113
optimizer steps, and these detectors need a few hundred steps at a high
learning rate before they find the objects (RetinaNet at batch 32 and 4
epochs, 225 steps with a cosine schedule ending at 0, stayed at 0.41).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/detection.py --model retinanet [--epochs 12] [--out DIR]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="retinanet")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="run directory (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainConfig(
        task="detection",
        model=args.model,
        dataset="det-canvas",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(args.out or Path(scratch) / "run")
        trainer = Trainer(config, run_dir, quiet=True)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        trainer.fit()  # the training epochs, then the test evaluation
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        test = runs.read_metrics(run_dir)["test"]
        history = trainer.history
    training_wall = sum(row["time"] for row in history)
    elapsed, curve = 0.0, []
    for row in history:
        elapsed += row["time"]
        curve.append(f"({row['epoch']}, {elapsed:.0f} s, {row['val_map50']:.3f})")
    best = max(history, key=lambda r: r["val_map50"])["epoch"]
    print(
        f"`python benchmarks/detection.py --model {args.model} --epochs {args.epochs} "
        f"--batch-size {args.batch_size} --lr {args.lr:g} --seed {args.seed} "
        f"--threads {args.threads}` "
        f"(started {started} on {platform.node()} ({os.cpu_count()} cores), {args.threads} "
        f"thread(s), load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        "the end)"
    )
    print()
    print(
        "| model | epochs | training wall s | CPU s (training + test) | CPU s / threads | "
        "best epoch | test mAP@0.5 | test mAP@[.5:.95] |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.model} | {len(history)} | {training_wall:.0f} | {cpu:.0f} (wall {wall:.0f}) | "
        f"{cpu / args.threads:.0f} | {best} | {test['map50']:.4f} | {test['map']:.4f} |"
    )
    print()
    print("Validation mAP@0.5 per epoch (epoch, training wall seconds, mAP): " + ", ".join(curve))
    per_class = ", ".join(
        f"{row['class']} {row['ap50']:.3f}" for row in test["per_class"] if row["ap50"] is not None
    )
    print(f"\nTest AP@0.5 per class: {per_class}")


if __name__ == "__main__":
    main()
