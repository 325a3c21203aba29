"""LeNet-5 on Fashion-MNIST and digits: cnnlab against the PyTorch MNIST tutorial's way.

The baseline is written the way the PyTorch examples' ``mnist/main.py`` is:
``torchvision.datasets.FashionMNIST`` + ``ToTensor`` + ``Normalize`` +
``DataLoader(batch_size=64, shuffle=True)``, Adadelta (lr 1.0) with StepLR
(gamma 0.7), and the model written by hand with ``torch.nn`` layers
(:class:`TutorialLeNet5`: the same function as cnnlab's ``lenet5`` at 28x28:
C1 padded by 2, trainable S2/S4, C3 with Table I's connections as a masked
convolution, C5, F6, scaled tanh).  A second baseline row runs the same loop on
cnnlab's ``lenet5`` module, to separate what the training loop gains from what
cnnlab's layer implementations gain.  Everything is measured in one process;
the throughput ratios alternate the two loops epoch by epoch and keep each
one's best epoch, so that they hold on a noisy machine.

Usage::

    python benchmarks/lenet.py --data-dir ../shared/datasets/fashion-mnist [--epochs 15]
    python benchmarks/lenet.py --data-dir ../shared/datasets/fashion-mnist --fast --threads 1

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision import transforms

from cnnlab import TrainConfig, Trainer
from cnnlab.data import load_data
from cnnlab.models import create_model
from cnnlab.models.lenet import C3_TABLE
from cnnlab.tasks import evaluate_run
from lenet_fast import race
from recipes import PREVIOUS_DEFAULTS, TUTORIAL_RECIPE


class TutorialLeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) as a tutorial reader writes it, for 28x28 inputs."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.s2 = nn.Parameter(torch.tensor([[1.0], [0.0]]).repeat(1, 6))  # coefficient, bias
        self.c3 = nn.Conv2d(6, 16, 5)
        mask = torch.tensor([[cell == "X" for cell in row] for row in C3_TABLE]).T
        self.register_buffer("c3_mask", mask[:, :, None, None].float())
        self.s4 = nn.Parameter(torch.tensor([[1.0], [0.0]]).repeat(1, 16))
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    @staticmethod
    def squash(x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(2 / 3 * x)

    @staticmethod
    def subsample(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) * params[0, :, None, None] + params[1, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squash(self.c1(x))
        x = self.squash(self.subsample(x, self.s2))
        x = self.squash(F.conv2d(x, self.c3.weight * self.c3_mask, self.c3.bias))
        x = self.squash(self.subsample(x, self.s4))
        x = self.squash(self.c5(x)).flatten(1)
        return self.output(self.squash(self.f6(x)))


class TestAccuracyLog:
    """Callback: test accuracy after every epoch (not timed); stops at ``target``."""

    def __init__(self, data, target: float | None = None):
        self.data, self.target, self.rows = data, target, []

    def on_epoch_end(self, trainer, row):
        acc = trainer.validate(self.data.test)["val_acc"]
        train_seconds = sum(r["time"] for r in trainer.history)
        self.rows.append((row["epoch"], train_seconds, acc))
        if self.target is not None and acc >= self.target:
            trainer.stop_requested = True


def first_reaching(
    curve: list[tuple[int, float, float]], target: float
) -> tuple[int, float] | None:
    """The first (epoch, training seconds) of a test-accuracy curve at or above ``target``."""
    return next(((epoch, seconds) for epoch, seconds, acc in curve if acc >= target), None)


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


def tutorial_dataset(idx_dir: Path, root: Path, train: bool):
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


def tutorial_epoch(model, optimizer, loader) -> float:
    """One training epoch of the tutorial's loop; returns its seconds."""
    model.train()
    started = time.perf_counter()
    for data, target in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


class TutorialSetup(NamedTuple):
    """The PyTorch MNIST example's data, model and recipe (Adadelta 1.0, step decay 0.7)."""

    train_loader: torch.utils.data.DataLoader
    test_loader: torch.utils.data.DataLoader
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler


def tutorial_setup(idx_dir: Path, root: Path, seed: int) -> TutorialSetup:
    """The baseline's loaders, hand-written LeNet-5, optimizer and schedule, seeded."""
    torch.manual_seed(seed)
    train_set = tutorial_dataset(idx_dir, root, train=True)
    test_set = tutorial_dataset(idx_dir, root, train=False)
    model = TutorialLeNet5()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    return TutorialSetup(
        torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True),
        torch.utils.data.DataLoader(test_set, batch_size=1000),
        model,
        optimizer,
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
    )


def tutorial_test_accuracy(model: nn.Module, test_loader: torch.utils.data.DataLoader) -> float:
    """The baseline's test accuracy, as the tutorial computes it."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, target in test_loader:
            correct += (model(images).argmax(1) == target).sum().item()
    return correct / len(test_loader.dataset)


def run_baseline(idx_dir: Path, root: Path, epochs: int, seed: int) -> dict:
    """The PyTorch MNIST example's loop and recipe with the hand-written LeNet-5."""
    setup = tutorial_setup(idx_dir, root, seed)
    train_time, curve, started = 0.0, [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        train_time += tutorial_epoch(setup.model, setup.optimizer, setup.train_loader)
        setup.scheduler.step()
        curve.append((epoch, train_time, tutorial_test_accuracy(setup.model, setup.test_loader)))
    return {
        "name": "baseline: tutorial loop and recipe, hand-written LeNet-5",
        "epochs": epochs,
        "test_acc": curve[-1][2],
        "images_per_s": len(setup.train_loader.dataset) * epochs / train_time,
        "wall_s": time.perf_counter() - started,
        "curve": curve,
    }


def trainer_epoch_speed(trainer: Trainer) -> float:
    """Train ``trainer`` one more epoch; its training images per second."""
    started = time.perf_counter()
    trainer.train_epoch()
    return len(trainer.data.train) / (time.perf_counter() - started)


def throughput(idx_dir: Path, root: Path, data, batch_size: int, rounds: int, out: Path) -> dict:
    """Images/s of the tutorial loop (both models) and of cnnlab's Trainer, same batch size,
    the three alternated epoch by epoch; each one's best epoch counts."""
    train_set = tutorial_dataset(idx_dir, root, train=True)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True)
    models = {
        "hand-written": TutorialLeNet5(),
        "cnnlab lenet5": create_model("lenet5", input_size=28),
    }
    optimizers = {k: torch.optim.Adadelta(m.parameters(), lr=1.0) for k, m in models.items()}
    config = TrainConfig(
        model="lenet5",
        dataset="fashion-mnist",
        epochs=rounds,
        **{**TUTORIAL_RECIPE, "batch_size": batch_size},
    )
    trainer = Trainer(config, out / f"throughput-{batch_size}", quiet=True, data=data)
    trainer._start_run_dir()
    best = {name: 0.0 for name in [*models, "cnnlab Trainer"]}
    for _ in range(rounds):
        for name, model in models.items():
            seconds = tutorial_epoch(model, optimizers[name], loader)
            best[name] = max(best[name], len(train_set) / seconds)
        best["cnnlab Trainer"] = max(best["cnnlab Trainer"], trainer_epoch_speed(trainer))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="alternated epochs per loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fast",
        action="store_true",
        help="instead: the tutorial baseline against `--recipe fast`, time to accuracy "
        "(benchmarks/lenet_fast.py), on --threads threads, for each of --seeds",
    )
    parser.add_argument("--seeds", default="0,1,2", help="--fast: comma-separated seeds")
    parser.add_argument("--threads", type=int, default=1, help="--fast: torch threads")
    parser.add_argument(
        "--no-cli", action="store_true", help="--fast: skip the end-to-end `cnnlab train` run"
    )
    args = parser.parse_args()
    idx_dir = Path(args.data_dir)
    if args.fast:
        torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as tmp:
            seeds = [int(seed) for seed in args.seeds.split(",")]
            race(idx_dir, seeds, args.epochs, Path(tmp), cli=not args.no_cli)
        return
    torch.set_num_threads(2)
    fmnist = load_data("fashion-mnist", idx_dir, seed=args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        speeds = {bs: throughput(idx_dir, out, fmnist, bs, args.rounds, out) for bs in (64, 256)}
        baseline = run_baseline(idx_dir, out, args.epochs, args.seed)
        results.append(baseline)
        common = {"dataset": "fashion-mnist", "data_dir": str(idx_dir), "epochs": args.epochs}
        common["seed"] = args.seed
        results.append(
            run_cnnlab(
                "cnnlab lenet5, the tutorial's recipe",
                TrainConfig(model="lenet5", **common, **TUTORIAL_RECIPE),
                fmnist,
                out,
            )
        )
        recipe = {**PREVIOUS_DEFAULTS, **common, "batch_size": 128}
        results.append(
            run_cnnlab("cnnlab lenet5", TrainConfig(model="lenet5", **recipe), fmnist, out)
        )
        results.append(
            run_cnnlab(
                "cnnlab lenet5_modern",
                TrainConfig(model="lenet5_modern", **{**recipe, "augment": ["crop:2", "flip"]}),
                fmnist,
                out,
            )
        )
        defaults = TrainConfig(dataset="fashion-mnist", data_dir=str(idx_dir), seed=args.seed)
        results.append(
            run_cnnlab(
                "cnnlab defaults, until the baseline's accuracy",
                defaults,
                fmnist,
                out,
                target=baseline["test_acc"],
            )
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
    for r in [*results, digits]:
        print(
            f"| {r['name']} | {r['epochs']} | {r['test_acc']:.4f} | {r['images_per_s']:.0f} "
            f"| {r['wall_s']:.1f} |"
        )
    print(
        "\nTraining throughput, same batch size, the loops alternated epoch by epoch "
        f"({args.rounds} epochs each, best epoch; Adadelta in all three):\n"
    )
    print(
        "| batch | tutorial loop, hand-written LeNet-5 | tutorial loop, cnnlab's lenet5 "
        "| cnnlab Trainer | Trainer / tutorial (hand-written) | Trainer / tutorial (cnnlab's) |"
    )
    print("|---|---|---|---|---|---|")
    for bs, s in speeds.items():
        hand, ours, trainer = s["hand-written"], s["cnnlab lenet5"], s["cnnlab Trainer"]
        print(
            f"| {bs} | {hand:.0f} | {ours:.0f} | {trainer:.0f} | {trainer / hand:.2f}x "
            f"| {trainer / ours:.2f}x |"
        )
    target, base_time = baseline["test_acc"], baseline["curve"][-1][1]
    print(
        f"\nTime to the baseline's final test accuracy ({target:.4f}; baseline: "
        f"{base_time:.1f} s of training):\n"
    )
    for r in results[1:]:
        hit = first_reaching(r["curve"], target)
        when = (
            f"epoch {hit[0]}, {hit[1]:.1f} s = {hit[1] / base_time:.2f}x" if hit else "not reached"
        )
        print(f"- {r['name']}: {when}")
    print("\nTest accuracy per epoch (epoch, training seconds, accuracy):\n")
    for r in results:
        curve = ", ".join(f"({e}, {t:.0f}, {a:.4f})" for e, t, a in r["curve"])
        print(f"- {r['name']}: {curve}")


if __name__ == "__main__":
    main()
