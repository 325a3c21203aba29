"""``cnnlab explain`` on runs of tasks other than classification.

* segmentation: Seg-Grad-CAM (`cnnlab.explain.segmentation`) with
  ``--method grad-cam`` or ``grad-cam++``, and the gradient attributions on the
  same score: class ``--target-class`` summed over ``--region x0,y0,x1,y1`` (in
  the model input's pixels, x1 and y1 exclusive) or over the pixels predicted as
  that class;
* embedding: the attributions of the similarity to a gallery identity
  (`cnnlab.explain.embedding`), ``--target IDENTITY`` or the nearest one;
* every task but embedding: the model views ``--method filters`` and ``activations``.

Everything else is refused with a ConfigError naming the task and what works.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from cnnlab.cli.explain_io import load_files, save_explanation
from cnnlab.errors import ConfigError
from cnnlab.explain.context import last_spatial_layer
from cnnlab.explain.embedding import identity_score
from cnnlab.explain.methods import get_method
from cnnlab.explain.segmentation import RegionScore, bottleneck_layer, region_mask
from cnnlab.report.explain_figures import plot_attributions
from cnnlab.runs import load_run
from cnnlab.runs.gallery import load_gallery
from cnnlab.runs.run import IMAGE_TASKS
from cnnlab.tasks.embedding_run import load_embedding_run

#: Attribution methods that take a score callable and need no global average pooling.
DENSE_METHODS = ("grad-cam", "grad-cam++", "saliency", "integrated-gradients", "smoothgrad")
CAM_METHODS = ("grad-cam", "grad-cam++")
MODEL_VIEWS = ("filters", "activations")


def works_on(task: str) -> str:
    """What ``cnnlab explain`` does on a run of ``task`` (for messages)."""
    if task == "segmentation":
        return (
            f"--method {'|'.join(DENSE_METHODS)} with --target-class C [--region x0,y0,x1,y1] "
            f"(Seg-Grad-CAM), and --method {'|'.join(MODEL_VIEWS)}"
        )
    if task == "embedding":
        methods = "|".join(DENSE_METHODS)
        return f"--method {methods} [--target IDENTITY] (similarity to a gallery identity)"
    return f"--method {'|'.join(MODEL_VIEWS)} (the model's filters and activations)"


def _refuse(task: str, what: str, why: str) -> ConfigError:
    return ConfigError(f"{what} is not available on a {task} run: {why} Use {works_on(task)}.")


def explain_task(args: argparse.Namespace, task: str) -> int:
    """Route ``cnnlab explain`` for a ``task`` run (not classification; the model views are
    `cnnlab.cli.explain`'s)."""
    if args.evaluate or args.shape_bias is not None:
        what = "--evaluate" if args.evaluate else "--shape-bias"
        raise _refuse(task, what, "it measures a classifier's decisions.")
    if args.method is None:
        raise ConfigError(f"Pass --method: on a {task} run explain offers {works_on(task)}.")
    method = args.method.replace("_", "-")
    if task == "segmentation" and method in DENSE_METHODS:
        return _segmentation(args, method)
    if task == "embedding" and method in DENSE_METHODS:
        return _embedding(args, method)
    if task in IMAGE_TASKS:
        why = "the model restores images and has no class score to attribute."
    elif task == "detection":
        why = (
            "a detector's scores come after box decoding and non-maximum suppression, and "
            "attributing them is not implemented (see the boxes with cnnlab predict RUN IMAGE)."
        )
    else:
        why = "it needs a classifier's global-pooled class scores or a data set of classes."
    raise _refuse(task, f"--method {method}", why)


def parse_region(text: str | None) -> tuple[int, int, int, int] | None:
    """``"x0,y0,x1,y1"`` as four integers (None stays None)."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ConfigError(
            f"--region {text!r}: give four integers x0,y0,x1,y1 in the model input's pixels "
            "(x1 and y1 exclusive), e.g. --region 8,8,40,40."
        )
    x0, y0, x1, y1 = (int(p) for p in parts)
    return x0, y0, x1, y1


def _class_index(text: str | None, classes: list[str], predicted: torch.Tensor) -> int:
    """--target-class as an index; by default the class other than the first (background)
    that the model predicts on most pixels of the images."""
    if text is None:
        counts = torch.bincount(predicted.flatten(), minlength=len(classes))
        counts[0] = -1 if len(classes) > 1 else counts[0]
        return int(counts.argmax())
    if text in classes:
        return classes.index(text)
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise ConfigError(
        f"--target-class {text!r} is neither a class index 0..{len(classes) - 1} nor a class "
        f"of this run ({', '.join(classes)})."
    )


def _images(args: argparse.Namespace, method: str) -> None:
    if not args.images:
        raise ConfigError(
            f"--method {method} explains image files: give them after the run directory, "
            f"e.g. cnnlab explain {args.run} image.png --method {method}."
        )


def _layer_options(
    args: argparse.Namespace, method: str, default_layer: Callable[[], str]
) -> tuple[dict[str, str], str]:
    """The CAM methods' ``layer`` option (``--layer``, else ``default_layer()``) and the
    figure title's " at LAYER"; ``--layer`` on any other method is refused."""
    if method in CAM_METHODS:
        layer = args.layer or default_layer()
        return {"layer": layer}, f" at {layer}"
    if args.layer:
        raise ConfigError(f"--layer applies to {', '.join(CAM_METHODS)}, not to {method}.")
    return {}, ""


def _segmentation(args: argparse.Namespace, method: str) -> int:
    """Seg-Grad-CAM (or a gradient method) of one class over a region, per image file."""
    _images(args, method)
    run = load_run(args.run)
    run.model.to(args.device)
    x = load_files(run, args.images, args.device)
    with torch.no_grad():
        predicted = run.model(x).argmax(1)
    text = args.target_class or (args.target[0] if args.target else None)
    index = _class_index(text, run.classes, predicted)
    region = parse_region(args.region)
    mask = predicted == index if region is None else region_mask(region, run.input_shape[1:])
    options, where = _layer_options(args, method, lambda: bottleneck_layer(run.model, x))
    maps = get_method(method)(run.model, x, RegionScore(index, mask.to(args.device)), **options)
    name = run.classes[index]
    for i, path in enumerate(args.images):
        pixels = int((mask if region is not None else mask[i]).sum())
        over = f"region {','.join(map(str, region))}" if region else "its predicted pixels"
        if pixels == 0:
            print(
                f"{path}: no pixel is predicted as {name}, so the map is zero; pass "
                "--region x0,y0,x1,y1 to explain the class over a rectangle."
            )
        title = f"seg-{method}{where}: class {name} over {over} ({pixels} px)"
        figure = plot_attributions(x[i : i + 1], maps[i : i + 1], [title])
        save_explanation(figure, run, f"seg-{method}_{name}_{Path(path).stem}")
    return 0


def _embedding(args: argparse.Namespace, method: str) -> int:
    """The attribution of the similarity to an enrolled identity, per image file."""
    _images(args, method)
    if args.region is not None or args.target_class is not None:
        raise ConfigError(
            "--region and --target-class explain segmentation runs; on an embedding run pass "
            "--target IDENTITY (an enrolled identity; default the nearest)."
        )
    run = load_embedding_run(args.run)
    run.model.to(args.device)
    gallery = load_gallery(run.path, run.meta["weights_sha256"])
    x = load_files(run, args.images, args.device)
    with torch.no_grad():
        nearest = gallery.nearest(run.model.eval()(x).cpu(), k=1)
    options, where = _layer_options(args, method, lambda: last_spatial_layer(run.model, x))
    if args.target and len(args.target) > 1:
        raise ConfigError(f"Explain one identity per call; got --target {' '.join(args.target)}.")
    for i, path in enumerate(args.images):
        identity = args.target[0] if args.target else nearest[i][0][0]
        score = identity_score(gallery, identity)
        attribution = get_method(method)(run.model, x[i : i + 1], score, **options)
        with torch.no_grad():
            similarity = float(score(run.model(x[i : i + 1]))[0])
        title = f"{method}{where}: similarity to {identity} (cos {similarity:.3f})"
        figure = plot_attributions(x[i : i + 1], attribution, [title])
        save_explanation(figure, run, f"{method}_{identity}_{Path(path).stem}")
    return 0
