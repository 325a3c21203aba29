"""``cnnlab lr-find``: the learning-rate range test from the command line.

::

    cnnlab lr-find [--model NAME --dataset NAME --data-dir PATH --batch-size N
                    --optimizer NAME --model-arg KEY=VALUE ... (the flags of `cnnlab train`)]
                   [--start-lr 1e-7] [--end-lr 10] [--steps 100] [--out PNG]

Prints the suggested learning rate and writes the loss-versus-rate plot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnlab.cli import add_training_flags, training_overrides
from cnnlab.report.figures import save_figure
from cnnlab.train.config import TrainConfig
from cnnlab.train.lr_find import lr_find, plot_lr_find


def add_parser(subparsers) -> None:
    """Add the ``lr-find`` sub-command to an ``add_subparsers()`` object."""
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: suggest a learning rate",
        description=(
            "Train from the initial weights while the learning rate grows geometrically "
            "from --start-lr to --end-lr (Smith 2017, Sec. 3.3); print the suggested rate "
            "and plot the loss against the rate. Takes the model, data and optimizer flags "
            "of `cnnlab train`; nothing is trained or saved."
        ),
        # --out names the figure here, not a run directory: it replaces the training flag.
        conflict_handler="resolve",
    )
    add_training_flags(parser)
    parser.add_argument("--start-lr", type=float, default=1e-7, help="first rate (default 1e-7)")
    parser.add_argument("--end-lr", type=float, default=10.0, help="last rate (default 10)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
    parser.add_argument(
        "--out", metavar="PNG", help="figure path (default lr-find-MODEL-DATASET.png)"
    )
    parser.set_defaults(func=lr_find_command)


def lr_find_command(args: argparse.Namespace) -> int:
    """Run ``cnnlab lr-find``; returns the exit status."""
    config = TrainConfig.from_yaml(args.config) if args.config else TrainConfig()
    config = config.replace(**training_overrides(args))
    result = lr_find(config, args.start_lr, args.end_lr, args.steps, quiet=args.quiet)
    out = Path(args.out or f"lr-find-{config.model}-{config.dataset}.png")
    save_figure(plot_lr_find(result), out)
    if len(result.lrs) < args.steps:
        print(f"stopped after {len(result.lrs)} of {args.steps} steps: the loss diverged")
    print(f"suggested learning rate: {result.suggestion:.2e} (steepest descent of the loss)")
    print(f"minimum-loss rate / 10:  {result.min_loss_lr:.2e}")
    print(f"figure: {out}")
    return 0
