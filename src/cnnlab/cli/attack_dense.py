"""``cnnlab attack`` on segmentation and reconstruction runs (`cnnlab.attack.dense`).

Segmentation: FGSM or PGD ascending the mean per-pixel cross-entropy; prints
and records the mean IoU and pixel accuracy on the clean and on the
adversarial images.  Reconstruction (autoencoder, denoise, noise2void): FGSM or
PGD ascending the restored image's squared error against the clean image,
starting from the evaluation's noisy inputs (which may leave [0, 1]: only the
perturbation is bounded then); prints and records the PSNR of
the restored images before and after.  Both merge their numbers into
``RUN/metrics.json`` under ``attacks/<name>`` and add an example figure to the
report's "Attacks" section.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from cnnlab import runs
from cnnlab.attack.dense import DensePGD, attack_reconstruction, attack_segmentation
from cnnlab.data import make_loader
from cnnlab.data.noise import parse_noise
from cnnlab.errors import ConfigError
from cnnlab.report import build_report
from cnnlab.report.figures import figure_to_png
from cnnlab.report.reconstruction_figures import plot_image_rows
from cnnlab.report.segmentation_figures import plot_segmentation
from cnnlab.tasks.reconstruction_eval import eval_noise

DENSE_METHODS = ("fgsm", "pgd")
DEFAULT_EPS = 8 / 255


def check_dense_options(args: argparse.Namespace, task: str) -> None:
    """Refuse what has no meaning on a dense task, naming what works."""
    if args.method not in DENSE_METHODS:
        raise ConfigError(
            f"--method {args.method} attacks classifiers; on a {task} run attack offers "
            f"{' and '.join(DENSE_METHODS)} (they ascend the "
            f"{'per-pixel cross-entropy' if task == 'segmentation' else 'restoration error'}). "
            "Use --method pgd or --method fgsm."
        )
    if args.targeted is not None:
        raise ConfigError(
            f"--targeted names a class to reach; the attack on a {task} run is untargeted. "
            "Drop --targeted."
        )


def _attack(args: argparse.Namespace, eps: float | None, loss: str, box: bool) -> DensePGD:
    radius = DEFAULT_EPS if eps is None else eps
    norm = args.norm or "linf"
    if args.method == "fgsm":
        if args.steps is not None:
            raise ConfigError("FGSM takes one step; drop --steps or use --method pgd.")
        return DensePGD.fgsm(radius, loss=loss, norm=norm, box=box)
    steps = 10 if args.steps is None else args.steps
    return DensePGD(radius, loss=loss, steps=steps, norm=norm, box=box, seed=args.seed)


def _split_tensors(run: runs.Run, args: argparse.Namespace):
    split = run.load_split(
        args.split, dataset=args.dataset, data_dir=args.data_dir, limit=args.limit
    )
    loader = make_loader(split.images, args.batch_size, shuffle=False, device=args.device)
    images, targets, indices = zip(*loader.with_indices(), strict=True)
    return torch.cat(images), torch.cat(targets), torch.cat(indices)


def attack_dense_command(args: argparse.Namespace, eps: float | None, key: str) -> int:
    """Attack a segmentation or reconstruction run (options checked by
    `check_dense_options`); record and print the damage."""
    run = runs.load_run(args.run)
    run.model.to(args.device)
    task = run.meta["task"]
    images, targets, indices = _split_tensors(run, args)
    if task == "segmentation":
        attack = _attack(args, eps, "pixel-ce", box=True)
        adversarial, _, adv_pred, metrics = attack_segmentation(
            run.model, images, targets, attack, run.classes, args.batch_size
        )
        shown = slice(0, args.examples)
        figure = plot_segmentation(adversarial[shown], targets[shown], adv_pred[shown], run.classes)
        caption = f"{key}: adversarial images, true masks, predictions on the adversarial images"
        lines = [
            f"mean IoU:          clean {metrics['miou_clean']:.4f}  adversarial "
            f"{metrics['miou_adversarial']:.4f}",
            f"pixel accuracy:    clean {metrics['pixel_accuracy_clean']:.4f}  adversarial "
            f"{metrics['pixel_accuracy_adversarial']:.4f}",
        ]
    else:
        noise = run.config.get("noise")
        inputs = eval_noise(images, indices, noise and parse_noise(noise), args.split)
        # Noisy inputs leave [0, 1] (Gaussian noise): only the perturbation is bounded.
        attack = _attack(args, eps, "mse", box=noise is None)
        adversarial, before, after, metrics = attack_reconstruction(
            run.model, inputs, images, attack, args.batch_size
        )
        shown = slice(0, args.examples)
        figure = plot_image_rows(
            [
                ("input", inputs[shown], None),
                ("attacked input", adversarial[shown], None),
                ("restored", before[shown], None),
                ("restored from attacked", after[shown], None),
            ]
        )
        caption = f"{key}: inputs, attacked inputs, and what the model restores from each"
        lines = [
            f"PSNR:              clean {metrics['psnr_clean']:.2f} dB  adversarial "
            f"{metrics['psnr_adversarial']:.2f} dB  (drop {metrics['psnr_drop']:.2f} dB)",
            f"SSIM:              clean {metrics['ssim_clean']:.4f}  adversarial "
            f"{metrics['ssim_adversarial']:.4f}",
        ]
    metrics.update(_settings(args, run, attack, task))
    runs.update_metrics(run.path, ("attacks", key), metrics)
    if args.examples:
        path = runs.add_figure(
            run.path, "Attacks", f"attack_{key}.png", figure_to_png(figure), caption
        )
    build_report(run.path)
    print(
        f"attack:            {key}  ({metrics['num_images']} {task} images, "
        f"{metrics['seconds']:.1f} s)"
    )
    print("\n".join(lines))
    print(f"mean perturbation: L∞ {metrics['mean_linf']:.4f}  L2 {metrics['mean_l2']:.4f}")
    if args.examples:
        print(f"figure: {path}")
    print(f"metrics: {run.path / runs.METRICS} (attacks/{key})")
    return 0


def _settings(
    args: argparse.Namespace, run: runs.Run, attack: DensePGD, task: str
) -> dict[str, Any]:
    return {
        "method": args.method,
        "loss": attack.objective,
        "norm": attack.norm,
        "eps": attack.eps,
        "steps": attack.steps,
        "task": task,
        "dataset": args.dataset or run.dataset,
        "split": args.split,
    }


__all__ = ["DENSE_METHODS", "attack_dense_command", "check_dense_options"]
