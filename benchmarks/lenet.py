"""LeNet-5 on Fashion-MNIST and digits: cnnlab against the PyTorch MNIST tutorial's loop.

The baseline is written the way the PyTorch examples' ``mnist/main.py`` is:
``torchvision.datasets.FashionMNIST`` + ``ToTensor`` + ``Normalize`` +
``DataLoader(batch_size=64, shuffle=True)``, Adadelta (lr 1.0) with StepLR
(gamma 0.7), the same model (paper-faithful LeNet-5) and the same number of
epochs.  Everything is measured in one process, one after another, so the
ratios hold on a noisy machine even where absolute times do not.

Usage::

    python benchmarks/lenet.py --data-dir ../shared/datasets/fashion-mnist [--epochs 15]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import transforms

from cnnlab import TrainConfig, Trainer
from cnnlab.data import load_data
from cnnlab.models import create_model
from cnnlab.train.evaluate import evaluate_run


class TestAccuracyLog:
    """Callback: test accuracy after every epoch (not timed); stops at ``target``."""

    def __init__(self, data, target: float | None = None):
        self.data, self.target, self.rows = data, target, []

    def on_epoch_end(self, trainer, row):
        _, acc = trainer.evaluate_split(self.data.test)
        train_seconds = sum(r["time"] for r in trainer.history)
        self.rows.append((row["epoch"], train_seconds, acc))
        if self.target is not None and acc >= self.target:
            trainer.stop_requested = True


def run_cnnlab(name: str, config: TrainConfig, data, out: Path, target=None) -> dict:
    log = TestAccuracyLog(data, target)
    trainer = Trainer(config, out / name, quiet=True, data=data, callbacks=[log])
    started = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - started
    train_time = sum(row["time"] for row in trainer.history)
    images = len(data.train) * len(trainer.history)
    report = evaluate_run(out / name) if target is None else {"accuracy": log.rows[-1][2]}
    return {
        "name": name,
        "epochs": len(trainer.history),
        "test_acc": report["accuracy"],
        "images_per_s": images / train_time,
        "wall_s": wall,
        "curve": log.rows,
    }


def _tutorial_dataset(idx_dir: Path, root: Path, train: bool):
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in idx_dir.glob("*-ubyte.gz"):
        target = raw / gz.name[:-3]
        if not target.exists():
            with gzip.open(gz) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))]
    )
    return torchvision.datasets.FashionMNIST(root, train=train, download=False, transform=transform)


def run_baseline(idx_dir: Path, epochs: int, seed: int) -> dict:
    """The PyTorch MNIST example's loop, with paper-faithful LeNet-5 at 28x28."""
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        train_set = _tutorial_dataset(idx_dir, Path(tmp), train=True)
        test_set = _tutorial_dataset(idx_dir, Path(tmp), train=False)
        train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
        test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
        model = create_model("lenet5", input_size=28)
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        train_time, curve, started = 0.0, [], time.perf_counter()
        for epoch in range(1, epochs + 1):
            model.train()
            epoch_start = time.perf_counter()
            for data, target in train_loader:
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(data), target)
                loss.backward()
                optimizer.step()
            train_time += time.perf_counter() - epoch_start
            scheduler.step()
            model.eval()
            correct = 0
            with torch.no_grad():
                for data, target in test_loader:
                    correct += (model(data).argmax(1) == target).sum().item()
            curve.append((epoch, train_time, correct / len(test_set)))
        wall = time.perf_counter() - started
    return {
        "name": "baseline (tutorial loop)",
        "epochs": epochs,
        "test_acc": curve[-1][2],
        "images_per_s": len(train_set) * epochs / train_time,
        "wall_s": wall,
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    idx_dir = Path(args.data_dir)
    fmnist = load_data("fashion-mnist", idx_dir, seed=args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        baseline = run_baseline(idx_dir, args.epochs, args.seed)
        results.append(baseline)
        common = {
            "dataset": "fashion-mnist",
            "data_dir": str(idx_dir),
            "epochs": args.epochs,
            "seed": args.seed,
            "batch_size": 128,
            "lr": 2e-3,
        }
        results.append(
            run_cnnlab("cnnlab lenet5", TrainConfig(model="lenet5", **common), fmnist, out)
        )
        results.append(
            run_cnnlab(
                "cnnlab lenet5_modern",
                TrainConfig(model="lenet5_modern", augment=["crop:2", "flip"], **common),
                fmnist,
                out,
            )
        )
        defaults = TrainConfig(dataset="fashion-mnist", data_dir=str(idx_dir), seed=args.seed)
        results.append(
            run_cnnlab(
                "cnnlab defaults, until baseline accuracy",
                defaults,
                fmnist,
                out,
                target=baseline["test_acc"],
            )
        )
        loop = run_cnnlab(
            "cnnlab lenet5, batch 64 (the baseline's)",
            TrainConfig(model="lenet5", **{**common, "batch_size": 64, "epochs": 2}),
            fmnist,
            out,
        )
        digits = run_cnnlab(
            "cnnlab defaults on digits",
            TrainConfig(seed=args.seed),
            load_data("digits", seed=args.seed),
            out,
        )

    print(f"## LeNet-5 on Fashion-MNIST ({args.epochs} epochs) and digits\n")
    print("| run | epochs | test accuracy | training images/s | wall time (s) |")
    print("|---|---|---|---|---|")
    for r in [*results, loop, digits]:
        print(
            f"| {r['name']} | {r['epochs']} | {r['test_acc']:.4f} | {r['images_per_s']:.0f} "
            f"| {r['wall_s']:.1f} |"
        )
    ratio = loop["images_per_s"] / baseline["images_per_s"]
    print(
        f"\ncnnlab's Trainer, same model and batch size as the baseline (LeNet-5, batch 64, "
        f"validation pass included in its time): {loop['images_per_s']:.0f} images/s = "
        f"**{ratio:.1f}x** the baseline's {baseline['images_per_s']:.0f} images/s."
    )
    reach = results[-1]
    print(
        f"\ncnnlab's defaults reached the baseline's final test accuracy "
        f"({baseline['test_acc']:.4f}) after {reach['epochs']} epochs and "
        f"{reach['curve'][-1][1]:.1f} s of training "
        f"({reach['curve'][-1][1] / baseline['curve'][-1][1]:.2f}x the baseline's "
        f"{baseline['curve'][-1][1]:.1f} s of training; test evaluation excluded from both)."
    )
    print("\nTest accuracy per epoch (epoch, training seconds, accuracy):\n")
    for r in results:
        curve = ", ".join(f"({e}, {t:.0f}, {a:.4f})" for e, t, a in r["curve"])
        print(f"- {r['name']}: {curve}")


if __name__ == "__main__":
    main()
