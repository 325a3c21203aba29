"""The commands that show what cnnlab has: ``models``, ``datasets``, ``summary`` and ``augment``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from cnnlab.cli.flags import count
from cnnlab.data import list_datasets, load_data
from cnnlab.data.mixing import mix_batch
from cnnlab.data.transforms import Augment, Samples, training_images
from cnnlab.errors import ConfigError
from cnnlab.models import list_models, model_description
from cnnlab.models.registry import create_model_for_input
from cnnlab.models.summary import format_layer_table, layer_table
from cnnlab.report.figures import image_grid, save_figure
from cnnlab.report.zoo_chart import plot_accuracy_vs_operations, zoo_points


def add_parsers(subparsers: Any) -> None:
    """Add ``summary``, ``models``, ``datasets`` and ``augment``."""
    summary = subparsers.add_parser("summary", help="layer table of a model")
    summary.add_argument("model", help="model name (see `cnnlab models`)")
    summary.add_argument(
        "--input", default="1x32x32", metavar="CxHxW", help="input shape (default 1x32x32)"
    )
    summary.add_argument("--num-classes", type=int, default=10, help="classes (default 10)")
    summary.set_defaults(func=summary_command)

    models = subparsers.add_parser("models", help="list the models")
    models.add_argument(
        "--filter", metavar="PATTERN", help="only names matching PATTERN, such as 'resnet*'"
    )
    models.add_argument(
        "--chart",
        nargs="?",
        const="zoo-accuracy.png",
        metavar="PNG",
        help="draw published ImageNet top-1 against multiply-adds, blob area ∝ parameters "
        "(default file zoo-accuracy.png)",
    )
    models.set_defaults(func=models_command)
    subparsers.add_parser("datasets", help="list the data sets").set_defaults(func=datasets_command)

    augment = subparsers.add_parser("augment", help="show augmented training examples")
    augment.add_argument("--dataset", default="digits", help="data set name (default digits)")
    augment.add_argument("--data-dir", help="folder of the data set's files (default: its own)")
    augment.add_argument(
        "--augment",
        default="flip,crop:4",
        metavar="LIST",
        help="augmentations as for `cnnlab train --augment` (default flip,crop:4)",
    )
    augment.add_argument(
        "--mixup", type=float, default=0.0, metavar="ALPHA", help="Mixup with Beta(α, α); 0 = off"
    )
    augment.add_argument(
        "--cutmix", type=float, default=0.0, metavar="ALPHA", help="CutMix with Beta(α, α); 0 = off"
    )
    augment.add_argument("--show", action="store_true", help="write the grid figure (default)")
    augment.add_argument("--count", type=count, default=8, help="images per row")
    augment.add_argument("--rows", type=int, default=3, help="augmented rows")
    augment.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    augment.add_argument("--out", help="PNG path (default augment-DATASET.png)")
    augment.set_defaults(func=augment_command)


def parse_shape(text: str) -> tuple[int, int, int]:
    """An input shape written ``CxHxW``, such as ``3x224x224``."""
    try:
        channels, height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input expects CxHxW such as 3x224x224, got {text!r}.") from None
    if min(channels, height, width) < 1:
        raise ConfigError(f"--input dimensions must be positive, got {text!r}.")
    return channels, height, width


def summary_command(args: argparse.Namespace) -> int:
    """``cnnlab summary``: the layer table of a model for an input shape."""
    shape = parse_shape(args.input)
    model = create_model_for_input(args.model, args.num_classes, shape)
    print(format_layer_table(layer_table(model, shape)))
    return 0


def models_command(args: argparse.Namespace) -> int:
    """``cnnlab models [--filter PATTERN]``: one line per registered model."""
    if args.chart:
        return chart_command(args.chart)
    names = list_models(args.filter)
    if not names:
        raise ConfigError(
            f"No model name matches {args.filter!r} (patterns use * and ?, such as 'resnet*'). "
            "Run `cnnlab models` for the full list."
        )
    for name in names:
        print(f"{name:<24} {model_description(name)}")
    return 0


def chart_command(path: str) -> int:
    """``cnnlab models --chart``: the zoo's accuracy against operations (Canziani et al. 2016)."""
    points = zoo_points()
    save_figure(plot_accuracy_vs_operations(points), path)
    counted = sum(point.counted for point in points)
    print(
        f"{path}: {len(points)} models with a published ImageNet top-1 "
        f"({counted} with multiply-adds or parameters counted here, the rest as published)"
    )
    return 0


def datasets_command(args: argparse.Namespace) -> int:
    """``cnnlab datasets``: one line per data set."""
    for name, description in list_datasets():
        print(f"{name:<16} {description}")
    return 0


MAX_AUGMENT_COUNT, MAX_AUGMENT_ROWS = 64, 16  # a figure a person can look at


def augment_command(args: argparse.Namespace) -> int:
    """``cnnlab augment``: a grid of training images, then rows of their augmentations."""
    if args.count > MAX_AUGMENT_COUNT:
        raise ConfigError(f"--count must be at most {MAX_AUGMENT_COUNT}, got {args.count}.")
    if not 0 <= args.rows <= MAX_AUGMENT_ROWS:
        raise ConfigError(f"--rows must be in 0..{MAX_AUGMENT_ROWS}, got {args.rows}.")
    augment = Augment(args.augment)
    data = load_data(args.dataset, data_dir=args.data_dir)
    generator = torch.Generator().manual_seed(args.seed)
    picks = torch.randperm(len(data.train), generator=generator)[: args.count]
    originals = torch.stack([data.train[int(i)][0] for i in picks]).float() / 255
    labels = torch.tensor([data.train[int(i)][1] for i in picks])
    if augment.lighting_std is not None:
        augment.fit(training_images(data.train))
    rows, titles = [originals], [data.classes[int(y)] for y in labels]
    for row in range(args.rows):  # row r as epoch r would show it (for alternating_flip)
        images, targets = augment(originals, generator, Samples(picks, row, args.seed)), None
        if args.mixup > 0 or args.cutmix > 0:
            images, targets = mix_batch(
                images, labels, len(data.classes), generator, args.mixup, args.cutmix
            )
        rows.append(images)
        titles += _target_titles(targets, labels, data.classes)
    out = Path(args.out or f"augment-{args.dataset}.png")
    save_figure(image_grid(torch.cat(rows), titles, ncols=len(originals)), out)
    print(f"first row: originals; {args.rows} augmented rows: {', '.join(augment.specs)}")
    print(f"figure: {out}")
    return 0


def _target_titles(targets, labels, classes: list[str]) -> list[str]:
    """Each image's class, or its two largest mixed target weights."""
    if targets is None:
        return [classes[int(y)] for y in labels]
    top = targets.topk(min(2, targets.shape[1]), dim=1)
    return [
        "\n".join(f"{classes[int(i)]} {w:.2f}" for w, i in zip(ws, ids, strict=True) if w > 0)
        for ws, ids in zip(top.values, top.indices, strict=True)
    ]
