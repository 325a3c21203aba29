"""Segmentation networks on the glyph canvases: mean IoU against training time (issue 26).

Trains each ``--models`` entry on ``seg-canvas`` (2000 training canvases of
64x64, 400 test canvases whose digit images no training canvas uses) with the
Trainer, the same epochs and optimizer for all, ``--monitor val_miou``, and
prints per epoch the training seconds so far and the validation mean IoU, then
the test split's pixel accuracy and mean IoU of the best epoch's weights.  The
targets: U-Net test mean IoU >= 0.85 and FCN-8s >= 0.75, each within 10
minutes of training on 2 cores, and FCN-8s above FCN-32s on the same budget
(Long et al. 2015, Table 2's ordering).  The load average before and after
each run is printed, since a shared host makes the seconds conservative.

Usage::

    python benchmarks/segmentation.py [--epochs 20] [--models unet_small] [--out DIR]
    python benchmarks/segmentation.py --epochs 12 --models fcn8s fcn32s

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet_small"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="folder for the run directories (default: temporary)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = [train(model, args) for model in args.models]
    print(
        f"`python benchmarks/segmentation.py --epochs {args.epochs} --models "
        f"{' '.join(args.models)} --batch-size {args.batch_size} --lr {args.lr:g}` "
        f"({datetime.date.today()}, 2 threads)"
    )
    print()
    print(
        "| model | epochs | training s | wall s | load average before / after | best epoch "
        "| test pixel accuracy | test mean IoU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {len(r['history'])} | {r['training']:.0f} | {r['wall']:.0f} | "
            f"{r['load'][0]:.1f} / {r['load'][1]:.1f} | {r['best']} | "
            f"{r['test']['accuracy']:.4f} | {r['test']['miou']:.4f} |"
        )
    for r in results:
        print(f"\n{r['model']}: validation mean IoU per epoch (epoch, training seconds, mIoU): ")
        print(", ".join(r["curve"]))
        per_class = ", ".join(
            f"{row['class']} {row['iou']:.3f}"
            for row in r["test"]["per_class"]
            if row["iou"] is not None
        )
        print(f"Test IoU per class: {per_class}")


def train(model: str, args: argparse.Namespace) -> dict:
    """Train ``model`` with the shared settings; its history, test metrics, times and load."""
    config = TrainConfig(
        task="segmentation",
        model=model,
        dataset="seg-canvas",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        monitor="val_miou",
        seed=args.seed,
    )
    load_before, start = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(args.out or scratch) / model
        trainer = Trainer(config, run_dir, quiet=True)
        trainer.fit()
        test = runs.read_metrics(run_dir)["test"]
        history = trainer.history
    wall, load_after = time.perf_counter() - start, os.getloadavg()[0]
    elapsed, curve = 0.0, []
    for row in history:
        elapsed += row["time"]
        curve.append(f"({row['epoch']}, {elapsed:.0f} s, {row['val_miou']:.3f})")
    best = max(history, key=lambda r: r["val_miou"])["epoch"]
    return {
        "model": model,
        "history": history,
        "test": test,
        "training": elapsed,
        "wall": wall,
        "load": (load_before, load_after),
        "curve": curve,
        "best": best,
    }


if __name__ == "__main__":
    main()
