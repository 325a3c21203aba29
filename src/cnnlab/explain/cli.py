"""``cnnlab explain``: attribution maps for image files, model and data-set views, faithfulness.

::

    cnnlab explain RUN IMAGE... --method NAME [--target CLASS] [--layer NAME]
    cnnlab explain RUN --method filters|activations|patches|neighbours|tsne
                   [--dataset NAME --data-dir PATH --split test --limit N]
    cnnlab explain RUN --evaluate [--limit N] [--methods a,b,...]

Figures go to ``RUN/figures/explain/`` (shown in the report's "Explanations"
section); each written path is printed.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from cnnlab.errors import ConfigError
from cnnlab.explain.methods import ATTRIBUTIONS, LAYER_METHODS, get_method
from cnnlab.runs import Run, load_run

VIEWS = ("filters", "activations", "patches", "neighbours", "tsne")
DEFAULT_LIMIT = {"evaluate": 64, "patches": 1000, "neighbours": 1000, "tsne": 500}
NEIGHBOURS, QUERIES, UNITS = 6, 5, 8


def add_parser(subparsers) -> None:
    """Add the ``explain`` sub-command to an ``add_subparsers()`` object."""
    names = ", ".join([*ATTRIBUTIONS, *VIEWS])
    parser = subparsers.add_parser(
        "explain",
        help="attribution maps, feature views and faithfulness of a run",
        description="Explain a run's model; figures are written to RUN/figures/explain/.",
    )
    parser.add_argument("run", help="run directory")
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files to explain")
    parser.add_argument("--method", help=f"one of: {names}")
    parser.add_argument("--target", help="class index or name (default: the predicted class)")
    parser.add_argument("--layer", help="layer name (cam methods, activations, patches)")
    parser.add_argument(
        "--unit",
        type=int,
        action="append",
        help=f"patches: unit of --layer (default 0..{UNITS - 1})",
    )
    parser.add_argument("--dataset", help="data set for the data-set views (default: the run's)")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--limit", type=int, help="number of data-set images to use")
    parser.add_argument(
        "--evaluate", action="store_true", help="deletion/insertion AUC of every method"
    )
    parser.add_argument("--methods", help="--evaluate: comma-separated methods (default: all)")
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(func=explain_command)


def explain_command(args: argparse.Namespace) -> int:
    """Run ``cnnlab explain``; returns the exit status."""
    run = load_run(args.run)
    run.model.to(args.device)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}.")
    if args.evaluate:
        return _evaluate(run, args)
    if args.method is None:
        raise ConfigError(
            f"Pass --method (one of {', '.join([*ATTRIBUTIONS, *VIEWS])}) or --evaluate."
        )
    if args.method in VIEWS:
        return _view(run, args)
    method = args.method.replace("_", "-")
    get_method(method)
    if not args.images:
        raise ConfigError(
            f"--method {method} explains image files: give them after the run directory, "
            f"e.g. cnnlab explain {args.run} cat.png --method {method}."
        )
    return _attribute(run, args, method)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.replace("+", "p"))


def _parse_target(text: str | None, classes: list[str]) -> int | None:
    if text is None:
        return None
    if text in classes:
        return classes.index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(classes):
        return int(text)
    raise ConfigError(
        f"--target {text!r} is neither a class index 0..{len(classes) - 1} nor a class name "
        f"of this run ({', '.join(classes)})."
    )


def _load_files(run: Run, paths: list[str], device: str) -> torch.Tensor:
    from cnnlab.data import load_image

    channels, height, width = run.input_shape
    return torch.stack([load_image(p, channels, (height, width)) for p in paths]).to(device)


def _dataset_images(run: Run, args: argparse.Namespace, limit: int) -> torch.Tensor:
    """Up to ``limit`` images of the chosen split, fitted to the model input."""
    from cnnlab.data import load_data, make_loader
    from cnnlab.train.evaluate import fit_to_input

    same = args.dataset in (None, run.config.dataset)
    options = run.config.data_options()
    if not same:
        options.update(classes=None, per_class=None, test_fraction=None)
    data = load_data(
        args.dataset or run.config.dataset,
        args.data_dir or (run.config.data_dir if same else None),
        **options,
    )
    images, taken = [], 0
    for x, _ in make_loader(getattr(data, args.split), 256, shuffle=False, device=args.device):
        images.append(fit_to_input(x, run.input_shape)[: limit - taken])
        taken += len(images[-1])
        if taken >= limit:
            break
    if not images:
        raise ConfigError(f"The {args.split} split of {data.name} is empty.")
    return torch.cat(images)


def _save(fig, run: Run, name: str) -> Path:
    from cnnlab.explain.report import explain_dir
    from cnnlab.report.figures import save_figure

    path = explain_dir(run.path) / f"{_slug(name)}.png"
    save_figure(fig, path)
    print(path)
    return path


def _attribute(run: Run, args: argparse.Namespace, method: str) -> int:
    from cnnlab.explain.figures import plot_attributions

    x = _load_files(run, args.images, args.device)
    probs = run.predict_proba(x)
    chosen = _parse_target(args.target, run.classes)
    target = probs.argmax(1).clone() if chosen is None else torch.full((len(x),), chosen)
    if args.layer and method not in LAYER_METHODS:
        raise ConfigError(
            f"--layer applies to {', '.join(sorted(LAYER_METHODS))}, not to {method}."
        )
    options = {"layer": args.layer} if args.layer else {}
    attributions = get_method(method)(run.model, x, target.to(args.device), **options)
    for i, path in enumerate(args.images):
        c = int(target[i])
        title = f"{method}: {run.classes[c]} (p = {float(probs[i, c]):.3f})"
        fig = plot_attributions(x[i : i + 1], attributions[i : i + 1], [title])
        _save(fig, run, f"{method}_{Path(path).stem}")
    return 0


def _view(run: Run, args: argparse.Namespace) -> int:
    from cnnlab.explain import features
    from cnnlab.explain.figures import (
        plot_activations,
        plot_filters,
        plot_neighbours,
        plot_patches,
        plot_tsne,
    )
    from cnnlab.explain.hooks import last_spatial_layer

    model = run.model
    if args.method == "filters":
        _save(plot_filters(features.first_layer_filters(model)), run, "filters")
        return 0
    if args.method == "activations":
        x = (
            _load_files(run, args.images[:1], args.device)
            if args.images
            else _dataset_images(run, args, 1)
        )
        layers = [args.layer] if args.layer else None
        _save(plot_activations(features.layer_activations(model, x, layers)), run, "activations")
        return 0
    limit = args.limit or DEFAULT_LIMIT[args.method]
    images = _dataset_images(run, args, limit)
    if args.method == "patches":
        layer = args.layer or last_spatial_layer(model, images)
        channels = features.layer_activations(model, images[:1], [layer])[layer].shape[1]
        units = args.unit or list(range(min(UNITS, channels)))
        found = features.max_activating_patches(model, images, layer, units)
        _save(plot_patches(found), run, f"patches_{layer}")
    elif args.method == "neighbours":
        queries = _load_files(run, args.images, args.device) if args.images else images[:QUERIES]
        database = images if args.images else images[QUERIES:]
        index, _ = features.nearest_neighbours(
            features.codes(model, queries), features.codes(model, database), NEIGHBOURS
        )
        _save(plot_neighbours(queries, database, index), run, "neighbours")
    else:
        points = features.tsne_embedding(features.codes(model, images))
        _save(plot_tsne(points, images), run, "tsne")
    return 0


def _evaluate(run: Run, args: argparse.Namespace) -> int:
    from cnnlab.explain.metrics import compare_methods, format_method_scores

    names = args.methods.split(",") if args.methods else list(ATTRIBUTIONS)
    methods = {name: get_method(name) for name in names}
    images = _dataset_images(run, args, args.limit or DEFAULT_LIMIT["evaluate"])
    target = run.predict_proba(images).argmax(1).clone().to(args.device)
    rows, skipped = [], []
    for name, method in methods.items():
        try:
            rows += compare_methods(run.model, images, target, {name: method})
        except ConfigError as exc:  # e.g. CAM on a model without global average pooling
            skipped.append(f"{name}: {exc}")
    print(f"Deletion/insertion on {len(images)} {args.split} images (target: predicted class)")
    print(format_method_scores(rows))
    for line in skipped:
        print(f"skipped {line}")
    return 0
