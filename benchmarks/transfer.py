"""Transfer learning on CIFAR-10: animals → vehicles from 100 images per class.

1. Pretrain a CNN on the six animal classes (bird, cat, deer, dog, frog, horse).
2. Learn the four vehicle classes (airplane, automobile, ship, truck) from 100
   labelled images per class (90 train + 10 validation), four ways:
   feature extractor (only a new head is trained), fine-tuning (last block +
   head), full fine-tuning (every layer, discriminative rates) and from scratch.
3. Report test accuracy on the held-out vehicle test images (CIFAR-10's
   training set only is available here, so the test split is cnnlab's fixed
   20 % of it).

Usage::

    python benchmarks/transfer.py --data-dir ../shared/datasets/cifar10-jpg/train.tar.gz

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cnnlab import TrainConfig, Trainer
from cnnlab.tasks import evaluate_run
from recipes import PREVIOUS_DEFAULTS

ANIMALS = ["bird", "cat", "deer", "dog", "frog", "horse"]
VEHICLES = ["airplane", "automobile", "ship", "truck"]
MODEL = {"model": "simple_cnn", "model_kwargs": {"channels": [32, 64, 128], "dropout": 0.2}}
REGIMES = {
    "feature extractor (head only)": {"freeze": "features", "lr": 3e-3},
    "fine-tuning (last block + head)": {"freeze": "partial", "lr": 2e-3},
    "full fine-tuning (lr / 2.6 per block)": {"freeze": "none", "lr": 2e-3, "lr_decay": 2.6},
    "from scratch": {"lr": 2e-3},
}


def train(config: TrainConfig, out: Path) -> tuple[float, float]:
    started = time.perf_counter()
    Trainer(config, out, quiet=True).fit()
    seconds = time.perf_counter() - started
    return evaluate_run(out)["accuracy"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="CIFAR-10 image folder or .tar.gz")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    common = dict(
        PREVIOUS_DEFAULTS,
        dataset="imagefolder",
        data_dir=args.data_dir,
        augment=["flip", "crop:4"],
        seed=args.seed,
        **MODEL,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = TrainConfig(
            **dict(common, classes=ANIMALS, epochs=args.pretrain_epochs, batch_size=128)
        )
        source_acc, source_time = train(source, tmp / "animals")
        rows = []
        for name, options in REGIMES.items():
            pretrained = {} if name == "from scratch" else {"pretrained": str(tmp / "animals")}
            config = TrainConfig(
                **dict(
                    common,
                    classes=VEHICLES,
                    per_class=args.per_class,
                    epochs=args.epochs,
                    batch_size=32,
                    **pretrained,
                    **options,
                )
            )
            accuracy, seconds = train(config, tmp / name.split()[0])
            rows.append((name, accuracy, seconds))
    print("\n## Transfer learning: CIFAR-10 animals → vehicles\n")
    print(
        f"Source: {MODEL['model']} {MODEL['model_kwargs']} trained {args.pretrain_epochs} "
        f"epochs on the six animal classes: test accuracy {source_acc:.4f} "
        f"({source_time:.0f} s). Target: the four vehicle classes from {args.per_class} "
        "labelled images per class, "
        f"{args.epochs} epochs, Adam, cosine schedule, flip + crop:4.\n"
    )
    print("| regime | vehicle test accuracy | training time (s) |")
    print("|---|---|---|")
    for name, accuracy, seconds in rows:
        print(f"| {name} | {accuracy:.4f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
