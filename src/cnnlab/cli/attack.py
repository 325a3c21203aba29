"""``cnnlab attack RUN --method pgd --eps 8/255``: robustness of a trained run.

Prints the clean and robust accuracy, the attack's success rate and the mean
perturbation norms; merges them into ``RUN/metrics.json`` under
``attacks/<name>`` and writes ``RUN/figures/attack_<name>.png`` (clean image,
amplified perturbation, adversarial image, predictions), then rebuilds the report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from cnnlab import runs
from cnnlab.attack.evaluate import attack_split
from cnnlab.attack.registry import ATTACKS, create_attack, parse_eps
from cnnlab.cli.attack_dense import attack_dense_command, check_dense_options
from cnnlab.cli.attack_sweeps import (
    add_universal_arguments,
    curve_command,
    is_eps_list,
    universal_command,
)
from cnnlab.cli.flags import DEVICE_HELP, device
from cnnlab.cli.run_kind import run_task
from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.report import build_report
from cnnlab.report.attack_figures import plot_adversarial_examples
from cnnlab.report.figures import figure_to_png
from cnnlab.runs.run import IMAGE_TASKS

AUTOATTACK_NOTE = (
    "note: cnnlab's autoattack is the untargeted half of AutoAttack (APGD-CE, APGD-DLR, "
    "Square; without APGD-T and FAB-T), written to be read; robustness numbers you report "
    "should come from the reference implementation, the `autoattack` package (Croce & Hein "
    "2020, github.com/fra31/auto-attack), run on the same model."
)

# What to use instead, for the tasks attack does not handle.
UNATTACKED = {
    "detection": "A detector's loss mixes boxes and classes; attacking it (e.g. a DAG-style "
    "dense adversary, Xie et al. 2017) is not implemented. Measure it with "
    "`cnnlab evaluate RUN` (mAP).",
    "embedding": "An embedding has no class to flip; attacking verification is not "
    "implemented. Measure it with `cnnlab evaluate RUN` (EER, N-way accuracy).",
}


def add_parsers(subparsers: Any) -> None:
    """Add ``attack``."""
    parser = subparsers.add_parser(
        "attack", help="attack a run: robust accuracy, success rate, example figure"
    )
    parser.add_argument("run", help="run directory (from `cnnlab train`)")
    parser.add_argument(
        "--method",
        default="pgd",
        help=f"attack: {', '.join(ATTACKS)}, or universal (one perturbation for every "
        "image; classification runs) (default pgd)",
    )
    parser.add_argument(
        "--eps",
        help="radius of bounded attacks, e.g. 0.1 or 8/255; several (0,2/255,8/255): the "
        "accuracy-ε curve of a classification run",
    )
    parser.add_argument("--steps", type=int, help="iterations (Square: queries)")
    parser.add_argument("--norm", help="linf or l2 (default: the attack's own)")
    parser.add_argument(
        "--targeted", metavar="CLASS", help="target class (name or index): a targeted attack"
    )
    parser.add_argument("--dataset", help="attack images of another data set (classes by name)")
    parser.add_argument("--data-dir", help="folder of --dataset's files (default: its own)")
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test"),
        help="split of the run's data set to attack (default test)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=1000,
        help="attack N images of the split, the same fixed draw every time (default 1000)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="images per attack batch (default 256)"
    )
    parser.add_argument("--examples", type=int, default=8, help="examples in the figure")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the attack's random starts (default 0)"
    )
    parser.add_argument("--device", default="auto", type=device, help=DEVICE_HELP)
    add_universal_arguments(parser)
    parser.set_defaults(func=attack_command)


def attack_command(args: argparse.Namespace) -> int:
    """``cnnlab attack``: attack a fixed draw of a split, record and print the metrics."""
    sweep = args.method == "universal" or is_eps_list(args.eps)
    if not sweep:
        check_choice("attack", args.method, ATTACKS)  # before the run loads
    if args.method == "autoattack":
        print(AUTOATTACK_NOTE, file=sys.stderr)
    check_positive("--limit", args.limit)
    check_positive("--batch-size", args.batch_size)
    check_positive("--examples", args.examples, allow_zero=True)
    task = run_task(args.run, "attack")
    if sweep and task == "classification":
        return (universal_command if args.method == "universal" else curve_command)(args)
    if sweep:
        raise ConfigError(
            f"{args.run} was trained with --task {task}; universal perturbations and the "
            "accuracy-ε curve (several --eps) are for classification runs."
        )
    eps = None if args.eps is None else parse_eps(args.eps)
    if task in ("segmentation", *IMAGE_TASKS):
        check_dense_options(args, task)
        return attack_dense_command(args, eps, _attack_name(args, args.norm or "linf", None))
    if task != "classification":
        raise ConfigError(
            f"{args.run} was trained with --task {task}; `cnnlab attack` attacks "
            f"classification, segmentation and reconstruction runs. {UNATTACKED.get(task, '')}"
        )
    run = runs.load_run(args.run)
    target = None if args.targeted is None else _target_index(args.targeted, run.classes)
    attack = create_attack(
        args.method,
        eps=eps,
        norm=args.norm,
        steps=args.steps,
        targeted=target is not None,
        seed=args.seed,
    )
    norm = args.norm or ATTACKS[args.method].norms[0]
    split = run.load_split(
        args.split, dataset=args.dataset, data_dir=args.data_dir, limit=args.limit
    )
    images, labels, result = attack_split(
        run, split, attack, target=target, batch_size=args.batch_size, device=args.device
    )
    metrics = dict(result.metrics)
    metrics.update(
        {
            "method": args.method,
            "norm": norm,
            "eps": eps,
            "steps": args.steps,
            "target": target,
            "dataset": args.dataset or run.dataset,
            "split": args.split,
        }
    )
    key = _attack_name(args, norm, target)
    runs.update_metrics(run.path, ("attacks", key), metrics)
    if args.examples:
        picked = _examples(result, labels, args.examples)
        fig = plot_adversarial_examples(
            images[picked],
            result.adversarial[picked],
            result.clean_predictions[picked].tolist(),
            result.adversarial_predictions[picked].tolist(),
            run.classes,
            eps=eps,
        )
        figure = runs.add_figure(
            run.path, "Attacks", f"attack_{key}.png", figure_to_png(fig), key.replace("_", " ")
        )
    build_report(run.path)
    _print_summary(key, metrics)
    if args.examples:
        print(f"figure: {figure}")
    print(f"metrics: {run.path / runs.METRICS} (attacks/{key})")
    return 0


def _target_index(text: str, classes: list[str]) -> int:
    if text in classes:
        return classes.index(text)
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise ConfigError(
        f"--targeted {text!r} is not a class of this model; give a name or an index in "
        f"[0, {len(classes)}): {', '.join(classes)}."
    )


def _attack_name(args: argparse.Namespace, norm: str, target: int | None) -> str:
    parts = [args.method, norm]
    if args.eps is not None:
        parts.append(f"eps{args.eps.replace('/', '_')}")
    if args.steps is not None:
        parts.append(f"steps{args.steps}")
    if target is not None:
        parts.append(f"target{target}")
    return "-".join(parts)


def _examples(result, labels: torch.Tensor, count: int) -> torch.Tensor:
    """Successful attacks on correctly classified images first, then the rest in order."""
    fooled = (result.clean_predictions == labels) & (result.adversarial_predictions != labels)
    order = torch.cat([fooled.nonzero().flatten(), (~fooled).nonzero().flatten()])
    return order[:count].cpu()


def _print_summary(key: str, metrics: dict[str, Any]) -> None:
    print(f"attack:            {key}  ({metrics['num_images']} images, {metrics['seconds']:.1f} s)")
    print(f"clean accuracy:    {metrics['clean_accuracy']:.4f}")
    print(f"robust accuracy:   {metrics['robust_accuracy']:.4f}")
    print(f"success rate:      {metrics['success_rate']:.4f}")
    print(
        f"mean perturbation: L∞ {metrics['mean_linf']:.4f}  L2 {metrics['mean_l2']:.4f}  "
        f"L0 {metrics['mean_l0']:.1f}"
    )
