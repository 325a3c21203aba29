"""Denoising Fashion-MNIST at Gaussian σ = 0.2: supervised U-Net, Noise2Void, classical filters.

Issue 26's target, in one run: the supervised U-Net (``--task denoise``: noisy
in, clean target) and Noise2Void (``--task noise2void``: noisy images only,
blind-spot loss) both gain PSNR over the noisy input; Noise2Void is within
2 dB of the supervised network and at least 4 dB above the noisy input.  Both
train the same U-Net (``unet_n2v``, the paper's depth 2; ``--widths`` narrows
it for 2 CPU cores) on the same subset of the training images for the same
epochs, with the Trainer's own epoch loop, and are measured after the last
epoch (the cosine schedule ends at 0) on a fixed subset of the test split with
the evaluation noise of :mod:`cnnlab.tasks.reconstruction_eval` (the same
noisy images for every method).  Classical baselines on the same noisy images:
a Gaussian filter and scikit-image's non-local means (Buades, Coll & Morel
2005), each with its parameter chosen on validation images.  The two networks train
at the same time in two processes (``--threads`` each).

Usage::

    python benchmarks/denoising.py --data-dir /work/shared/datasets/fashion-mnist \\
        [--train 6000] [--test 1000] [--epochs 8] [--widths 16,32,64] [--threads 2]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from skimage.filters import gaussian
from skimage.restoration import denoise_nl_means

from cnnlab import TrainConfig, Trainer
from cnnlab.data import DataSplits, load_data, make_loader
from cnnlab.data.noise import parse_noise
from cnnlab.data.splits import spread_subset
from cnnlab.metrics.restoration import psnr, ssim
from cnnlab.tasks.reconstruction_eval import eval_noise, measure

NOISE = "gaussian:0.2"


def noisy_and_clean(dataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation noise of every image of ``dataset`` (as the tasks measure), and the images."""
    noisy, clean = [], []
    for x, _, idx in make_loader(dataset, 256, shuffle=False).with_indices():
        noisy.append(eval_noise(x, idx, parse_noise(NOISE), split))
        clean.append(x)
    return torch.cat(noisy), torch.cat(clean)


def classical(noisy: torch.Tensor, method: str, param: float) -> torch.Tensor:
    """A classical denoiser applied image by image (float64 in, float32 out)."""
    sigma = parse_noise(NOISE).param
    out = []
    for image in noisy[:, 0].double().numpy():
        if method == "gaussian filter":
            out.append(gaussian(image, sigma=param, mode="reflect", preserve_range=True))
        else:
            out.append(
                denoise_nl_means(
                    image,
                    h=param * sigma,
                    sigma=sigma,
                    patch_size=5,
                    patch_distance=6,
                    fast_mode=True,
                )
            )
    return torch.from_numpy(np.stack(out)[:, None]).float().clamp(0, 1)


def tune_classical(val, method: str, grid: list[float]) -> float:
    """The parameter of ``method`` with the best mean PSNR on the validation images."""
    noisy, clean = noisy_and_clean(val, "val")
    scores = [psnr(clean, classical(noisy, method, p)).mean().item() for p in grid]
    return grid[int(np.argmax(scores))]


def load_subsets(args: argparse.Namespace) -> DataSplits:
    """Fixed spread subsets of Fashion-MNIST's training, validation and test splits."""
    full = load_data("fashion-mnist", args.data_dir, seed=args.seed)
    return DataSplits(
        full.name,
        full.train.subset(spread_subset(len(full.train), args.train)),
        full.val.subset(spread_subset(len(full.val), args.val)),
        full.test.subset(spread_subset(len(full.test), args.test)),
        full.classes,
    )


def train_and_measure(task: str, args: argparse.Namespace) -> tuple[dict, float, float]:
    """In its own process: train ``task``, then its per-image test PSNR and SSIM, and the
    wall and CPU seconds of training."""
    torch.set_num_threads(args.threads)
    data = load_subsets(args)
    model, wall, cpu = train(task, data, args)
    measured = measure(model, data.test, parse_noise(NOISE), "test")
    return {key: measured[key] for key in ("psnr", "ssim")}, wall, cpu


def train(
    task: str, data: DataSplits, args: argparse.Namespace
) -> tuple[torch.nn.Module, float, float]:
    """Train ``task`` for ``args.epochs`` epochs: the model after the last epoch, the wall
    seconds and the process's CPU seconds of training (progress on stderr)."""
    config = TrainConfig(
        task=task,
        model="unet_n2v",
        model_kwargs={"widths": args.widths},
        dataset="fashion-mnist",
        noise=NOISE,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(config, Path(scratch) / "run", data=data, quiet=True)
        started, cpu = time.perf_counter(), time.process_time()
        for epoch in range(args.epochs):
            row = trainer.train_epoch()
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            val = trainer.validate(data.val)  # not counted: monitoring only
            print(
                f"{task} epoch {epoch + 1}: train loss {row['train_loss']:.5f}, val PSNR "
                f"{val['val_psnr']:.2f} dB ({wall:.0f} s wall, {used:.0f} s CPU)",
                file=sys.stderr,
                flush=True,
            )
        return trainer.eval_model.eval(), wall, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with Fashion-MNIST's files")
    parser.add_argument("--train", type=int, default=6000, help="training images (a subset)")
    parser.add_argument("--val", type=int, default=300, help="validation images (tuning)")
    parser.add_argument("--test", type=int, default=1000, help="test images (a subset)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--widths", default="16,32,64", help="U-Net widths (paper: 32,64,128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.widths = [int(w) for w in args.widths.split(",")]
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    tasks = {"noise2void": "noisy images only", "denoise": "noisy + clean pairs"}
    # The two networks train at the same time, each in its own process with --threads.
    pool = ProcessPoolExecutor(len(tasks), mp_context=multiprocessing.get_context("spawn"))
    futures = {task: pool.submit(train_and_measure, task, args) for task in tasks}
    data = load_subsets(args)
    noisy, clean = noisy_and_clean(data.test, "test")
    rows = [("noisy input", "-", "-", psnr(clean, noisy), ssim(clean, noisy))]
    for method, grid in (
        ("gaussian filter", [0.5, 0.75, 1.0, 1.25]),
        ("nl-means", [0.4, 0.6, 0.8, 1.0]),
    ):
        param = tune_classical(data.val, method, grid)
        restored = classical(noisy, method, param)
        rows.append(
            (f"{method} ({param:g})", "-", "-", psnr(clean, restored), ssim(clean, restored))
        )
    for task, seen in tasks.items():
        measured, wall, cpu = futures[task].result()
        spent = f"{wall:.0f} ({cpu:.0f} CPU)"
        rows.append((f"{task} (unet_n2v)", seen, spent, measured["psnr"], measured["ssim"]))
    pool.shutdown()
    total = time.perf_counter() - started
    base = rows[0][3].mean().item()
    print(
        f"`python benchmarks/denoising.py --data-dir DIR --train {args.train} --test {args.test} "
        f"--epochs {args.epochs} --widths {','.join(map(str, args.widths))} --batch-size "
        f"{args.batch_size} --lr {args.lr:g} --threads {args.threads}` ({datetime.date.today()}, "
        f"wall time {total:.0f} s)"
    )
    print()
    print("| method | trained on | training s (CPU s) | test PSNR (dB) | gain (dB) | test SSIM |")
    print("|---|---|---|---|---|---|")
    for name, seen, seconds, p, s in rows:
        mean = p.mean().item()
        print(f"| {name} | {seen} | {seconds} | {mean:.2f} | {mean - base:+.2f} | {s.mean():.4f} |")


if __name__ == "__main__":
    main()
