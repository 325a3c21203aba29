"""One-shot recognition of unseen Fashion-MNIST classes: four metric-learning losses compared.

Trains an embedding network (``--task embedding``) on five Fashion-MNIST
classes (T-shirt/top, Trouser, Pullover, Dress, Coat) and evaluates it on the
other five (Sandal, Shirt, Sneaker, Bag, Ankle boot), which it never saw: the
equal error rate of verification over every pair of 2000 test images and the
5-way 1-shot (and 5-shot) identification accuracy over 1000 seeded episodes.
Every loss gets the same model, epochs, batch size, optimizer and seed.  The
target (issue 27): 5-way 1-shot accuracy >= 0.80 with ArcFace or triplet.

Usage::

    python benchmarks/metric_learning.py --data-dir ../shared/datasets/fashion-mnist \
        [--losses softmax,contrastive,triplet,arcface] [--epochs 6] [--threads 1] \
        [--model lenet5_modern] [--model-arg depths=[1,1,1] ...] \
        [--per-class 1200] [--augment flip,crop:2] [--pk auto] [--baseline]

Prints a Markdown table for ``benchmarks/RESULTS.md``.  ``cpu s`` is the
process's CPU time for training and the final evaluation (on one thread the
honest figure on a shared host); ``wall s`` the elapsed time.
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
import yaml

from cnnlab import TrainConfig, Trainer, runs
from cnnlab.data import load_data
from cnnlab.tasks.metric_learning_eval import identification_report

HOLDOUT = ["5", "6", "7", "8", "9"]


def train_one(loss: str, args: argparse.Namespace, root: Path) -> dict:
    config = TrainConfig(
        task="embedding",
        loss=loss,
        model=args.model,
        model_kwargs={k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in args.model_arg)},
        embedding_scales=args.embedding_scales,
        pk=args.pk,
        per_class=args.per_class,
        dataset="fashion-mnist",
        data_dir=args.data_dir,
        holdout_classes=HOLDOUT,
        embedding_dim=args.embedding_dim,
        mining=args.mining,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        augment=args.augment.split(",") if args.augment else [],
        seed=args.seed,
    )
    started, cpu = time.perf_counter(), time.process_time()
    Trainer(config, root / loss, quiet=True).fit()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    test = runs.read_metrics(root / loss)["test"]
    val = runs.read_history(root / loss)[-1]["val_acc"]
    return {"loss": loss, "wall": wall, "cpu": cpu, "val": val, **test}


def raw_pixels(args: argparse.Namespace) -> dict:
    """The untrained reference: the test images' centred pixels as the embedding."""
    test = load_data("fashion-mnist", args.data_dir, holdout_classes=HOLDOUT).test
    pixels = test.images.flatten(1).float() / 255
    report = identification_report(pixels - pixels.mean(0), test.labels)
    return {"loss": "none (raw pixels)", "wall": 0.0, "cpu": 0.0, "val": None, **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--losses", default="softmax,contrastive,triplet,arcface")
    parser.add_argument("--model", default="lenet5_modern")
    parser.add_argument("--model-arg", action="append", default=[], help="KEY=VALUE, repeatable")
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--embedding-scales", type=int, default=1)
    parser.add_argument("--pk", default="auto", help="P,K batches, auto or off")
    parser.add_argument("--per-class", type=int, help="training images per class (exploration)")
    parser.add_argument("--augment", default="flip,crop:2")
    parser.add_argument("--mining", default="semi-hard", help="triplet mining")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="keep the runs under this folder")
    parser.add_argument(
        "--baseline", action="store_true", help="also the raw pixels' row (no training)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [raw_pixels(args)] if args.baseline else []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.out or scratch)
        for loss in filter(None, args.losses.split(",")):
            rows.append(train_one(loss, args, root))
            r = rows[-1]
            print(f"{loss}: EER {r['eer']:.4f}, 5-way 1-shot {r['nway_1shot']:.4f}", flush=True)
    load = os.getloadavg()[0]
    print(
        f"\n{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s), load average {load:.1f} at the end (host shared)\n"
    )
    print(
        "| loss | test EER | 5-way 1-shot | 5-way 5-shot | ROC AUC | val 5-way 1-shot (seen) "
        "| cpu s | wall s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        five = "-" if r["nway_5shot"] is None else f"{r['nway_5shot']:.3f}"
        val = "-" if r["val"] is None else f"{r['val']:.3f}"
        print(
            f"| {r['loss']} | {r['eer']:.3f} | {r['nway_1shot']:.3f} | {five} | "
            f"{r['auc']:.3f} | {val} | {r['cpu']:.0f} | {r['wall']:.0f} |"
        )


if __name__ == "__main__":
    main()
