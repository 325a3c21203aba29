"""U-Net on the glyph canvases: mean IoU against training time (issue 26's target).

Trains ``unet_small`` on ``seg-canvas`` (2000 training canvases of 64x64, 400
test canvases whose digit images no training canvas uses) with the Trainer,
``--monitor val_miou``, and prints per epoch the training seconds so far and the
validation mean IoU, then the test split's pixel accuracy and mean IoU of the
best epoch's weights.  The target: test mean IoU >= 0.85 within 10 minutes of
training on 2 cores.

Usage::

    python benchmarks/segmentation.py [--epochs 20] [--model unet_small] [--out DIR]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet_small")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="run directory (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = TrainConfig(
        task="segmentation",
        model=args.model,
        dataset="seg-canvas",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        monitor="val_miou",
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(args.out or Path(scratch) / "run")
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.fit()
        test = runs.read_metrics(run_dir)["test"]
        history = trainer.history
    elapsed, curve = 0.0, []
    for row in history:
        elapsed += row["time"]
        curve.append(f"({row['epoch']}, {elapsed:.0f} s, {row['val_miou']:.3f})")
    print(
        f"`python benchmarks/segmentation.py --epochs {args.epochs} --model {args.model} "
        f"--batch-size {args.batch_size} --lr {args.lr:g}` ({datetime.date.today()}, 2 threads)"
    )
    print()
    print("| model | epochs | training s | best epoch | test pixel accuracy | test mean IoU |")
    print("|---|---|---|---|---|---|")
    best = max(history, key=lambda r: r["val_miou"])["epoch"]
    print(
        f"| {args.model} | {len(history)} | {elapsed:.0f} | {best} | "
        f"{test['accuracy']:.4f} | {test['miou']:.4f} |"
    )
    print()
    print("Validation mean IoU per epoch (epoch, training seconds, mIoU): " + ", ".join(curve))
    per_class = ", ".join(
        f"{row['class']} {row['iou']:.3f}" for row in test["per_class"] if row["iou"] is not None
    )
    print(f"\nTest IoU per class: {per_class}")


if __name__ == "__main__":
    main()
