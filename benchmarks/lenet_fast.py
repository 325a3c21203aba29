"""Time to accuracy: ``--recipe fast`` against the PyTorch tutorial baseline, one process.

For each seed the tutorial baseline (``lenet.run_baseline``'s loop: DataLoader,
hand-written LeNet-5, Adadelta, 15 epochs) and then cnnlab's ``fast`` recipe are
trained; after every epoch both are evaluated on the Fashion-MNIST test split
(outside their clocks).  Two clocks are kept for each: wall seconds
(``time.perf_counter``) and CPU seconds of this process (``time.process_time``;
with one thread, the honest figure on a shared machine).  Both start when
training starts (after the data are loaded and the model built) and stop at the
end of the epoch in question, minus the test evaluations this script adds; for
cnnlab they include the per-epoch validation pass and checkpointing the Trainer
does.  The fast recipe's test accuracy is the plain one (no test-time
augmentation).

The targets (issue 30): the baseline's final accuracy in <= 1/25 of the
baseline's training time, 93 % in <= 1/5 of it; the ratios are taken seed by
seed (fast seed s against baseline seed s) on the same clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import torch

from cnnlab import TrainConfig, Trainer

TARGET_HIGH = 0.93


class Clock:
    """Wall and CPU seconds since :meth:`start`, less the time spent in :meth:`paused`."""

    def start(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall0, time.process_time() - self.cpu0

    def pause_around(self, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        self.wall0 += time.perf_counter() - wall
        self.cpu0 += time.process_time() - cpu
        return result


class FastLog:
    """Trainer callback: each epoch's (epoch, wall s, CPU s, test accuracy), clocks paused
    while it evaluates."""

    def __init__(self, test, clock: Clock):
        self.test, self.clock, self.rows = test, clock, []

    def on_epoch_end(self, trainer, row):
        wall, cpu = self.clock.read()
        acc = self.clock.pause_around(lambda: trainer.validate(self.test)["val_acc"])
        self.rows.append((row["epoch"], wall, cpu, acc))


def run_fast(data_dir: Path, seed: int, out: Path) -> dict:
    """``cnnlab train --recipe fast`` on Fashion-MNIST in this process, clocked per epoch."""
    config = TrainConfig.from_recipe(
        "fast", dataset="fashion-mnist", data_dir=str(data_dir), seed=seed, device="cpu"
    )
    clock = Clock()
    from cnnlab.data import load_data

    data = load_data(config.dataset, config.data_dir, **config.data_options())
    log = FastLog(data.test, clock)
    trainer = Trainer(config, out / f"fast-{seed}", quiet=True, data=data, callbacks=[log])
    clock.start()
    trainer.fit()
    return {"name": f"fast, seed {seed}", "curve": log.rows, "test_acc": log.rows[-1][3]}


def run_baseline_clocked(idx_dir: Path, root: Path, epochs: int, seed: int) -> dict:
    """The tutorial baseline (``lenet.run_baseline``'s loop) with wall and CPU clocks."""
    from lenet import tutorial_epoch, tutorial_setup, tutorial_test_accuracy

    setup = tutorial_setup(idx_dir, root, seed)
    clock, curve = Clock(), []
    clock.start()
    for epoch in range(1, epochs + 1):
        tutorial_epoch(setup.model, setup.optimizer, setup.train_loader)
        setup.scheduler.step()
        wall, cpu = clock.read()
        accuracy = partial(tutorial_test_accuracy, setup.model, setup.test_loader)
        curve.append((epoch, wall, cpu, clock.pause_around(accuracy)))
    return {"name": f"baseline, seed {seed}", "curve": curve, "test_acc": curve[-1][3]}


def first_reaching(curve, target: float) -> tuple[int, float, float] | None:
    """The first (epoch, wall s, CPU s) of a curve at or above ``target``."""
    return next(((e, w, c) for e, w, c, acc in curve if acc >= target), None)


def end_to_end(data_dir: Path, seed: int, out: Path) -> dict:
    """``cnnlab train --recipe fast`` as a user runs it: a new process, wall and CPU
    seconds from start to exit (imports, data, training, final evaluation, report)."""
    command = [
        sys.executable, "-m", "cnnlab", "train", "--recipe", "fast",
        "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--seed", str(seed),
        "--device", "cpu", "--quiet", "--out", str(out / f"cli-{seed}"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    accuracy = next((line for line in result.stdout.splitlines() if "accuracy" in line.lower()), "")
    return {"wall": wall, "cpu": cpu, "accuracy_line": accuracy.strip()}


def race(idx_dir: Path, seeds: list[int], epochs: int, out: Path, cli: bool) -> None:
    """Baseline and fast recipe, seed after seed; prints a Markdown section."""
    rows = []
    for seed in seeds:
        baseline = run_baseline_clocked(idx_dir, out / f"tutorial-{seed}", epochs, seed)
        fast = run_fast(idx_dir, seed, out)
        rows.append((seed, baseline, fast))
        for run in (baseline, fast):  # on stderr as it comes: a long race keeps its part
            print(f"{run['name']}: {run['curve']}", file=sys.stderr, flush=True)
        print(f"load average: {os.getloadavg()}", file=sys.stderr, flush=True)
    load = os.getloadavg()
    print("## `--recipe fast` against the tutorial baseline, time to accuracy\n")
    print(f"threads: {torch.get_num_threads()}; load average at the end: {load}\n")
    print(
        "| seed | baseline final acc | baseline training wall / CPU s | fast final acc "
        "| fast to baseline acc: epoch, wall s, CPU s | ratio wall / CPU "
        "| fast to 93 %: epoch, wall s, CPU s | ratio wall / CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed, baseline, fast in rows:
        _, base_wall, base_cpu, base_acc = baseline["curve"][-1]
        cells = [str(seed), f"{base_acc:.4f}", f"{base_wall:.1f} / {base_cpu:.1f}"]
        cells.append(f"{fast['test_acc']:.4f}")
        for target in (base_acc, TARGET_HIGH):
            hit = first_reaching(fast["curve"], target)
            if hit is None:
                cells += ["not reached", "-"]
            else:
                cells.append(f"{hit[0]}, {hit[1]:.1f}, {hit[2]:.1f}")
                cells.append(f"1/{base_wall / hit[1]:.1f} / 1/{base_cpu / hit[2]:.1f}")
        print("| " + " | ".join(cells) + " |")
    print("\nTest accuracy per epoch (epoch, wall s, CPU s, accuracy):\n")
    for _, baseline, fast in rows:
        for run in (baseline, fast):
            curve = ", ".join(f"({e}, {w:.1f}, {c:.1f}, {a:.4f})" for e, w, c, a in run["curve"])
            print(f"- {run['name']}: {curve}")
    if cli:
        e2e = end_to_end(idx_dir, seeds[0], out)
        print(
            f"\nEnd to end, `cnnlab train --recipe fast` (seed {seeds[0]}, one thread, new "
            f"process: imports, data, training, final evaluation and report): "
            f"{e2e['wall']:.1f} s wall, {e2e['cpu']:.1f} s CPU; {e2e['accuracy_line']}"
        )
