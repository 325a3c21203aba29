"""``cnnlab diagnose``: per-layer activation and gradient statistics, and the init experiment.

:

    cnnlab diagnose MODEL [--init NAME] [--input CxHxW | --dataset NAME --data-dir PATH]
                    [--batch-size N] [--num-classes N] [--model-arg KEY=VALUE] [--out PNG]
    cnnlab diagnose --experiment tanh-init [--out PNG]

Prints a table per layer (or the per-layer std of each initialization) and
writes the figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.cli.flags import add_field_flag
from cnnlab.cli.inspect import parse_shape
from cnnlab.data import channel_stats, load_data, make_loader
from cnnlab.errors import ConfigError, check_positive
from cnnlab.models.registry import create_model_for_input
from cnnlab.report.diagnose_figures import plot_diagnostics, plot_init_experiment
from cnnlab.report.figures import save_figure
from cnnlab.runs import build_classifier
from cnnlab.train.diagnose import diagnose, format_layer_stats, init_experiment
from cnnlab.train.init import initialize

EXPERIMENTS = ("tanh-init",)


def add_parsers(subparsers: Any) -> None:
    """Add ``diagnose``."""
    parser = subparsers.add_parser(
        "diagnose",
        help="per-layer activation and gradient statistics of a model for one batch",
        description=(
            "Run one batch forward and backward through MODEL and report, per layer, the "
            "mean, std, zero and dead-unit fractions of the outputs, the std of their "
            "gradients and the parameter-gradient norms; or reproduce an experiment."
        ),
    )
    parser.add_argument("model", nargs="?", help="model name (see `cnnlab models`)")
    add_field_flag(parser, "init")
    parser.add_argument("--input", metavar="CxHxW", help="random N(0, 1) inputs (default 1x32x32)")
    parser.add_argument("--dataset", help="a training batch of this data set instead")
    parser.add_argument("--data-dir", help="where the data set's files are")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--num-classes", type=int, default=10, help="with --input (default 10)")
    add_field_flag(parser, "model_kwargs")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the batch (default 0)"
    )
    parser.add_argument(
        "--experiment",
        choices=EXPERIMENTS,
        help="tanh-init: 10 layers of 500 tanh/ReLU units under N(0, 0.01²), Xavier and He",
    )
    parser.add_argument("--out", metavar="PNG", help="figure (default diagnose-MODEL.png)")
    parser.set_defaults(func=diagnose_command)


def diagnose_command(args: argparse.Namespace) -> int:
    """``cnnlab diagnose``: a layer table of one batch's statistics, or an experiment."""
    if args.experiment is not None:
        if args.model is not None:
            raise ConfigError("Pass either a MODEL or --experiment, not both.")
        return _experiment(args)
    if args.model is None:
        raise ConfigError(
            f"Pass a MODEL name (see `cnnlab models`) or --experiment ({', '.join(EXPERIMENTS)})."
        )
    model, images, labels = _model_and_batch(args)
    stats = diagnose(model, images, labels)
    print(format_layer_stats(stats))
    out = Path(args.out or f"diagnose-{args.model}.png")
    save_figure(plot_diagnostics(stats), out)
    print(f"figure: {out}")
    return 0


def _model_and_batch(
    args: argparse.Namespace,
) -> tuple[nn.Module, torch.Tensor, torch.Tensor | None]:
    """The model (initialised from ``--seed``, then ``--init``), a batch and its labels.

    With ``--dataset``, a shuffled training batch with its labels and the model
    behind the channel normalization of the training images, as the Trainer
    builds it; otherwise N(0, 1) noise of ``--input``'s shape without labels.
    """
    check_positive("--batch-size", args.batch_size)
    torch.manual_seed(args.seed)
    if args.dataset is not None:
        if args.input is not None:
            raise ConfigError("--input and --dataset both set the input; pass one of them.")
        data = load_data(args.dataset, args.data_dir, seed=args.seed)
        images, labels = next(
            iter(make_loader(data.train, args.batch_size, shuffle=True, seed=args.seed))
        )
        mean, std = channel_stats(data.train)
        model = build_classifier(
            args.model, args.model_kwargs or {}, data.classes, data.input_shape, mean, std
        )
    else:
        if args.data_dir is not None:
            raise ConfigError("--data-dir needs --dataset NAME.")
        check_positive("--num-classes", args.num_classes)
        shape = parse_shape(args.input or "1x32x32")
        model = create_model_for_input(
            args.model, args.num_classes, shape, **(args.model_kwargs or {})
        )
        generator = torch.Generator().manual_seed(args.seed)
        images, labels = torch.randn(args.batch_size, *shape, generator=generator), None
    if args.init is not None:
        initialize(model, args.init, data=images)
    return model, images, labels


def _experiment(args: argparse.Namespace) -> int:
    """The per-layer std of each initialization of the tanh/ReLU experiment, and its figure."""
    results = init_experiment(seed=args.seed)
    labels = list(results)
    width = max(len(label) for label in labels)
    print("std of the activations per layer (10 layers of 500 units, inputs N(0, 1)):")
    print("layer  " + "  ".join(f"{label:>{width}}" for label in labels))
    depth = len(next(iter(results.values())))
    for k in range(depth):
        row = "  ".join(f"{results[label][k].std:>{width}.3e}" for label in labels)
        print(f"{k + 1:>5}  {row}")
    out = Path(args.out or f"diagnose-{args.experiment}.png")
    save_figure(plot_init_experiment(results), out)
    print(f"figure: {out}")
    return 0
