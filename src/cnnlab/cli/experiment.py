"""``cnnlab experiment NAME``: the lectures' classic experiments (`cnnlab.experiments`).

cnnlab experiment init --out experiments/init
cnnlab experiment activation --data-dir ../shared/datasets/cifar10 --epochs 30
cnnlab experiment imbalance --data-dir ../shared/datasets/fashion-mnist
cnnlab experiment backdoor --poison-rate 0.05 --target 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cnnlab.cli.flags import count
from cnnlab.experiments import EXPERIMENTS, run_experiment


def add_parsers(subparsers: Any) -> None:
    """Add ``experiment``."""
    parser = subparsers.add_parser(
        "experiment", help="run a classic experiment into a folder with its table and report"
    )
    parser.add_argument("name", choices=sorted(EXPERIMENTS), help="the experiment")
    parser.add_argument("--out", help="the folder (default experiments/NAME)")
    parser.add_argument("--dataset", help="activation, depth: cifar10; imbalance: fashion-mnist")
    parser.add_argument("--data-dir", help="where the data set's files are")
    parser.add_argument("--epochs", type=count, help="activation: 30; depth: 20; imbalance: 3")
    parser.add_argument(
        "--per-class", type=count, help="activation, depth: train on this many images per class"
    )
    parser.add_argument(
        "--classes", help="imbalance: MAJORITY,MINORITY class names (default: the first two)"
    )
    parser.add_argument(
        "--poison-rate",
        type=float,
        help="backdoor: share of the training images poisoned (default 0.05)",
    )
    parser.add_argument(
        "--target", type=int, help="backdoor: index of the class the trigger leads to (default 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=experiment_command)


def experiment_command(args: argparse.Namespace) -> int:
    """Run the experiment, print its numbers and where the report is."""
    options: dict[str, Any] = {"seed": args.seed}
    if args.name != "init":
        options.update(
            {k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v}
        )
        if args.epochs:
            options["epochs"] = args.epochs
    if args.name in ("activation", "depth") and args.per_class:
        options["per_class"] = args.per_class
    if args.name == "backdoor":
        given = (("rate", args.poison_rate), ("target", args.target))
        options.update({key: value for key, value in given if value is not None})
    if args.name == "imbalance" and args.classes:
        options["classes"] = [name.strip() for name in args.classes.split(",")]
    out = Path(args.out or Path("experiments") / args.name)
    metrics = run_experiment(args.name, out, **options)
    print(json.dumps(_headline(args.name, metrics), indent=1))
    print(f"report: {out / 'report.html'}")
    return 0


def _headline(name: str, metrics: dict[str, Any]) -> Any:
    if name == "depth":
        return {model: round(r["train_error"][-1], 4) for model, r in metrics.items()}
    if name == "activation":
        return {k: metrics[k] for k in ("epoch_reaching_target", "speedup", "verdict")}
    if name == "imbalance":
        return {k: metrics[k] for k in ("counts", "majority", "model")}
    if name == "backdoor":
        return {k: metrics[k] for k in ("models", "detection")}
    return {label: [round(v, 4) for v in stds] for label, stds in metrics.items()}
