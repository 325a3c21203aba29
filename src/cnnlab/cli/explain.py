"""``cnnlab explain``: attribution maps, model and data-set views, synthesis, faithfulness.

:

    cnnlab explain RUN IMAGE... --method NAME [--target CLASS] [--layer NAME]
    cnnlab explain RUN --method filters|activations|patches|neighbours|tsne
                   [--dataset NAME --data-dir PATH --split test --limit N]
    cnnlab explain RUN --method class-model [--target CLASS...] [--steps N]
    cnnlab explain RUN CONTENT... --method style-transfer --style STYLE
                   [--vgg-weights FILE] [--steps N] [--size PX]
    cnnlab explain RUN --evaluate [--limit N] [--methods a,b,...]
    cnnlab explain RUN --shape-bias FOLDER
    cnnlab explain SEGRUN IMAGE... --method grad-cam --target-class C [--region x0,y0,x1,y1]

Segmentation, embedding, reconstruction and detection runs get what is meaningful
for them (`cnnlab.cli.explain_tasks`); the rest is refused, naming what works.

Figures go to ``RUN/figures/explain/`` (shown in the report's "Explanations"
section); each written path is printed.  Style transfer uses VGG-19, not the
run's model: RUN only receives its figure.  ``--shape-bias`` prints the
cue-conflict numbers and merges them into ``RUN/metrics.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import torch

from cnnlab.cli.explain_io import load_files, save_explanation
from cnnlab.cli.explain_tasks import MODEL_VIEWS, explain_task
from cnnlab.cli.flags import DEVICE_HELP, device
from cnnlab.cli.run_kind import run_task
from cnnlab.data import make_loader
from cnnlab.data.image import read_image, resize
from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.explain import features
from cnnlab.explain.context import last_spatial_layer
from cnnlab.explain.gradients import same_as_gradient_note
from cnnlab.explain.methods import ATTRIBUTIONS, LAYER_METHODS, get_method
from cnnlab.explain.metrics import compare_methods, format_method_scores
from cnnlab.explain.synthesis import (
    class_model_visualization,
    load_cue_conflict,
    shape_bias,
    style_transfer,
    vgg19_features,
)
from cnnlab.report.explain_figures import (
    plot_activations,
    plot_attributions,
    plot_filters,
    plot_neighbours,
    plot_patches,
    plot_style_transfer,
    plot_tsne,
)
from cnnlab.report.figures import image_grid
from cnnlab.runs import METRICS, Run, fit_to_input, load_run, update_metrics

VIEWS = ("filters", "activations", "patches", "neighbours", "tsne")
SYNTHESIS = ("class-model", "style-transfer")
METHODS = (*ATTRIBUTIONS, *VIEWS, *SYNTHESIS)
DEFAULT_LIMIT = {"evaluate": 64, "patches": 1000, "neighbours": 1000, "tsne": 500}
NEIGHBOURS, QUERIES, UNITS = 6, 5, 8
#: Style transfer: default long side in pixels, and the least side VGG-19 takes
#: (four poolings before relu5_1, Gatys et al.'s deepest style layer).
STYLE_SIZE, STYLE_MIN_SIDE = 256, 16


def add_parsers(subparsers: Any) -> None:
    """Add ``explain``."""
    parser = subparsers.add_parser(
        "explain",
        help="attribution maps, feature views, synthesis, faithfulness and shape bias of a run",
        description=(
            "Explain a run's model; figures are written to RUN/figures/explain/. "
            "style-transfer does not use the run's model (it uses VGG-19); RUN is still "
            "required, as for every explain command, and receives the figure."
        ),
    )
    parser.add_argument("run", help="run directory")
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="image files to explain (style-transfer: content images)",
    )
    parser.add_argument("--method", help=f"one of: {', '.join(METHODS)}")
    parser.add_argument(
        "--target",
        nargs="+",
        action="extend",
        metavar="CLASS",
        help="class index or name (default: the predicted class); "
        "class-model: one or more (default: every class)",
    )
    parser.add_argument(
        "--target-class",
        metavar="C",
        help="segmentation runs: the class (index or name) whose logits are explained "
        "(default: the class predicted on most pixels, background aside)",
    )
    parser.add_argument(
        "--region",
        metavar="x0,y0,x1,y1",
        help="segmentation runs: sum the class's logits over this rectangle of the model "
        "input (x1, y1 exclusive) instead of over its predicted pixels (Seg-Grad-CAM)",
    )
    parser.add_argument("--layer", help="layer name (cam methods, activations, patches)")
    parser.add_argument(
        "--unit",
        type=int,
        action="append",
        help=f"patches: unit of --layer (default 0..{UNITS - 1})",
    )
    parser.add_argument("--dataset", help="data set for the data-set views (default: the run's)")
    parser.add_argument("--data-dir", help="folder of the data set's files (default: its own)")
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test"),
        help="split the views and --evaluate draw images from (default test)",
    )
    parser.add_argument("--limit", type=int, help="number of data-set images to use")
    parser.add_argument(
        "--evaluate", action="store_true", help="deletion/insertion AUC of every method"
    )
    parser.add_argument("--methods", help="--evaluate: comma-separated methods (default: all)")
    parser.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="class-model, style-transfer: optimization steps (default 200 and 300 respectively)",
    )
    parser.add_argument("--style", metavar="IMAGE", help="style-transfer: the style image")
    parser.add_argument(
        "--vgg-weights",
        metavar="FILE",
        help="style-transfer: torchvision VGG-19 state dict (vgg19-dcbb9e9d.pth); nothing is "
        "downloaded, and without it VGG-19 is random and the result meaningless",
    )
    parser.add_argument(
        "--size",
        type=int,
        metavar="PX",
        default=STYLE_SIZE,
        help=f"style-transfer: long side of content and style images in pixels "
        f"(default {STYLE_SIZE})",
    )
    parser.add_argument(
        "--shape-bias",
        metavar="FOLDER",
        help="cue-conflict images FOLDER/<shape>/<shape><i>-<texture><j>.png: print the shape "
        "bias (Geirhos et al. 2019) and merge it into RUN/metrics.json",
    )
    parser.add_argument("--device", default="auto", type=device, help=DEVICE_HELP)
    parser.set_defaults(func=explain_command)


def explain_command(args: argparse.Namespace) -> int:
    """Run ``cnnlab explain``; returns the exit status."""
    if args.method is not None:  # a misspelt method fails before the run loads
        check_choice("explanation method", args.method.replace("_", "-"), METHODS)
    task = run_task(args.run, "explain")
    method_name = (args.method or "").replace("_", "-")
    if task != "classification":
        if method_name in MODEL_VIEWS and task != "embedding":
            run = load_run(args.run)
            run.model.to(args.device)
            return _view(run, args)
        return explain_task(args, task)
    if args.region is not None:
        raise ConfigError(
            "--region explains a segmentation run's class over a rectangle; this is a "
            "classification run. Drop --region (--target picks the class)."
        )
    if args.target_class is not None:
        args.target = [*(args.target or []), args.target_class]
    run = load_run(args.run)
    run.model.to(args.device)
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}.")
    if args.evaluate:
        return _evaluate(run, args)
    if args.shape_bias is not None:
        return _shape_bias(run, args)
    if args.method is None:
        raise ConfigError(
            f"Pass --method (one of {', '.join(METHODS)}), --evaluate or --shape-bias FOLDER."
        )
    method = check_choice("explanation method", args.method.replace("_", "-"), METHODS)
    if method in VIEWS:
        return _view(run, args)
    if method == "class-model":
        return _class_model(run, args)
    if method == "style-transfer":
        return _style_transfer(run, args)
    if not args.images:
        raise ConfigError(
            f"--method {method} explains image files: give them after the run directory, "
            f"e.g. cnnlab explain {args.run} cat.png --method {method}."
        )
    return _attribute(run, args, method)


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


def _single_target(args: argparse.Namespace, method: str) -> str | None:
    if args.target and len(args.target) > 1:
        raise ConfigError(
            f"--method {method} explains one class per call; give one --target, got "
            f"{' '.join(args.target)}."
        )
    return args.target[0] if args.target else None


def _steps(args: argparse.Namespace) -> dict[str, int]:
    """``steps=`` for a synthesis method when --steps is given (else the method's default)."""
    if args.steps is None:
        return {}
    return {"steps": int(check_positive("--steps", args.steps))}


def _dataset_images(run: Run, args: argparse.Namespace, limit: int) -> torch.Tensor:
    """Up to ``limit`` images of the chosen split (a fixed draw over all of it), fitted to the
    model input."""
    split = run.load_split(args.split, dataset=args.dataset, data_dir=args.data_dir, limit=limit)
    return torch.cat(
        [
            fit_to_input(x, run.input_shape)
            for x, _ in make_loader(split.images, 256, shuffle=False, device=args.device)
        ]
    )


def _attribute(run: Run, args: argparse.Namespace, method: str) -> int:

    x = load_files(run, args.images, args.device)
    probs = run.predict_proba(x)
    chosen = _parse_target(_single_target(args, method), run.classes)
    target = probs.argmax(1).clone() if chosen is None else torch.full((len(x),), chosen)
    if args.layer and method not in LAYER_METHODS:
        raise ConfigError(
            f"--layer applies to {', '.join(sorted(LAYER_METHODS))}, not to {method}."
        )
    options = {"layer": args.layer} if args.layer else {}
    attributions = get_method(method)(run.model, x, target.to(args.device), **options)
    note = same_as_gradient_note(run.model, x[:1], method)
    if note:
        print(note)
    layer = ""
    if method in LAYER_METHODS:
        layer = f" at {args.layer or last_spatial_layer(run.model, x)}"
    for i, path in enumerate(args.images):
        c = int(target[i])
        title = f"{method}{layer}: class {run.classes[c]} (p = {float(probs[i, c]):.3f})"
        if note:
            title += "\n= the plain gradient: this model has no ReLU"
        fig = plot_attributions(x[i : i + 1], attributions[i : i + 1], [title])
        save_explanation(fig, run, f"{method}_{Path(path).stem}")
    return 0


def _view(run: Run, args: argparse.Namespace) -> int:

    model = run.model
    if args.method == "filters":
        save_explanation(plot_filters(features.first_layer_filters(model)), run, "filters")
        return 0
    if args.method == "activations":
        x = (
            load_files(run, args.images[:1], args.device)
            if args.images
            else _dataset_images(run, args, 1)
        )
        layers = [args.layer] if args.layer else None
        save_explanation(
            plot_activations(features.layer_activations(model, x, layers)), run, "activations"
        )
        return 0
    limit = args.limit or DEFAULT_LIMIT[args.method]
    images = _dataset_images(run, args, limit)
    if args.method == "patches":
        layer = args.layer or last_spatial_layer(model, images)
        channels = features.layer_activations(model, images[:1], [layer])[layer].shape[1]
        units = args.unit or list(range(min(UNITS, channels)))
        found = features.max_activating_patches(model, images, layer, units)
        save_explanation(plot_patches(found), run, f"patches_{layer}")
    elif args.method == "neighbours":
        queries = load_files(run, args.images, args.device) if args.images else images[:QUERIES]
        database = images if args.images else images[QUERIES:]
        index, _ = features.nearest_neighbours(
            features.codes(model, queries), features.codes(model, database), NEIGHBOURS
        )
        save_explanation(plot_neighbours(queries, database, index), run, "neighbours")
    else:
        points = features.tsne_embedding(features.codes(model, images))
        save_explanation(plot_tsne(points, images), run, "tsne")
    return 0


def _evaluate(run: Run, args: argparse.Namespace) -> int:

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


def _class_model(run: Run, args: argparse.Namespace) -> int:
    """One image per target class, optimized from mid-grey (Simonyan et al. 2014)."""
    if args.target:
        targets = [_parse_target(text, run.classes) for text in args.target]
    else:
        targets = list(range(len(run.classes)))
    start = torch.full((len(targets), *run.input_shape), 0.5, device=args.device)
    images = class_model_visualization(
        run.model, start, torch.tensor(targets, device=args.device), **_steps(args)
    )
    probs = run.predict_proba(images)
    titles = [f"{run.classes[c]}\np = {float(probs[i, c]):.3f}" for i, c in enumerate(targets)]
    names = [run.classes[c] for c in targets] if args.target else []
    save_explanation(image_grid(images.cpu(), titles), run, "_".join(["class-model", *names]))
    return 0


def _load_scaled(path: str, size: int, device: str) -> torch.Tensor:
    """An image file as an RGB (1, 3, H, W) batch in [0, 1] whose long side is ``size``."""
    image = read_image(path, 3)
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    shape = (round(height * scale), round(width * scale))
    if min(shape) < STYLE_MIN_SIDE:
        raise ConfigError(
            f"{path} becomes {shape[0]}x{shape[1]} pixels at --size {size}, but VGG-19 needs "
            f"at least {STYLE_MIN_SIDE} on each side (it pools four times before relu5_1); "
            "raise --size."
        )
    return resize(image, shape).float().div(255)[None].to(device)


def _style_transfer(run: Run, args: argparse.Namespace) -> int:
    """Each content image in the style of --style (Gatys et al. 2016), VGG-19 features."""
    if args.style is None:
        raise ConfigError(
            "--method style-transfer needs a style image: add --style PAINTING.png "
            f"(e.g. cnnlab explain {args.run} photo.png --method style-transfer --style "
            "painting.png)."
        )
    if not args.images:
        raise ConfigError(
            "--method style-transfer needs content image files after the run directory, "
            f"e.g. cnnlab explain {args.run} photo.png --method style-transfer --style "
            f"{args.style}."
        )
    style = _load_scaled(args.style, args.size, args.device)
    contents = [_load_scaled(path, args.size, args.device) for path in args.images]
    if args.vgg_weights is None:
        print(
            "cnnlab explain: warning: no --vgg-weights, so VGG-19 keeps random weights and the "
            "result is meaningless (style transfer needs ImageNet-trained features). Nothing "
            "is downloaded: pass torchvision's vgg19-dcbb9e9d.pth with --vgg-weights FILE.",
            file=sys.stderr,
        )
    extractor = vgg19_features(args.vgg_weights).to(args.device)
    for path, content in zip(args.images, contents, strict=True):
        result = style_transfer(content, style, extractor, **_steps(args))
        figure = plot_style_transfer(content[0], style[0], result[0])
        save_explanation(figure, run, f"style-transfer_{Path(path).stem}_{Path(args.style).stem}")
    return 0


def _shape_bias(run: Run, args: argparse.Namespace) -> int:
    """Cue-conflict shape bias (Geirhos et al. 2019), printed and merged into metrics.json."""
    images, shapes, textures = load_cue_conflict(args.shape_bias, run.classes, run.input_shape)
    result = shape_bias(run.model, images.to(args.device), shapes, textures)
    metrics: dict[str, Any] = {**dataclasses.asdict(result), "folder": str(args.shape_bias)}
    if math.isnan(result.shape_bias):  # no decision for shape or texture: JSON has no NaN
        metrics["shape_bias"] = None
    update_metrics(run.path, ("shape_bias",), metrics)
    print(f"shape bias:       {result.shape_bias:.4f}  (shape / (shape + texture decisions))")
    print(f"shape fraction:   {result.shape_fraction:.4f}")
    print(f"texture fraction: {result.texture_fraction:.4f}")
    print(f"images:           {result.images}  (shape and texture classes differ)")
    print(f"metrics: {run.path / METRICS} (shape_bias)")
    return 0
